import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { type ClusterContext, DOCUMENTS, STEP_NAMES, type StepName, buildCommand } from '../../functions/core/commands.js';

const require = createRequire(import.meta.url);
const render = require('../../ssm-documents/render.cjs') as {
  documentNames(): string[];
  renderDocument(name: string): { parameters: Record<string, { allowedPattern?: string; allowedValues?: string[]; default?: string }>; mainSteps: { inputs: { runCommand: string[] } }[] };
  documentResources(stage: string): Record<string, { Properties: { Name: string; Content: unknown } }>;
};
const schema = JSON.parse(readFileSync(new URL('../../ssm-documents/schema/command-2.2.schema.json', import.meta.url), 'utf8')) as object;
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

const cluster: ClusterContext = {
  clusterName: 'prod-eu', kubernetesVersion: '1.36.4', podCidr: '192.168.0.0/16', serviceCidr: '10.96.0.0/12', cniVersion: 'v3.31.3',
  loadBalancerPort: 6443, elasticIpAllocationId: 'eipalloc-0abc12345def67890', stepTimeoutMinutes: 30, endpoint: 'k8s.example.com:6443',
  certSans: ['203.0.113.10', 'k8s.example.com', '10.0.0.5'], masterIps: ['10.0.0.11', '10.0.16.11', '10.0.32.11'], loadBalancerIps: ['10.0.0.5', '10.0.16.5'], workerCount: 3,
};
const joinMaterial = { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kubeha/ci/prod-eu/join-material-AbCdEf', versionId: 'EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE' };

function commandFor(step: StepName) {
  return buildCommand(
    { step, instanceIds: ['i-0123456789abcdef0'], cluster, role: 'master', joinMaterial, caCertHash: `sha256:${'ab'.repeat(32)}`, memberPeerIp: '10.0.32.11', snapshotLabel: 'heal-i-0123456789abcdef0-20261124T090000Z', drillId: 'drill-20261124-090000' },
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

  it('inlines the shared library and runs the script with bash, exporting each parameter', () => {
    const lines = render.renderDocument('JoinControlPlane').mainSteps[0]!.inputs.runCommand;
    expect(lines).toContain("export KUBEHA_CA_CERT_HASH='{{ CaCertHash }}'");
    expect(lines).toContain("export KUBEHA_JOIN_AS='control-plane'");
    expect(lines).toContain('bash "$kubeha_script" || kubeha_status=$?');
    expect(lines.some((line) => line.startsWith('read_join_material() {'))).toBe(true);
    expect(lines.some((line) => line.includes('lib/common.sh")'))).toBe(false);
  });

  it('names every document after the stage, as KUBEHA_DOCUMENT_PREFIX expects', () => {
    const names = Object.values(render.documentResources('prod')).map((resource) => resource.Properties.Name);
    expect(names.sort()).toEqual(Object.values(DOCUMENTS).map((name) => `kubeha-prod-${name}`).sort());
  });
});
