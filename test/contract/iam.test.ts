// The IAM generator (infra/iam.cjs) called directly, for what one packaged template cannot show:
// other cluster lists, configured volume keys, and settings that must be refused.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { type Resource, type Statement, actionsOf, resourcesOf, statementsOf } from './template.js';

const require = createRequire(import.meta.url);
const iam = require('../../infra/iam.cjs') as {
  iamResources(settings: { stage: string; region: string; clusters: string[]; volumeKmsKeyArns?: string[] }): Record<string, Resource>;
  functionStatements(stage: string, clusters: string[], options?: { volumeKmsKeyArns?: string[] }): Record<string, Statement[]>;
  nodeRoleId(cluster: string, role: string): string;
  parseKeyArns(value: string): string[];
};
const variables = require('../../infra/variables.cjs') as (context: { resolveVariable(name: string): Promise<unknown> }) => Promise<Record<string, unknown>>;

const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const kmsStatements = (statements: Statement[]) => statements.filter((statement) => actionsOf(statement).some((action) => action.startsWith('kms:')));

describe('infra/iam.cjs', () => {
  describe('when two clusters differ only by a hyphen', () => {
    it('creates every resource of both, so that neither silently replaces the other', () => {
      // Prepare
      const one = iam.iamResources({ stage: 'ci', region: 'eu-west-1', clusters: ['a-1b'] });

      // Act
      const both = iam.iamResources({ stage: 'ci', region: 'eu-west-1', clusters: ['a-1b', 'a1b'] });

      // Assess
      const perCluster = Object.keys(one).filter((id) => id.includes('NodeRole') || id.includes('NodeInstanceProfile') || id.endsWith('Secret')).length;
      expect(perCluster).toBe(3 + 3 + 4);
      expect(Object.keys(both)).toHaveLength(Object.keys(one).length + perCluster);
      expect(iam.nodeRoleId('a-1b', 'master')).not.toBe(iam.nodeRoleId('a1b', 'master'));
    });
  });

  describe('when volumes are encrypted with customer-managed keys', () => {
    it('lets launchReplacement create grants for EC2 on exactly those keys, only through EC2 in this region', () => {
      // Act
      const statements = kmsStatements(iam.functionStatements('ci', ['demo'], { volumeKmsKeyArns: [KEY] }).launchReplacement!);

      // Assess
      const viaEc2 = { 'kms:ViaService': { 'Fn::Sub': 'ec2.${AWS::Region}.${AWS::URLSuffix}' } };
      expect(statements).toEqual([
        { Effect: 'Allow', Action: ['kms:CreateGrant'], Resource: [KEY], Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' }, StringEquals: viaEc2 } },
        {
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'],
          Resource: [KEY],
          Condition: { StringEquals: viaEc2 },
        },
      ]);
    });

    it('gives no other function any volume key', () => {
      const all = iam.functionStatements('ci', ['demo'], { volumeKmsKeyArns: [KEY] });
      for (const [fn, statements] of Object.entries(all)) {
        // A replacement, a warm standby (reconcile) and an image builder launched on encrypted volumes.
        if (fn === 'launchReplacement' || fn === 'launchImageBuilder' || fn === 'reconcile') continue;
        expect(JSON.stringify(statements), fn).not.toContain(KEY);
      }
    });
  });

  describe('the volumeKmsKeyArns parameter', () => {
    it('takes a comma-separated list of key ARNs in any partition, and nothing when empty', () => {
      expect(iam.parseKeyArns('')).toEqual([]);
      expect(iam.parseKeyArns(` ${KEY} , arn:aws-cn:kms:cn-northwest-1:123456789012:key/abcd `)).toEqual([KEY, 'arn:aws-cn:kms:cn-northwest-1:123456789012:key/abcd']);
    });

    it('refuses an alias, which IAM would never match, naming the parameter', () => {
      expect(() => iam.parseKeyArns('alias/ebs')).toThrow(/volumeKmsKeyArns parameter: "alias\/ebs" is not a KMS key ARN/);
    });
  });

  describe('trust policies', () => {
    it('name EC2 through ${AWS::URLSuffix}, which is ec2.amazonaws.com.cn in China', () => {
      const resources = iam.iamResources({ stage: 'ci', region: 'cn-northwest-1', clusters: ['demo'] });
      const role = resources[iam.nodeRoleId('demo', 'worker')]!;
      expect(role.Properties.RoleName).toBe('kubeha-ci.demo.worker.cn-northwest-1');
      expect(JSON.stringify(role.Properties.AssumeRolePolicyDocument)).toContain('{"Service":{"Fn::Sub":"ec2.${AWS::URLSuffix}"}}');
    });
  });

  describe('node roles', () => {
    it('may read the bucket encryption setting the SSM agent checks before it uploads output, and nothing else of the bucket', () => {
      const resources = iam.iamResources({ stage: 'ci', region: 'eu-west-1', clusters: ['demo'] });
      for (const role of ['master', 'worker', 'lb']) {
        const statements = statementsOf(resources[iam.nodeRoleId('demo', role)]!);
        const bucketWide = statements.filter((statement) => resourcesOf(statement).includes('GetAtt:CommandOutputBucket.Arn'));
        expect(bucketWide.flatMap(actionsOf), role).toEqual(['s3:GetEncryptionConfiguration']);
      }
    });
  });

  describe('with settings AWS would reject', () => {
    it('refuses a stage with capitals before generating anything', () => {
      expect(() => iam.iamResources({ stage: 'Prod', region: 'eu-west-1', clusters: ['demo'] })).toThrow(/stage "Prod" must be lowercase/);
    });
  });
});

describe('infra/variables.cjs', () => {
  const resolve = (values: Record<string, unknown>) => ({ resolveVariable: async (name: string) => values[name] });

  it('spells a one-minute reconcile schedule rate(1 minute), which EventBridge accepts', async () => {
    const values = await variables(resolve({ 'sls:stage': 'ci', 'param:reconcileRateMinutes': 1 }));
    expect(values.reconcileRate).toBe('rate(1 minute)');
  });

  it('names the state machines, topic, key alias, queue and rules for the stage', async () => {
    const values = await variables(resolve({ 'sls:stage': 'ci', 'param:reconcileRateMinutes': 5 }));
    expect(values).toMatchObject({
      documentPrefix: 'kubeha-ci-',
      alertsTopicName: 'kubeha-ci-alerts',
      alertsKeyAlias: 'alias/kubeha-ci-alerts',
      undeliveredQueueName: 'kubeha-ci-undelivered-events',
      ec2StateChangeRuleName: 'kubeha-ci-ec2-state-change',
      reconcileScheduleRuleName: 'kubeha-ci-reconcile-schedule',
      reconcileRate: 'rate(5 minutes)',
      stateMachineNames: { healMaster: 'kubeha-ci-heal-master', healLoadBalancer: 'kubeha-ci-heal-load-balancer' },
    });
  });
});

describe("the node roles' reach over people's kubeconfig secrets", () => {
  it("lets a cluster's masters, and nothing else on its nodes, create, write and delete only that cluster's users' secrets", () => {
    // Prepare: two clusters whose names share a prefix.
    const resources = iam.iamResources({ stage: 'ci', region: 'eu-west-1', clusters: ['prod', 'prod-eu'] });
    const statementsOfRole = (cluster: string, role: string) => statementsOf(resources[iam.nodeRoleId(cluster, role)]!);
    const userSecretStatements = (cluster: string, role: string) => statementsOfRole(cluster, role).filter((statement) => actionsOf(statement).includes('secretsmanager:CreateSecret'));

    // Act
    const [master] = userSecretStatements('prod', 'master');

    // Assess
    expect(actionsOf(master!).sort()).toEqual(['secretsmanager:CreateSecret', 'secretsmanager:DeleteSecret', 'secretsmanager:DescribeSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:TagResource']);
    expect(JSON.stringify(resourcesOf(master!))).toContain(':secret:kubeha/ci/prod/users/*');
    expect(JSON.stringify(resourcesOf(master!))).not.toContain('prod-eu');
    expect(userSecretStatements('prod', 'worker')).toEqual([]);
    expect(userSecretStatements('prod', 'lb')).toEqual([]);
    // Reading a user's kubeconfig is for that user alone: no node role may.
    for (const role of ['master', 'worker', 'lb']) {
      const readers = statementsOfRole('prod', role).filter((statement) => actionsOf(statement).includes('secretsmanager:GetSecretValue'));
      expect(JSON.stringify(readers.map(resourcesOf))).not.toContain('users');
    }
  });
});
