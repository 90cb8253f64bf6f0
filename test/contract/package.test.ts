import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCUMENTS } from '../../functions/core/commands.js';
import { handlers } from '../../functions/registry.js';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}
interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}

const require = createRequire(import.meta.url);
const cfnspec = require('@aws-cdk/cfnspec') as {
  specification(): { ResourceTypes: Record<string, { Properties: Record<string, { Required?: boolean }> }> };
};
const READ_ONLY = /^[a-z0-9-]+:(Describe|List|Get)[A-Za-z]*$/;
let directory: string;
let resources: Record<string, Resource>;

function statementsOf(resource: Resource): Statement[] {
  const policies = (resource.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[] | undefined) ?? [];
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

function ofType(type: string): [string, Resource][] {
  return Object.entries(resources).filter(([, resource]) => resource.Type === type);
}

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'kubeha-package-'));
  execFileSync('npx', ['sls', 'package', '--stage', 'ci', '--region', 'eu-west-1', '--param', 'clusters=demo,prod-eu', '--package', directory], {
    cwd: new URL('../..', import.meta.url).pathname,
    stdio: 'pipe',
    env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', SLS_TELEMETRY_DISABLED: '1' },
  });
  resources = (JSON.parse(readFileSync(join(directory, 'cloudformation-template-update-stack.json'), 'utf8')) as { Resources: Record<string, Resource> }).Resources;
}, 180_000);

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('sls package', () => {
  it('uses only resource types and properties that CloudFormation knows, with every required property set', () => {
    const spec = cfnspec.specification().ResourceTypes;
    for (const [id, resource] of Object.entries(resources)) {
      const type = spec[resource.Type];
      expect(type, `${id} has unknown type ${resource.Type}`).toBeDefined();
      for (const property of Object.keys(resource.Properties ?? {})) {
        expect(Object.keys(type!.Properties), `${id} (${resource.Type}) has unknown property ${property}`).toContain(property);
      }
      for (const [property, definition] of Object.entries(type!.Properties)) {
        if (definition.Required) expect(resource.Properties, `${id} lacks required ${property}`).toHaveProperty(property);
      }
    }
  });

  it('packages every function on nodejs22.x with its own role', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions).toHaveLength(Object.keys(handlers).length);
    for (const [, fn] of functions) {
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      expect(fn.Properties.Role).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/Role$/), 'Arn'] });
    }
  });

  it('holds the bootstrap and healing state machines, with an alarm on failed heals that notifies the alerts topic', () => {
    expect(ofType('AWS::StepFunctions::StateMachine').map(([id]) => id).sort()).toEqual([
      'BootstrapClusterStateMachine',
      'DrillClusterStateMachine',
      'HealLoadBalancerStateMachine',
      'HealMasterStateMachine',
      'HealWorkerStateMachine',
    ]);
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
    expect(alarms.map((alarm) => (alarm.Dimensions as { Value: { Ref: string } }[])[0]!.Value.Ref).sort()).toEqual([
      'HealLoadBalancerStateMachine',
      'HealMasterStateMachine',
      'HealWorkerStateMachine',
    ]);
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: 'AlertsTopic' }]);
  });

  it('routes EC2 state changes that need healing to the event handler, and runs reconcile every 5 minutes', () => {
    const rules = ofType('AWS::Events::Rule').map(([, rule]) => rule.Properties);
    expect(rules.map((rule) => rule.ScheduleExpression).filter(Boolean)).toEqual(['rate(5 minutes)']);
    const rule = rules.find((candidate) => candidate.EventPattern)!;
    expect(rule.EventPattern).toEqual({
      source: ['aws.ec2'],
      'detail-type': ['EC2 Instance State-change Notification'],
      detail: { state: ['stopping', 'stopped', 'shutting-down', 'terminated'] },
    });
  });

  it('keeps etcd snapshots in an encrypted, private, TLS-only bucket that expires them', () => {
    const bucket = resources.EtcdSnapshotBucket!.Properties;
    expect(JSON.stringify(bucket.BucketEncryption)).toContain('aws:kms');
    expect(bucket.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(JSON.stringify(bucket.LifecycleConfiguration)).toContain('"ExpirationInDays":30');
    expect(JSON.stringify(resources.EtcdSnapshotBucketPolicy!.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
  });

  it('holds every SSM document, named for the stage', () => {
    const names = ofType('AWS::SSM::Document').map(([, document]) => document.Properties.Name);
    expect(names.sort()).toEqual(Object.values(DOCUMENTS).map((name) => `kubeha-ci-${name}`).sort());
  });

  it('holds the join-material and admin-kubeconfig secrets, and master/worker/lb instance profiles, of each listed cluster', () => {
    const secrets = ofType('AWS::SecretsManager::Secret').map(([, secret]) => secret.Properties.Name);
    expect(secrets.sort()).toEqual(['kubeha/demo/admin-kubeconfig', 'kubeha/demo/join-material', 'kubeha/prod-eu/admin-kubeconfig', 'kubeha/prod-eu/join-material']);
    const profiles = ofType('AWS::IAM::InstanceProfile').map(([, profile]) => profile.Properties.InstanceProfileName);
    expect(profiles).toHaveLength(6);
    expect(profiles).toContain('kubeha-ci-prod-eu-lb');
  });

  it('grants no "*" action and no mutating action on "*" resources, in any role', () => {
    const roles = ofType('AWS::IAM::Role');
    expect(roles.length).toBeGreaterThanOrEqual(9 + 6);
    for (const [id, role] of roles) {
      for (const statement of statementsOf(role)) {
        const actions = ([] as string[]).concat(statement.Action);
        for (const action of actions) {
          expect(action, `${id} grants ${action}`).not.toMatch(/\*/);
          if (statement.Resource === '*' || (Array.isArray(statement.Resource) && statement.Resource.includes('*'))) {
            expect(action, `${id} grants ${action} on *`).toMatch(READ_ONLY);
          }
        }
      }
    }
  });

  it('lets nodes read only their own cluster join secret, and only masters write the kubeconfig', () => {
    const policy = (id: string) => JSON.stringify(statementsOf(resources[id]!));
    expect(policy('ProdEuWorkerNodeRole')).toContain('"Ref":"ProdEuJoinMaterialSecret"');
    expect(policy('ProdEuWorkerNodeRole')).not.toContain('Demo');
    expect(policy('ProdEuWorkerNodeRole')).not.toContain('PutSecretValue');
    expect(policy('ProdEuMasterNodeRole')).toContain('"Ref":"ProdEuAdminKubeconfigSecret"');
    expect(policy('ProdEuLbNodeRole')).toContain('kubernetes.io/cluster/prod-eu');
  });

  it('gives no Lambda function GetSecretValue: only instances ever read a secret value', () => {
    for (const [id, role] of ofType('AWS::IAM::Role')) {
      if (id.endsWith('NodeRole')) continue;
      expect(JSON.stringify(statementsOf(role))).not.toContain('GetSecretValue');
    }
  });
});
