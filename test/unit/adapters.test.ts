// The adapters against the exact response shapes of the EC2 and SSM API references, for the
// answers that broke our first release: a terminated instance, one that is stopping, one EC2 has
// forgotten, and command output cut at GetCommandInvocation's limits.
import { DeleteTagsCommand, DescribeInstancesCommand, DescribeVolumesCommand, EC2Client, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CancelCommandCommand, GetCommandInvocationCommand, SSMClient, SendCommandCommand } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ec2 as ec2Adapter } from '../../functions/adapters/ec2.js';
import { outputObjectKey, ssm as ssmAdapter } from '../../functions/adapters/ssm.js';
import { startStoppedInstance } from '../../functions/core/healing-steps.js';

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const s3 = mockClient(S3Client);

const TAGS = [
  { Key: 'kubernetes.io/cluster/prod-eu', Value: 'owned' },
  { Key: 'kubeha:role', Value: 'master' },
  { Key: 'kubeha:node-state', Value: 'joined' },
  { Key: 'Name', Value: 'prod-eu-master-2' },
  { Key: 'CostCentre', Value: '4711' },
];

/** DescribeInstances for a terminated instance, as the EC2 API reference and reality.md give it. */
const TERMINATED = {
  InstanceId: 'i-0aaaaaaaaaaaaaaa1',
  ImageId: 'ami-0123456789abcdef0',
  InstanceType: 't3.medium',
  KeyName: 'ops',
  LaunchTime: new Date('2026-11-20T09:00:00Z'),
  Placement: { AvailabilityZone: 'eu-west-1b' },
  State: { Code: 48, Name: 'terminated' },
  StateReason: { Code: 'Client.UserInitiatedShutdown', Message: 'Client.UserInitiatedShutdown: User initiated shutdown' },
  SecurityGroups: [],
  NetworkInterfaces: [],
  BlockDeviceMappings: [],
  Tags: TAGS,
};

const RUNNING = {
  ...TERMINATED,
  InstanceId: 'i-0bbbbbbbbbbbbbbb2',
  State: { Code: 16, Name: 'running' },
  StateReason: undefined,
  PrivateIpAddress: '10.0.16.11',
  SubnetId: 'subnet-0123456789abcdef0',
  VpcId: 'vpc-0123456789abcdef0',
  IamInstanceProfile: { Arn: 'arn:aws:iam::123456789012:instance-profile/kubeha-prod-master', Id: 'AIPAEXAMPLE' },
  SecurityGroups: [{ GroupId: 'sg-0123456789abcdef0', GroupName: 'masters' }],
  BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { VolumeId: 'vol-0123456789abcdef0', Status: 'attached', DeleteOnTermination: true } }],
};

beforeEach(() => {
  ec2.reset();
  ssm.reset();
  s3.reset();
  process.env.KUBEHA_OUTPUT_BUCKET = 'kubeha-prod-output';
});

afterEach(() => {
  delete process.env.KUBEHA_OUTPUT_BUCKET;
});

