import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { DOCUMENTS } from '../../functions/core/commands.js';
import { handlers } from '../../functions/registry.js';
import { type Artifact, bytesOf } from '../support/package-artifacts.js';
import { type Resource, type Template, actionsOf, expectValidForCloudFormation, failedPackageOutput, hardCodedPartitions, ofType, packageStack, resourcesOf, statementsOf, substitute } from './template.js';

const require = createRequire(import.meta.url);
const iam = require('../../infra/iam.cjs') as {
  STATE_MACHINES: string[];
  UNSCOPABLE_ACTIONS: string[];
  nodeRoleId(cluster: string, role: string): string;
  secretIds(cluster: string): { workerJoin: string; controlPlaneJoin: string; kubeconfig: string };
};
const names = require('../../infra/names.cjs') as typeof import('../../infra/names.cjs');
const render = require('../../ssm-documents/render.cjs') as { documentNames(): string[]; documentDigest(): string };

const READ_ONLY = /^[a-z0-9-]+:(Describe|List|Get)[A-Za-z]*$/;
const CLUSTERS = ['demo', 'prod-eu'];
let template: Template;
let resources: Record<string, Resource>;

const roleOf = (id: string) => resources[id]!;
const policyOf = (id: string) => statementsOf(roleOf(id));
const grants = (id: string, action: string) => policyOf(id).filter((statement) => actionsOf(statement).includes(action));
const typed = (type: string) => ofType(template, type);

let artifacts: Artifact[];

beforeAll(async () => {
  ({ template, artifacts } = await packageStack(['--stage', 'ci', '--region', 'eu-west-1', '--param', `clusters=${CLUSTERS.join(',')}`]));
  resources = template.Resources;
}, 900_000);

