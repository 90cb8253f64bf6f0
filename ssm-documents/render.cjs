// Builds kubeha's SSM Command documents (schemaVersion 2.2) from the templates beside this file:
// parameter definitions are copied from parameters.yaml with their allowedPattern from
// parameter-patterns.json, and each `#kubeha:script NAME` line becomes the script (with the lib/*.sh it
// sources inlined) written to a private temporary file and run with bash, whatever /bin/sh is on the instance.
//
// Parameter values never become script text. A parameter a script reads is declared with
// `interpolationType: ENV_VAR`, so SSM Agent 3.3.2746.0+ passes it as the environment variable
// SSM_<Parameter>; the preamble copies it into the script's KUBEHA_* variable inside double quotes and
// stops, before the script runs, when the agent did not set it (older agents ignore ENV_VAR). The
// allowedPattern stays as a second wall, and the Lambda side checks the same patterns before sending.
//
// infra/documents-plugin.cjs adds documentResources(stage) to the stack at package time; tests call
// the same functions. CommonJS because osls require()s plugins.
'use strict';

const crypto = require('node:crypto');

const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');

const DIRECTORY = __dirname;
const SCRIPTS = path.join(DIRECTORY, 'scripts');
const SOURCE_LINE = /^source "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/lib\/([a-z-]+\.sh)"$/;
const SCRIPT_PLACEHOLDER = /^#kubeha:script ([a-z0-9-]+\.sh)$/;
const HEREDOC_END = 'KUBEHA_SCRIPT_END';
/** The first SSM Agent release that honours interpolationType ENV_VAR. */
const MINIMUM_AGENT_VERSION = '3.3.2746.0';
const PATTERNS = JSON.parse(fs.readFileSync(path.join(DIRECTORY, 'parameter-patterns.json'), 'utf8'));

function documentNames() {
  return fs
    .readdirSync(DIRECTORY)
    .filter((file) => /^[A-Z][A-Za-z]+\.yaml$/.test(file))
    .map((file) => file.replace(/\.yaml$/, ''))
    .sort();
}

/** The script with every library it sources (lib/*.sh) inlined: one self-contained bash program. */
function inlineScript(name) {
  const lines = fs.readFileSync(path.join(SCRIPTS, name), 'utf8').trimEnd().split('\n');
  if (!lines.some((line) => SOURCE_LINE.test(line))) throw new Error(`scripts/${name} does not source lib/common.sh`);
  const body = lines
    .filter((line) => !line.startsWith('# shellcheck source='))
    .flatMap((line) => {
      const match = SOURCE_LINE.exec(line);
      if (!match) return [line];
      const library = fs.readFileSync(path.join(SCRIPTS, 'lib', match[1]), 'utf8').trimEnd();
      return [`# --- lib/${match[1]} ---`, library, `# --- end of lib/${match[1]} ---`];
    });
  const text = body.join('\n');
  if (text.includes('{{')) throw new Error(`scripts/${name} contains "{{", which SSM would treat as a parameter`);
  if (text.split('\n').includes(HEREDOC_END)) throw new Error(`scripts/${name} contains the line ${HEREDOC_END}`);
  return text;
}

/**
 * The runCommand lines: take each parameter from its SSM_ variable (stopping when the agent did not
 * set one), export the document's constants, write the script privately, run it with bash, clean up.
 * The lines run under /bin/sh (dash on Ubuntu), hence POSIX `${VAR?message}`.
 */
function runCommandFor(scriptName, fromParameters, constants) {
  const lines = Object.entries(fromParameters).flatMap(([variable, parameter]) => [
    `: "\${SSM_${parameter}?is not set: kubeha documents need SSM Agent ${MINIMUM_AGENT_VERSION} or later (interpolationType ENV_VAR)}"`,
    `export ${variable}="\$SSM_${parameter}"`,
  ]);
  for (const [variable, value] of Object.entries(constants)) {
    if (!/^[A-Za-z0-9._-]+$/.test(value)) throw new Error(`constant ${variable} must be a plain word, not ${JSON.stringify(value)}`);
    lines.push(`export ${variable}='${value}'`);
  }
  return [
    'set -eu',
    ...lines,
    'kubeha_script="$(umask 077 && mktemp /tmp/kubeha-script.XXXXXX)"',
    `cat >"$kubeha_script" <<'${HEREDOC_END}'`,
    ...inlineScript(scriptName).split('\n'),
    HEREDOC_END,
    'kubeha_status=0',
    'bash "$kubeha_script" || kubeha_status=$?',
    'rm -f "$kubeha_script"',
    'exit "$kubeha_status"',
  ];
}

function renderDocument(name) {
  const shared = YAML.parse(fs.readFileSync(path.join(DIRECTORY, 'parameters.yaml'), 'utf8'));
  const template = YAML.parse(fs.readFileSync(path.join(DIRECTORY, `${name}.yaml`), 'utf8'));
  const parameters = {};
  const fromParameters = {};
  for (const [parameter, variable] of Object.entries(template.kubehaParameters ?? {})) {
    const definition = shared[parameter];
    if (!definition) throw new Error(`${name}.yaml takes ${parameter}, which parameters.yaml does not define`);
    const allowedPattern = PATTERNS[parameter];
    if (!allowedPattern && !definition.allowedValues) throw new Error(`${parameter} has neither a pattern in parameter-patterns.json nor allowedValues`);
    parameters[parameter] = {
      ...definition,
      ...(allowedPattern ? { allowedPattern } : {}),
      ...(variable ? { interpolationType: 'ENV_VAR' } : {}),
    };
    if (variable) fromParameters[variable] = parameter;
  }
  const mainSteps = template.mainSteps.map((step) => {
    if (step.action !== 'aws:runShellScript') return step;
    const runCommand = step.inputs.runCommand.flatMap((line) => {
      const match = SCRIPT_PLACEHOLDER.exec(line);
      return match ? runCommandFor(match[1], fromParameters, template.kubehaEnvironment ?? {}) : [line];
    });
    return { ...step, inputs: { ...step.inputs, runCommand } };
  });
  return { schemaVersion: template.schemaVersion, description: template.description, parameters, mainSteps };
}

function resourceId(name) {
  return `${name}Document`;
}

/** CloudFormation resources for every document of one stage, named `kubeha-<stage>-<Name>`. */
let digest;
/** The digest of the whole rendered document set, which ends every document's name (infra/names.cjs). */
function documentDigest() {
  if (!digest) {
    const hash = crypto.createHash('sha256');
    for (const name of documentNames()) hash.update(`${name}\n${JSON.stringify(renderDocument(name))}\n`);
    digest = hash.digest('hex').slice(0, 10);
  }
  return digest;
}

function documentResources(stage) {
  const resources = {};
  for (const name of documentNames()) {
    resources[resourceId(name)] = {
      Type: 'AWS::SSM::Document',
      Properties: {
        Name: `kubeha-${stage}-${name}-${documentDigest()}`,
        DocumentType: 'Command',
        DocumentFormat: 'JSON',
        UpdateMethod: 'NewVersion',
        Content: renderDocument(name),
        Tags: [{ Key: 'kubeha:managed', Value: 'true' }],
      },
    };
  }
  return resources;
}

module.exports = { documentNames, documentDigest, renderDocument, inlineScript, documentResources, resourceId, MINIMUM_AGENT_VERSION, PATTERNS };