describe('ec2 adapter: launch facts', () => {
  it('records a running instance with its volumes, KMS key included, and keeps only inheritable tags', async () => {
    // Prepare
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [RUNNING as never] }] });
    ec2.on(DescribeVolumesCommand).resolves({
      Volumes: [{ VolumeId: 'vol-0123456789abcdef0', Size: 80, VolumeType: 'gp3', Encrypted: true, KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/abc', Iops: 3000, Throughput: 125 }],
    });

    // Act
    const [facts] = await ec2Adapter.launchFactsOf([RUNNING.InstanceId]);

    // Assess
    expect(facts).toEqual({
      instanceId: RUNNING.InstanceId,
      imageId: 'ami-0123456789abcdef0',
      instanceType: 't3.medium',
      subnetId: 'subnet-0123456789abcdef0',
      availabilityZone: 'eu-west-1b',
      privateIp: '10.0.16.11',
      securityGroupIds: ['sg-0123456789abcdef0'],
      iamInstanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/kubeha-prod-master',
      keyName: 'ops',
      tags: { 'kubernetes.io/cluster/prod-eu': 'owned', 'kubeha:role': 'master', Name: 'prod-eu-master-2', CostCentre: '4711' },
      blockDevices: [{ deviceName: '/dev/sda1', volumeSize: 80, volumeType: 'gp3', encrypted: true, kmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/abc', iops: 3000, throughput: 125 }],
    });
  });

  it('finds nothing to record on a terminated instance: the facts a replacement needs are gone', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [TERMINATED as never] }] });

    const facts = await ec2Adapter.launchFactsOf([TERMINATED.InstanceId]);

    expect(facts).toEqual([]);
    expect(ec2).not.toHaveReceivedCommand(DescribeVolumesCommand);
  });

  it('asks again one by one when EC2 has forgotten one of the instances, and records the others', async () => {
    ec2.on(DescribeInstancesCommand, { InstanceIds: ['i-0forgotten0000001', RUNNING.InstanceId] }).rejects(Object.assign(new Error("The instance ID 'i-0forgotten0000001' does not exist"), { name: 'InvalidInstanceID.NotFound' }));
    ec2.on(DescribeInstancesCommand, { InstanceIds: ['i-0forgotten0000001'] }).rejects(Object.assign(new Error('gone'), { name: 'InvalidInstanceID.NotFound' }));
    ec2.on(DescribeInstancesCommand, { InstanceIds: [RUNNING.InstanceId] }).resolves({ Reservations: [{ Instances: [RUNNING as never] }] });
    ec2.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: 'vol-0123456789abcdef0', Size: 80, VolumeType: 'gp3', Encrypted: false }] });

    const facts = await ec2Adapter.launchFactsOf(['i-0forgotten0000001', RUNNING.InstanceId]);

    expect(facts.map((fact) => fact.instanceId)).toEqual([RUNNING.InstanceId]);
  });

  it('describes a terminated instance without an address, and an aged-out one as unknown', async () => {
    ec2.on(DescribeInstancesCommand, { InstanceIds: [TERMINATED.InstanceId] }).resolves({ Reservations: [{ Instances: [TERMINATED as never] }] });
    ec2.on(DescribeInstancesCommand, { InstanceIds: ['i-0forgotten0000001'] }).rejects(Object.assign(new Error('gone'), { name: 'InvalidInstanceID.NotFound' }));

    const terminated = await ec2Adapter.describeInstance(TERMINATED.InstanceId);
    const forgotten = await ec2Adapter.describeInstance('i-0forgotten0000001');

    expect(terminated).toMatchObject({ role: 'master', ec2State: 'terminated', privateIp: undefined, subnetId: undefined });
    expect(terminated?.tags).not.toHaveProperty('CostCentre');
    expect(forgotten).toBeUndefined();
  });
});

describe('starting a stopped instance', () => {
  it('waits for an instance that is still stopping instead of calling StartInstances, which EC2 would refuse', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ ...RUNNING, State: { Code: 64, Name: 'stopping' } } as never] }] });

    const outcome = await startStoppedInstance(RUNNING.InstanceId, { ec2: ec2Adapter });

    expect(outcome).toEqual({ ec2State: 'stopping', started: false });
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(1);
    expect(ec2.calls()).toHaveLength(1);
  });
});

describe('ec2 adapter: warm standbys', () => {
  it('drops tags by key alone, so DeleteTags removes them whatever their values, and stops one instance', async () => {
    // Prepare
    ec2.on(DeleteTagsCommand).resolves({});
    ec2.on(StopInstancesCommand).resolves({ StoppingInstances: [{ InstanceId: 'i-0aaaaaaaaaaaaaaa1' }] });

    // Act
    await ec2Adapter.untagInstances(['i-0aaaaaaaaaaaaaaa1'], ['kubeha:standby-for', 'kubeha:standby-state']);
    await ec2Adapter.stopInstance('i-0aaaaaaaaaaaaaaa1');

    // Assess
    expect(ec2).toHaveReceivedCommandWith(DeleteTagsCommand, { Resources: ['i-0aaaaaaaaaaaaaaa1'], Tags: [{ Key: 'kubeha:standby-for' }, { Key: 'kubeha:standby-state' }] });
    expect(ec2).toHaveReceivedCommandWith(StopInstancesCommand, { InstanceIds: ['i-0aaaaaaaaaaaaaaa1'] });
  });
});