describe('sls package', () => {
  it('uses only resource types and properties that CloudFormation knows, with every required property set', () => {
    expectValidForCloudFormation(template);
  });

  it('writes no partition into any ARN: every one is built from ${AWS::Partition}', () => {
    expect(hardCodedPartitions(template)).toEqual([]);
  });

  it('packages every function on nodejs22.x with its own role', () => {
    const functions = typed('AWS::Lambda::Function');
    expect(functions).toHaveLength(Object.keys(handlers).length);
    for (const [, fn] of functions) {
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      expect(fn.Properties.Role).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/Role$/), 'Arn'] });
    }
  });

  describe('the function bundles', () => {
    // Budgets, not timings: init time is measured in `npm run bench` (bench/cold-start.ts).
    const MB = 1024 * 1024;

    it('builds one zip per function, each under 1 MB', () => {
      expect(artifacts.map((artifact) => artifact.functionName).sort()).toEqual(Object.keys(handlers).sort());
      const oversized = artifacts.filter((artifact) => artifact.zipBytes >= MB).map((artifact) => `${artifact.functionName}: ${artifact.zipBytes} bytes`);
      expect(oversized).toEqual([]);
    });

    it('ships the handler alone, minified under 3 MB, and no source map unless sourceMaps=true', () => {
      for (const artifact of artifacts) {
        expect(artifact.entries.map((entry) => entry.path), artifact.functionName).toEqual([expect.stringMatching(/^functions\/[a-z-]+\.js$/)]);
        expect(bytesOf(artifact, /\.js$/), artifact.functionName).toBeLessThan(3 * MB);
        expect(bytesOf(artifact, /\.map$/), artifact.functionName).toBe(0);
      }
      for (const [id, fn] of typed('AWS::Lambda::Function')) {
        const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
        expect(variables.NODE_OPTIONS ?? '', id).not.toContain('--enable-source-maps');
      }
    });

    it('leaves the SDK out of functions that call no AWS service, and the EC2 client out of those that do not use it', () => {
      // The SDK clients are most of a bundle: a function that imports none stays small, and one without
      // EC2 (the largest client) stays well below one with it. Kept as bytes, so a regression shows here.
      const zip = (name: string) => artifacts.find((artifact) => artifact.functionName === name)!.zipBytes;
      for (const name of ['validateInput', 'evaluateNodeHealth', 'assessQuorum', 'reportDrill']) expect(zip(name), name).toBeLessThan(200 * 1024);
      for (const name of ['acquireLock', 'releaseLock', 'mintJoinMaterial', 'notify', 'awaitHealing']) expect(zip(name), name).toBeLessThan(400 * 1024);
      expect(zip('sendCommand')).toBeLessThan(zip('reconcile') - 200 * 1024);
    });
  });

  it('gives every function the stage, the state table and the command output bucket', () => {
    for (const [id, fn] of typed('AWS::Lambda::Function')) {
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(variables.KUBEHA_STAGE, id).toBe('ci');
      expect(variables.KUBEHA_STATE_TABLE, id).toEqual({ Ref: 'StateTable' });
      expect(variables.KUBEHA_OUTPUT_BUCKET, id).toEqual({ Ref: 'CommandOutputBucket' });
      expect(variables.KUBEHA_DOCUMENT_PREFIX, id).toBe(names.documentPrefix('ci'));
    }
  });

  it('holds the bootstrap and healing state machines, with an alarm on failed heals that notifies the alerts topic', () => {
    expect(typed('AWS::StepFunctions::StateMachine').map(([id]) => id).sort()).toEqual([
      'BootstrapClusterStateMachine',
      'BuildNodeImageStateMachine',
      'DrillClusterStateMachine',
      'HealLoadBalancerStateMachine',
      'HealMasterStateMachine',
      'HealWorkerStateMachine',
      'RenewCertificatesStateMachine',
      'RotateEncryptionKeyStateMachine',
    ]);
    const alarms = typed('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
    const healAlarms = alarms.filter((alarm) => alarm.Namespace === 'AWS/States');
    expect(healAlarms.map((alarm) => (alarm.Dimensions as { Value: { Ref: string } }[])[0]!.Value.Ref).sort()).toEqual([
      'HealLoadBalancerStateMachine',
      'HealMasterStateMachine',
      'HealWorkerStateMachine',
    ]);
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: 'AlertsTopic' }]);
  });

  it('routes EC2 state changes to the event handler (new instances too, to record them), and runs reconcile every 5 minutes', () => {
    const rules = typed('AWS::Events::Rule').map(([, rule]) => rule.Properties);
    expect(rules.map((rule) => rule.ScheduleExpression).filter(Boolean)).toEqual(['rate(5 minutes)']);
    const rule = rules.find((candidate) => candidate.EventPattern)!;
    expect(rule.EventPattern).toEqual({
      source: ['aws.ec2'],
      'detail-type': ['EC2 Instance State-change Notification'],
      detail: { state: ['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'] },
    });
  });

  describe('when an EC2 state change cannot be handled', () => {
    it('has EventBridge retry for an hour, then send the event to an encrypted dead-letter queue', () => {
      const rule = typed('AWS::Events::Rule').find(([, candidate]) => candidate.Properties.EventPattern)![1];
      const [target] = rule.Properties.Targets as { RetryPolicy: unknown; DeadLetterConfig: unknown }[];
      expect(target!.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 20 });
      expect(target!.DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': ['UndeliveredEventsQueue', 'Arn'] } });
      expect(resources.UndeliveredEventsQueue!.Properties.SqsManagedSseEnabled).toBe(true);
    });

    it('lets only that rule send to the queue, and only over TLS', () => {
      const [allow, deny] = (resources.UndeliveredEventsQueuePolicy!.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
      expect(allow).toMatchObject({ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sqs:SendMessage' });
      expect(JSON.stringify(allow!.Condition)).toContain(`rule/${names.eventRuleName('ci', 'ec2-state-change')}`);
      expect(deny).toMatchObject({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    });

    it('sends what the handler still fails on after two Lambda retries to the same queue, which the handler may write to', () => {
      const [, config] = typed('AWS::Lambda::EventInvokeConfig').find(([, candidate]) => JSON.stringify(candidate).includes('OnInstanceStateChangeLambdaFunction'))!;
      expect(config.Properties.MaximumRetryAttempts).toBe(2);
      expect(config.Properties.DestinationConfig).toEqual({ OnFailure: { Destination: { 'Fn::GetAtt': ['UndeliveredEventsQueue', 'Arn'] } } });
      expect(resourcesOf(grants('OnInstanceStateChangeRole', 'sqs:SendMessage')[0]!)).toEqual(['GetAtt:UndeliveredEventsQueue.Arn']);
    });

    it('raises an alarm on the alerts topic as soon as one message waits in the queue', () => {
      const alarm = typed('AWS::CloudWatch::Alarm').find(([, candidate]) => candidate.Properties.Namespace === 'AWS/SQS')![1].Properties;
      expect(alarm).toMatchObject({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['UndeliveredEventsQueue', 'QueueName'] } }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [{ Ref: 'AlertsTopic' }],
      });
    });
  });

  describe('the alerts topic', () => {
    it('is encrypted with a customer-managed key that rotates, not alias/aws/sns', () => {
      expect(resources.AlertsTopic!.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': ['AlertsTopicKey', 'Arn'] });
      expect(resources.AlertsTopicKey!.Properties.EnableKeyRotation).toBe(true);
    });

    it('has a key policy that lets CloudWatch alarms use the key, so that alarms arrive', () => {
      const policy = resources.AlertsTopicKey!.Properties.KeyPolicy as { Statement: { Principal: unknown; Action: string[] }[] };
      const cloudwatch = policy.Statement.find((statement) => JSON.stringify(statement.Principal) === '{"Service":"cloudwatch.amazonaws.com"}');
      expect(cloudwatch?.Action).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']));
    });

    it('lets exactly the publishing functions use the key as well as publish', () => {
      const publishers = typed('AWS::IAM::Role').filter(([id]) => grants(id, 'sns:Publish').length > 0).map(([id]) => id);
      // The event handler too: a spent healing budget is told to a human from whichever trigger finds it.
      expect(publishers.sort()).toEqual(['NotifyRole', 'OnInstanceStateChangeRole', 'ReconcileRole']);
      for (const id of publishers) {
        expect(resourcesOf(grants(id, 'kms:GenerateDataKey')[0]!), id).toEqual(['GetAtt:AlertsTopicKey.Arn']);
        expect(grants(id, 'kms:Decrypt'), id).toHaveLength(1);
      }
    });
  });

  describe('the state table', () => {
    it('is a pay-per-request table keyed by string pk and sk, with point-in-time recovery and encryption', () => {
      const table = resources.StateTable!;
      expect(table.Type).toBe('AWS::DynamoDB::Table');
      expect(table.Properties).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      });
    });

    it('survives the deletion or replacement of the stack, and a DeleteTable call by hand', () => {
      expect(resources.StateTable).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
      expect(resources.StateTable!.Properties.DeletionProtectionEnabled).toBe(true);
    });

    it('is read and written by exactly the functions whose code does: launch records, incidents, the lock, the command ledger', () => {
      const holders = (action: string) => typed('AWS::IAM::Role').filter(([id]) => grants(id, action).length > 0).map(([id]) => id).sort();
      expect(holders('dynamodb:GetItem')).toEqual([
        'AcquireLockRole',
        'InspectClusterRole',
        'LaunchReplacementRole',
        'OnInstanceStateChangeRole',
        'PrepareDrillRole',
        'ReconcileRole',
        'RecordClusterRole',
        'ReleaseLockRole',
        'SendCommandRole',
      ]);
      // launchReplacement: the create-only claim of a warm standby.
      expect(holders('dynamodb:UpdateItem')).toEqual(['AcquireLockRole', 'AwaitCommandRole', 'LaunchReplacementRole', 'OnInstanceStateChangeRole', 'ReconcileRole', 'RecordClusterRole', 'SendCommandRole']);
      expect(holders('dynamodb:BatchWriteItem')).toEqual(['OnInstanceStateChangeRole', 'ReconcileRole', 'RecordClusterRole']);
      // launchReplacement: giving back the claim of a warm standby EC2 had no capacity to start.
      expect(holders('dynamodb:DeleteItem')).toEqual(['LaunchReplacementRole', 'ReconcileRole', 'ReleaseLockRole']);
      expect(holders('dynamodb:PutItem')).toEqual([]);
      // prepareImageBuild reads launch records only, with a Query.
      expect(holders('dynamodb:Query')).toContain('PrepareImageBuildRole');
    });

    it('limits every function to the items of the clusters this stage serves', () => {
      for (const [id, role] of typed('AWS::IAM::Role')) {
        for (const statement of statementsOf(role).filter((candidate) => actionsOf(candidate).some((action) => action.startsWith('dynamodb:')))) {
          expect(resourcesOf(statement), id).toEqual(['GetAtt:StateTable.Arn']);
          expect(statement.Condition, id).toEqual({ 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['cluster#demo', 'cluster#prod-eu'] } });
        }
      }
    });
  });

  describe('the command output bucket', () => {
    const bucket = () => resources.CommandOutputBucket!;

    it('is encrypted, private, kept on stack deletion, and expires output after 7 days', () => {
      expect(JSON.stringify(bucket().Properties.BucketEncryption)).toContain('"SSEAlgorithm":"AES256"');
      expect(bucket().Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      expect(bucket().DeletionPolicy).toBe('Retain');
      expect(bucket().Properties.LifecycleConfiguration).toEqual({
        Rules: [{ Id: 'expire-command-output', Status: 'Enabled', ExpirationInDays: 7, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }],
      });
    });

    it('refuses every request that is not over TLS', () => {
      const policy = resources.CommandOutputBucketPolicy!.Properties;
      expect(policy.Bucket).toEqual({ Ref: 'CommandOutputBucket' });
      expect(policy.PolicyDocument).toMatchObject({ Statement: [{ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }] });
    });

    it('lets every node write output only under ssm-output/', () => {
      for (const cluster of CLUSTERS) {
        for (const role of names.NODE_ROLES) {
          const id = iam.nodeRoleId(cluster, role);
          const [write] = grants(id, 's3:PutObject').filter((statement) => resourcesOf(statement)[0]!.includes('CommandOutputBucket'));
          expect(actionsOf(write!), id).toEqual(['s3:PutObject', 's3:AbortMultipartUpload']);
          expect(resourcesOf(write!), id).toEqual(['${CommandOutputBucket.Arn}/ssm-output/*']);
        }
      }
    });

    it('lets exactly the functions that poll Run Command read that output and cancel a command they give up on', () => {
      const pollers = typed('AWS::IAM::Role').filter(([id]) => grants(id, 'ssm:GetCommandInvocation').length > 0).map(([id]) => id);
      // recordCluster checks the external services from a worker at the end of verify.
      expect(pollers.sort()).toEqual(['AwaitCommandRole', 'ReconcileRole', 'RecordClusterRole']);
      const cancellers = typed('AWS::IAM::Role').filter(([id]) => grants(id, 'ssm:CancelCommand').length > 0).map(([id]) => id);
      expect(cancellers.sort()).toEqual(pollers.sort());
      const readers = typed('AWS::IAM::Role').filter(([id]) => grants(id, 's3:GetObject').length > 0).map(([id]) => id);
      expect(readers.sort()).toEqual(pollers.sort());
      for (const id of readers) expect(resourcesOf(grants(id, 's3:GetObject')[0]!)).toEqual(['${CommandOutputBucket.Arn}/ssm-output/*']);
    });
  });

  describe('the etcd snapshot bucket', () => {
    const bucket = () => resources.EtcdSnapshotBucket!;
    const rules = () => (bucket().Properties.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;

    it('keeps etcd snapshots in an encrypted, private, TLS-only bucket that expires them', () => {
      expect(JSON.stringify(bucket().Properties.BucketEncryption)).toContain('aws:kms');
      expect(bucket().Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      expect(rules()[0]).toMatchObject({ ExpirationInDays: 30, NoncurrentVersionExpiration: { NoncurrentDays: 7 } });
      expect(JSON.stringify(resources.EtcdSnapshotBucketPolicy!.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    });

    it('survives the deletion or replacement of the stack', () => {
      expect(bucket()).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    });

    it('aborts incomplete uploads after a day, and removes expired delete markers in a rule of their own', () => {
      expect(rules()[0]).toMatchObject({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } });
      // S3 rejects ExpiredObjectDeleteMarker in a rule that also expires by days.
      const markers = rules().filter((rule) => rule.ExpiredObjectDeleteMarker === true);
      expect(markers).toHaveLength(1);
      expect(markers[0]).not.toHaveProperty('ExpirationInDays');
    });

    it("lets each cluster's masters write and abort uploads only under their cluster's prefix", () => {
      const [write] = grants(iam.nodeRoleId('prod-eu', 'master'), 's3:PutObject').filter((statement) => resourcesOf(statement)[0]!.includes('EtcdSnapshotBucket'));
      expect(actionsOf(write!)).toEqual(['s3:PutObject', 's3:AbortMultipartUpload']);
      expect(resourcesOf(write!)).toEqual(['${EtcdSnapshotBucket.Arn}/prod-eu/*']);
    });
  });

  it('holds every SSM document, named for the stage', () => {
    const documentNames = typed('AWS::SSM::Document').map(([, document]) => document.Properties.Name);
    expect(documentNames.sort()).toEqual(Object.values(DOCUMENTS).map((name) => `kubeha-ci-${name}-${render.documentDigest()}`).sort());
  });

  it('holds the worker-join, control-plane-join, admin-kubeconfig and encryption-keys secrets, named for the stage, and master/worker/lb instance profiles named for the region, of each listed cluster', () => {
    const secrets = typed('AWS::SecretsManager::Secret').map(([, secret]) => secret.Properties.Name);
    expect(secrets.sort()).toEqual(CLUSTERS.flatMap((cluster) => ['admin-kubeconfig', 'control-plane-join', 'encryption-keys', 'worker-join'].map((name) => `kubeha/ci/${cluster}/${name}`)).sort());
    const profiles = typed('AWS::IAM::InstanceProfile').map(([, profile]) => profile.Properties.InstanceProfileName);
    expect(profiles).toHaveLength(6);
    expect(profiles).toContain('kubeha-ci.prod-eu.lb.eu-west-1');
    const roles = typed('AWS::IAM::Role').map(([, role]) => role.Properties.RoleName).filter(Boolean);
    expect(roles).toContain('kubeha-ci.demo.master.eu-west-1');
  });

  it('creates exactly the names infra/names.cjs computes for the stage, region and clusters, each within its limit', () => {
    const expected = names.stackNames({
      stage: 'ci',
      region: 'eu-west-1',
      clusters: CLUSTERS,
      functions: Object.keys(handlers),
      stateMachines: iam.STATE_MACHINES,
      documents: render.documentNames(),
      documentDigest: render.documentDigest(),
    });
    // Where each named resource keeps its name: the plugin's table, which its own final check uses too.
    const properties = (require('../../infra/documents-plugin.cjs') as { NAME_PROPERTIES: Record<string, [string, string]> }).NAME_PROPERTIES;
    const created = Object.values(resources).flatMap((resource) => {
      const [property, kind] = properties[resource.Type] ?? [];
      const name = property ? resource.Properties[property] : undefined;
      return typeof name === 'string' ? [`${kind}: ${name}`] : [];
    });
    const computed = expected.filter(({ kind }) => !['CloudFormation stack', 'IAM inline policy'].includes(kind)).map(({ kind, name }) => `${kind}: ${name}`);
    expect(created.sort()).toEqual(computed.sort());
    expect(names.nameProblems(expected)).toEqual([]);
  });

  it('grants no "*" action and no mutating action on "*" resources, in any role, except CancelCommand, which AWS cannot scope', () => {
    const roles = typed('AWS::IAM::Role');
    expect(roles.length).toBeGreaterThanOrEqual(9 + 6);
    expect(iam.UNSCOPABLE_ACTIONS).toEqual(['ssm:CancelCommand']);
    for (const [id, role] of roles) {
      for (const statement of statementsOf(role)) {
        for (const action of actionsOf(statement)) {
          expect(action, `${id} grants ${action}`).not.toMatch(/\*/);
          if (resourcesOf(statement).includes('*') && !iam.UNSCOPABLE_ACTIONS.includes(action)) {
            expect(action, `${id} grants ${action} on *`).toMatch(READ_ONLY);
          }
        }
      }
    }
  });

  it("gives no policy a pattern that would reach another stage's documents, roles, secrets, logs or workflows", () => {
    // Stage ci-eu shares the prefix `kubeha-ci-` with stage ci: nothing ci may touch may match what ci-eu creates.
    const other = names.stackNames({ stage: 'ci-eu', region: 'eu-west-1', clusters: CLUSTERS, functions: Object.keys(handlers), stateMachines: iam.STATE_MACHINES, documents: render.documentNames() });
    const otherArns = other.flatMap(({ kind, name }) => {
      switch (kind) {
        case 'SSM document':
          return [`arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:document/${name}`];
        case 'Step Functions state machine':
          return [`arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:stateMachine:${name}`, `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:execution:${name}:run-1`];
        case 'Lambda function':
          return [`arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${name}:log-stream:1`];
        case 'IAM role':
          return [`arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/${name}`];
        case 'Secrets Manager secret':
          return [`arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${name}-AbCdEf`];
        default:
          return [];
      }
    });
    expect(otherArns.length).toBeGreaterThan(40);
    const wildcard = (pattern: string) => new RegExp(`^${pattern.replace(/[.+?^()|[\]\\]/g, '\\$&').replace(/\$\{/g, '\\$\\{').replace(/\*/g, '.*')}$`);
    // The patterns kubeha used before would have: the check bites.
    const before = ['document/kubeha-ci-*', 'secret:kubeha/*'].map((tail) => `arn:\${AWS::Partition}:${tail.startsWith('doc') ? 'ssm' : 'secretsmanager'}:\${AWS::Region}:\${AWS::AccountId}:${tail}`);
    for (const pattern of before) expect(otherArns.filter((arn) => wildcard(pattern).test(arn)), pattern).not.toEqual([]);
    for (const [id, role] of typed('AWS::IAM::Role')) {
      for (const statement of statementsOf(role)) {
        for (const pattern of resourcesOf(statement).filter((resource) => resource.startsWith('arn:'))) {
          const reached = otherArns.filter((arn) => wildcard(pattern).test(arn));
          expect(reached, `${id} reaches stage ci-eu through ${pattern}`).toEqual([]);
        }
      }
    }
  });

  it("lets workers read only their own cluster's worker join secret, masters both join secrets, and only masters write the kubeconfig", () => {
    const policy = (id: string) => JSON.stringify(policyOf(id));
    const worker = iam.nodeRoleId('prod-eu', 'worker');
    expect(policy(worker)).toContain(`"Ref":"${iam.secretIds('prod-eu').workerJoin}"`);
    expect(policy(worker)).not.toContain(iam.secretIds('prod-eu').controlPlaneJoin);
    expect(policy(worker)).not.toContain(iam.secretIds('demo').workerJoin);
    expect(policy(iam.nodeRoleId('prod-eu', 'lb'))).not.toContain('secretsmanager:');
    expect(policy(iam.nodeRoleId('prod-eu', 'master'))).toContain(`"Ref":"${iam.secretIds('prod-eu').controlPlaneJoin}"`);
    expect(policy(worker)).not.toContain('PutSecretValue');
    expect(policy(iam.nodeRoleId('prod-eu', 'master'))).toContain(`"Ref":"${iam.secretIds('prod-eu').kubeconfig}"`);
    expect(policy(iam.nodeRoleId('prod-eu', 'lb'))).toContain('kubernetes.io/cluster/prod-eu');
  });

  it('lets launchReplacement pass only the stack node roles, and only to EC2', () => {
    const [passRole, ...others] = grants('LaunchReplacementRole', 'iam:PassRole');
    expect(others).toEqual([]);
    const expected = CLUSTERS.flatMap((cluster) => names.NODE_ROLES.map((role) => `GetAtt:${iam.nodeRoleId(cluster, role)}.Arn`));
    expect(resourcesOf(passRole!).sort()).toEqual(expected.sort());
    expect(passRole!.Condition).toEqual({ StringEquals: { 'iam:PassedToService': { 'Fn::Sub': 'ec2.${AWS::URLSuffix}' } } });
    // The image builder and reconcile's warm standbys launch with a node's instance profile too, under the same condition.
    expect(typed('AWS::IAM::Role').filter(([id]) => grants(id, 'iam:PassRole').length > 0).map(([id]) => id).sort()).toEqual(['LaunchImageBuilderRole', 'LaunchReplacementRole', 'ReconcileRole']);
    expect(grants('LaunchImageBuilderRole', 'iam:PassRole').map((statement) => statement.Condition)).toEqual([passRole!.Condition]);
    expect(grants('ReconcileRole', 'iam:PassRole').map((statement) => statement.Condition)).toEqual([passRole!.Condition]);
    expect(grants('ReconcileRole', 'iam:PassRole').flatMap((statement) => resourcesOf(statement)).sort()).toEqual(expected.sort());
  });

  it('grants launchReplacement no KMS key when no volume keys are configured', () => {
    expect(policyOf('LaunchReplacementRole').filter((statement) => actionsOf(statement).some((action) => action.startsWith('kms:')))).toEqual([]);
  });

  it('gives no Lambda function GetSecretValue but the two that rewrite the encryption key list, and those only on the encryption-keys secrets', () => {
    const keyFunctions = ['EnsureEncryptionKeyRole', 'ChangeEncryptionKeysRole'];
    for (const [id, role] of typed('AWS::IAM::Role')) {
      if (id.endsWith('NodeRole')) continue;
      const reads = statementsOf(role).filter((statement) => actionsOf(statement).includes('secretsmanager:GetSecretValue'));
      if (!keyFunctions.includes(id)) {
        expect(reads, id).toEqual([]);
        continue;
      }
      const resources = reads.flatMap((statement) => resourcesOf(statement));
      expect(resources, id).toHaveLength(CLUSTERS.length);
      for (const resource of resources) expect(resource, id).toMatch(/^Ref:\w+EncryptionKeysSecret$/);
    }
  });
});

// Pseudo parameters as CloudFormation resolves them in each partition.
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html
const CHINA = { 'AWS::Partition': 'aws-cn', 'AWS::URLSuffix': 'amazonaws.com.cn', 'AWS::Region': 'cn-northwest-1', 'AWS::AccountId': '123456789012' };
const COMMERCIAL = { 'AWS::Partition': 'aws', 'AWS::URLSuffix': 'amazonaws.com', 'AWS::Region': 'eu-west-1', 'AWS::AccountId': '123456789012' };
let china: Template;
let chinaArtifacts: Artifact[];

// The runbook deploys to cn-northwest-1 (partition aws-cn): the same stack must package there, carry no
// `arn:aws:`, and trust EC2 under the China principal. In this file, not its own: two `sls package` runs in one
// directory share .serverless/ and take each other's templates.
describe('sls package --region cn-northwest-1', () => {
  // With source maps on, to prove the switch in the same run (a third package would add a minute).
  beforeAll(async () => {
    ({ template: china, artifacts: chinaArtifacts } = await packageStack(['--stage', 'ci', '--region', 'cn-northwest-1', '--param', 'clusters=demo', '--param', 'sourceMaps=true']));
  }, 900_000);

  it('ships a source map beside each handler and turns them on in Node when sourceMaps=true', () => {
    for (const artifact of chinaArtifacts) expect(bytesOf(artifact, /\.js\.map$/), artifact.functionName).toBeGreaterThan(0);
    for (const [id, fn] of ofType(china, 'AWS::Lambda::Function')) {
      expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.NODE_OPTIONS, id).toBe('--enable-source-maps');
    }
  });

  it('refuses a sourceMaps value that is not true or false, naming the parameter', () => {
    expect(failedPackageOutput(['--stage', 'ci', '--param', 'clusters=demo', '--param', 'sourceMaps=yes'])).toContain('sourceMaps must be true or false (got "yes")');
  });

  it('uses only resource types and properties that CloudFormation knows, with every required property set', () => {
    expectValidForCloudFormation(china);
  });

  it('writes no partition into any ARN', () => {
    expect(hardCodedPartitions(china)).toEqual([]);
  });

  it('lets instance roles be assumed by ec2.amazonaws.com.cn in China and ec2.amazonaws.com elsewhere', () => {
    const nodeRoles = ofType(china, 'AWS::IAM::Role').filter(([id]) => id.endsWith('NodeRole'));
    expect(nodeRoles).toHaveLength(3);
    for (const [id, role] of nodeRoles) {
      const trust = role.Properties.AssumeRolePolicyDocument;
      expect(JSON.stringify(substitute(trust, CHINA)), id).toContain('"Service":"ec2.amazonaws.com.cn"');
      expect(JSON.stringify(substitute(trust, COMMERCIAL)), id).toContain('"Service":"ec2.amazonaws.com"');
    }
  });

  it('lets launchReplacement pass roles to the China EC2 principal', () => {
    const [, role] = ofType(china, 'AWS::IAM::Role').find(([id]) => id === 'LaunchReplacementRole')!;
    const passRole = statementsOf(role).find((statement) => actionsOf(statement).includes('iam:PassRole'))!;
    expect(substitute(passRole.Condition, CHINA)).toEqual({ StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com.cn' } });
  });

  it('builds ARNs that resolve into the aws-cn partition', () => {
    const [, role] = ofType(china, 'AWS::IAM::Role').find(([id]) => id === 'SendCommandRole')!;
    const documents = JSON.stringify(substitute(statementsOf(role), CHINA));
    expect(documents).toContain('"arn:aws-cn:ssm:cn-northwest-1:123456789012:document/kubeha-ci-');
    expect(documents).not.toMatch(/arn:aws:/);
  });

  it('names instance profiles for the China region, apart from the same stage elsewhere', () => {
    const profiles = ofType(china, 'AWS::IAM::InstanceProfile').map(([, profile]) => profile.Properties.InstanceProfileName);
    expect(profiles.sort()).toEqual(['kubeha-ci.demo.lb.cn-northwest-1', 'kubeha-ci.demo.master.cn-northwest-1', 'kubeha-ci.demo.worker.cn-northwest-1']);
  });
});
