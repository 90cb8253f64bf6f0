import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { type ClusterContext, DOCUMENTS, STEP_NAMES, type StepName, buildCommand, clusterContextSchema, secretRefSchema } from '../../functions/core/commands.js';
import { type PatternedParameter, parameterPattern } from '../../functions/core/parameter-patterns.js';
import { MINIMUM_SSM_AGENT_VERSION } from '../../functions/core/preflight.js';

const require = createRequire(import.meta.url);
const render = require('../../ssm-documents/render.cjs') as {
  documentDigest(): string;
  documentNames(): string[];
  renderDocument(name: string): {
    parameters: Record<string, { allowedPattern?: string; allowedValues?: string[]; default?: string; interpolationType?: string }>;
    mainSteps: { inputs: { runCommand: string[] } }[];
  };
  documentResources(stage: string): Record<string, { Properties: { Name: string; Content: unknown } }>;
  PATTERNS: Record<string, string>;
  MINIMUM_AGENT_VERSION: string;
};
const runbook = JSON.parse(readFileSync(new URL('../../examples/runbook-input.json', import.meta.url), 'utf8')) as { nodeProfiles: unknown; externalServices: unknown };
const schema = JSON.parse(readFileSync(new URL('../../ssm-documents/schema/command-2.2.schema.json', import.meta.url), 'utf8')) as object;
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