describe('ssm adapter: command output', () => {
  it('sends commands with their output going to the S3 bucket', async () => {
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'c-1' } });

    await ssmAdapter.sendCommand({ documentName: 'kubeha-prod-ClusterStatus', instanceIds: ['i-1'], parameters: {}, comment: 'x', timeoutSeconds: 600 });

    expect(ssm).toHaveReceivedCommandWith(SendCommandCommand, { OutputS3BucketName: 'kubeha-prod-output', OutputS3KeyPrefix: 'ssm-output' });
  });

  it('reads the whole output from S3 when GetCommandInvocation cut it at 24,000 and 8,000 characters', async () => {
    // Prepare: a result line printed last, beyond the inline limit.
    const whole = `${'node ip-10-0-0-1 Ready\n'.repeat(2000)}KUBEHA_RESULT {"nodes":2000}\n`;
    const key = 'ssm-output/c-1/i-1/awsrunShellScript/0.awsrunShellScript/stdout';
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Success',
      StandardOutputContent: whole.slice(0, 24_000),
      StandardErrorContent: 'e'.repeat(8_000),
      StandardOutputUrl: `https://s3.eu-west-1.amazonaws.com/kubeha-prod-output/${key}`,
      StandardErrorUrl: `https://s3.eu-west-1.amazonaws.com/kubeha-prod-output/${key.replace(/stdout$/, 'stderr')}`,
    });
    s3.on(GetObjectCommand, { Key: key }).resolves({ Body: { transformToString: async () => whole } as never });
    s3.on(GetObjectCommand, { Key: key.replace(/stdout$/, 'stderr') }).resolves({ Body: { transformToString: async () => `${'e'.repeat(8_000)}\nkubeha: error: the real reason` } as never });

    // Act
    const output = await ssmAdapter.invocationOutput('c-1', 'i-1');

    // Assess
    expect(output.stdout).toBe(whole);
    expect(output.stdout.endsWith('KUBEHA_RESULT {"nodes":2000}\n')).toBe(true);
    expect(output.stderr.endsWith('kubeha: error: the real reason')).toBe(true);
  });

  it('reads the whole output from S3 when the agent cut multi-byte output short of 24,000 characters', async () => {
    // Prepare: 2-byte characters, so the agent's 24,000-byte cut keeps under 12,000 characters and ends with its suffix.
    const whole = `${'Knoten ip-10-0-0-1 bereit ä\n'.repeat(2000)}KUBEHA_RESULT {"nodes":2000}\n`;
    const cut = `${new TextDecoder().decode(Buffer.from(whole, 'utf8').subarray(0, 24_000 - 20))}--output truncated--`;
    const key = 'ssm-output/c-1/i-1/awsrunShellScript/0.awsrunShellScript/stdout';
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StandardOutputContent: cut, StandardErrorContent: '', StandardOutputUrl: `https://s3.eu-west-1.amazonaws.com/kubeha-prod-output/${key}` });
    s3.on(GetObjectCommand, { Key: key }).resolves({ Body: { transformToString: async () => whole } as never });

    // Act
    const output = await ssmAdapter.invocationOutput('c-1', 'i-1');

    // Assess
    expect(cut.length).toBeLessThan(24_000);
    expect(output.stdout).toBe(whole);
  });

  it('does not touch S3 for output under the limits', async () => {
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StandardOutputContent: 'KUBEHA_RESULT {}\n', StandardErrorContent: '', StandardOutputUrl: 'https://s3.eu-west-1.amazonaws.com/kubeha-prod-output/x/stdout' });

    await ssmAdapter.invocationOutput('c-1', 'i-1');

    expect(s3.calls()).toHaveLength(0);
  });

  it('finds the object key in path-style and virtual-hosted output URLs', () => {
    expect(outputObjectKey('https://s3.eu-west-1.amazonaws.com/bucket-a/ssm-output/c/i/stdout', 'bucket-a')).toBe('ssm-output/c/i/stdout');
    expect(outputObjectKey('https://bucket-a.s3.cn-northwest-1.amazonaws.com.cn/ssm-output/c/i/stdout', 'bucket-a')).toBe('ssm-output/c/i/stdout');
    expect(outputObjectKey('', 'bucket-a')).toBeUndefined();
  });

  it('treats cancelling a command that already finished as done', async () => {
    ssm.on(CancelCommandCommand).rejects(Object.assign(new Error('finished'), { name: 'InvalidCommandId' }));

    await expect(ssmAdapter.cancelCommand('c-1')).resolves.toBeUndefined();
  });
});