const cluster: ClusterContext = {
  clusterName: 'prod-eu', kubernetesVersion: '1.36.4', podCidr: '192.168.0.0/16', serviceCidr: '10.96.0.0/12', cniVersion: 'v3.31.3',
  loadBalancerPort: 6443, elasticIpAllocationId: 'eipalloc-0abc12345def67890', stepTimeoutMinutes: 30, endpoint: 'k8s.example.com:6443',
  certSans: ['203.0.113.10', 'k8s.example.com', '10.0.0.5'], masterIps: ['10.0.0.11', '10.0.16.11', '10.0.32.11'], loadBalancerIps: ['10.0.0.5', '10.0.16.5'], workerCount: 3,
  // The runbook's six volumes and services, so the Mounts and Endpoints parameters are tested full, not `none`.
  nodeProfiles: runbook.nodeProfiles as ClusterContext['nodeProfiles'], externalServices: runbook.externalServices as ClusterContext['externalServices'],
};
const joinMaterial = { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kubeha/ci/prod-eu/control-plane-join-AbCdEf', versionId: 'EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE' };

function commandFor(step: StepName) {
  return buildCommand(
    { step, instanceIds: ['i-0123456789abcdef0'], cluster, role: step === 'apply-node-profile' ? 'worker' : 'master', access: { user: 'alice', group: 'app-team', clusterRole: 'view', validityHours: 8, secretName: 'kubeha/ci/prod-eu/users/alice' }, joinMaterial, caCertHash: `sha256:${'ab'.repeat(32)}`, memberPeerIp: '10.0.32.11', snapshotLabel: 'heal-i-0123456789abcdef0-20261124T090000Z', drillId: 'drill-20261124-090000', encryptionKeysVersionId: 'EXAMPLE2-90ab-cdef-fedc-ba987EXAMPLE', renewWithinDays: 30 },
    { documentPrefix: 'kubeha-prod-', region: 'eu-west-1', snapshotBucket: 'kubeha-prod-etcd-snapshots-123456789012' },
  );
}

describe('SSM documents', () => {
  it('has one document for every step kubeha runs', () => {
    expect(render.documentNames()).toEqual(Object.values(DOCUMENTS).sort());
  });

  it.each(render.documentNames())('%s passes our JSON Schema for Command 2.2 and fits the 64 KB limit', (name) => {
    const document = render.renderDocument(name);
    const valid = validate(document);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    expect(JSON.stringify(document).length).toBeLessThan(64 * 1024);
  });

  it.each(STEP_NAMES)('the parameters kubeha sends for %s are exactly the ones the document declares, and pass its patterns', (step) => {
    const command = commandFor(step);
    const document = render.renderDocument(DOCUMENTS[step]);
    const required = Object.entries(document.parameters).filter(([, definition]) => definition.default === undefined).map(([name]) => name);
    expect(Object.keys(command.parameters).sort()).toEqual(expect.arrayContaining(required.sort()));
    for (const [name, value] of Object.entries(command.parameters)) {
      const definition = document.parameters[name];
      expect(definition, `${DOCUMENTS[step]} does not declare ${name}`).toBeDefined();
      if (definition?.allowedPattern) expect(value).toMatch(new RegExp(definition.allowedPattern));
      if (definition?.allowedValues) expect(definition.allowedValues).toContain(value);
    }
  });

  it('allows no quote, space or shell metacharacter in any parameter, since values are exported into the environment', () => {
    for (const name of render.documentNames()) {
      for (const [parameter, definition] of Object.entries(render.renderDocument(name).parameters)) {
        const pattern = new RegExp(definition.allowedPattern ?? '^$');
        for (const hostile of ["x'; rm -rf /;'", 'a b', '$(id)', '`id`', 'x\ny']) {
          expect(pattern.test(hostile), `${name}.${parameter} accepts ${JSON.stringify(hostile)}`).toBe(false);
        }
        if (!definition.allowedPattern) expect(definition.allowedValues, `${name}.${parameter}`).toBeDefined();
      }
    }
  });

  it('inlines the shared library and runs the script with bash, taking each parameter from its SSM_ variable', () => {
    const lines = render.renderDocument('JoinControlPlane').mainSteps[0]!.inputs.runCommand;
    expect(lines).toContain('export KUBEHA_CA_CERT_HASH="$SSM_CaCertHash"');
    expect(lines).toContain(': "${SSM_CaCertHash?is not set: kubeha documents need SSM Agent 3.3.2746.0 or later (interpolationType ENV_VAR)}"');
    expect(lines).toContain("export KUBEHA_JOIN_AS='control-plane'");
    expect(lines).toContain('bash "$kubeha_script" || kubeha_status=$?');
    expect(lines.some((line) => line.startsWith('read_join_material() {'))).toBe(true);
    expect(lines.some((line) => line.includes('lib/common.sh")'))).toBe(false);
  });

  it('names every document after the stage and the digest of the document set, as KUBEHA_DOCUMENT_PREFIX and _SUFFIX expect', () => {
    const names = Object.values(render.documentResources('prod')).map((resource) => resource.Properties.Name);
    expect(render.documentDigest()).toMatch(/^[0-9a-f]{10}$/);
    expect(names.sort()).toEqual(Object.values(DOCUMENTS).map((name) => `kubeha-prod-${name}-${render.documentDigest()}`).sort());
  });
});

/**
 * What the SSM agent does with a command: it pastes each {{ Parameter }} into the document's text and,
 * for a parameter declared with interpolationType ENV_VAR (agent 3.3.2746.0+), also sets SSM_<Parameter>;
 * then /bin/sh runs the runCommand lines. PATH stubs stand in for the tools the script would call.
 */
function runAsAgent(lines: string[], parameters: Record<string, string>, definitions: Record<string, { interpolationType?: string }>, agentHonoursEnvVar: boolean) {
  const directory = mkdtempSync(join(tmpdir(), 'kubeha-agent-'));
  const bin = join(directory, 'bin');
  spawnSync('mkdir', ['-p', bin]);
  for (const tool of ['systemctl', 'nginx']) {
    writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >>'${directory}/calls'\nexit 0\n`, { mode: 0o755 });
  }
  let text = lines.join('\n');
  for (const [name, value] of Object.entries(parameters)) text = text.replaceAll(`{{ ${name} }}`, value).replaceAll(`{{${name}}}`, value);
  writeFileSync(join(directory, 'command.sh'), text);
  const env: Record<string, string> = { PATH: `${bin}:/usr/bin:/bin`, KUBEHA_ROOT: directory, HOME: directory, PWNED: join(directory, 'pwned') };
  if (agentHonoursEnvVar) {
    for (const [name, value] of Object.entries(parameters)) if (definitions[name]?.interpolationType === 'ENV_VAR') env[`SSM_${name}`] = value;
  }
  const child = spawnSync('sh', [join(directory, 'command.sh')], { encoding: 'utf8', env, cwd: directory, timeout: 20_000 });
  const outcome = {
    status: child.status,
    stderr: child.stderr,
    injected: existsSync(join(directory, 'pwned')),
    toolsCalled: existsSync(join(directory, 'calls')) ? readFileSync(join(directory, 'calls'), 'utf8') : '',
  };
  rmSync(directory, { recursive: true, force: true });
  return outcome;
}

describe('parameter injection', () => {
  const HOSTILE = ["6443'; touch \"$PWNED\"; echo '", '6443$(touch "$PWNED")', '6443`touch "$PWNED"`', '6443; touch "$PWNED"'];

  it('declares every parameter a script reads with interpolationType ENV_VAR and leaves no {{ }} in any script line', () => {
    for (const name of render.documentNames()) {
      const document = render.renderDocument(name);
      const scriptLines = document.mainSteps.flatMap((step) => step.inputs.runCommand);
      expect(scriptLines.filter((line) => line.includes('{{')), name).toEqual([]);
      for (const [parameter, definition] of Object.entries(document.parameters)) {
        const read = scriptLines.some((line) => line.includes(`$SSM_${parameter}"`));
        expect(definition.interpolationType === 'ENV_VAR', `${name}.${parameter}`).toBe(read);
        if (parameter !== 'ExecutionTimeout') expect(read, `${name}.${parameter} is read by the script`).toBe(true);
      }
    }
  });

  it('names the same minimum SSM Agent version in the documents as preflight checks', () => {
    expect(render.MINIMUM_AGENT_VERSION).toBe(MINIMUM_SSM_AGENT_VERSION);
  });

  it('stops before the script runs when the agent does not set SSM_<Parameter> (agents before 3.3.2746.0)', () => {
    const document = render.renderDocument('CheckLoadBalancer');

    const run = runAsAgent(document.mainSteps[0]!.inputs.runCommand, { ListenPort: '6443', ExecutionTimeout: '600' }, document.parameters, false);

    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('SSM_ListenPort');
    expect(run.stderr).toContain('need SSM Agent 3.3.2746.0 or later');
    expect(run.toolsCalled).toBe('');
  });

  it.each(HOSTILE)('hands %j to the script only as data when it slips past the document pattern, and the script refuses it', (hostile) => {
    // Prepare: the wall that failed is the allowedPattern; the value reaches the agent.
    const document = render.renderDocument('CheckLoadBalancer');

    // Act
    const run = runAsAgent(document.mainSteps[0]!.inputs.runCommand, { ListenPort: hostile, ExecutionTimeout: '600' }, document.parameters, true);

    // Assess
    expect(run.injected).toBe(false);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('KUBEHA_LISTEN_PORT must be a port number');
  });

  it('would have run a quote-breaking value pasted into the script text, the way documents used to take parameters', () => {
    const document = render.renderDocument('CheckLoadBalancer');
    const pasted = document.mainSteps[0]!.inputs.runCommand.map((line) => (line.startsWith('export KUBEHA_LISTEN_PORT=') ? "export KUBEHA_LISTEN_PORT='{{ ListenPort }}'" : line));

    const run = runAsAgent(pasted, { ListenPort: HOSTILE[0]!, ExecutionTimeout: '600' }, document.parameters, true);

    expect(run.injected).toBe(true);
  });

  it('refuses, in the document, every hostile value that got past the Lambda side', () => {
    for (const name of render.documentNames()) {
      for (const [parameter, definition] of Object.entries(render.renderDocument(name).parameters)) {
        if (!definition.allowedPattern) continue;
        for (const hostile of [...HOSTILE, "demo'; id > /tmp/x; echo '"]) expect(new RegExp(definition.allowedPattern).test(hostile), `${name}.${parameter}`).toBe(false);
      }
    }
  });

  it('refuses, on the Lambda side, with the very patterns the documents declare, what the documents would refuse', () => {
    // Prepare
    const declared = new Map<string, string>();
    for (const name of render.documentNames()) {
      for (const [parameter, definition] of Object.entries(render.renderDocument(name).parameters)) {
        if (definition.allowedPattern) declared.set(parameter, definition.allowedPattern);
      }
    }

    // Act
    const hostileContexts = {
      clusterName: { ...cluster, clusterName: "demo'; id > /tmp/x; echo '" },
      endpoint: { ...cluster, endpoint: 'k8s.example.com:6443; id' },
      certSans: { ...cluster, certSans: ['k8s.example.com', '$(id)'] },
      masterIps: { ...cluster, masterIps: ['10.0.0.11', "10.0.16.11'"] },
      kubernetesVersion: { ...cluster, kubernetesVersion: '1.36.4 && id' },
    };
    const results = Object.fromEntries(Object.entries(hostileContexts).map(([field, context]) => [field, clusterContextSchema.safeParse(context)]));

    // Assess
    for (const [parameter, pattern] of declared) expect(parameterPattern(parameter as PatternedParameter).source, parameter).toBe(new RegExp(pattern).source);
    expect(clusterContextSchema.safeParse(cluster).success).toBe(true);
    for (const [field, result] of Object.entries(results)) {
      expect(result.success, field).toBe(false);
      expect(result.error?.issues[0]?.path, field).toEqual(expect.arrayContaining([field]));
    }
    expect(secretRefSchema.safeParse({ ...joinMaterial, secretArn: `${joinMaterial.secretArn}'; id; echo '` }).success).toBe(false);
    expect(secretRefSchema.safeParse({ ...joinMaterial, versionId: 'EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE $(id)' }).success).toBe(false);
  });
});
