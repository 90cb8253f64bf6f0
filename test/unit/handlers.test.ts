import { AssociateAddressCommand, CreateTagsCommand, DescribeAddressesCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { CancelCommandCommand, GetCommandInvocationCommand, ListCommandInvocationsCommand, SSMClient, SendCommandCommand } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { handler as awaitCommand } from '../../functions/await-command.js';
import { handler as mintJoinMaterial } from '../../functions/mint-join-material.js';
import { handler as notify } from '../../functions/notify.js';
import { handler as placeElasticIp } from '../../functions/place-elastic-ip.js';
import { handler as sendCommand } from '../../functions/send-command.js';
import { handler as validateInput } from '../../functions/validate-input.js';
import { capturedLogs } from '../setup.js';
import { bootstrapInput } from '../support/inputs.js';

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const secrets = mockClient(SecretsManagerClient);
const sns = mockClient(SNSClient);
const context = { awsRequestId: 'test-request' } as never;
const JOIN_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kubeha/local/prod-eu/control-plane-join-AbCdEf';
const WORKER_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kubeha/local/prod-eu/worker-join-AbCdEf';

async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error: unknown) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

beforeEach(() => {
  ec2.reset();
  ssm.reset();
  secrets.reset();
  sns.reset();
});

describe('validate-input handler', () => {
  it('returns the normalized configuration', async () => {
    const output = (await validateInput({ input: bootstrapInput() }, context)) as { config: { loadBalancerPort: number } };
    expect(output.config.loadBalancerPort).toBe(6443);
  });

  it('throws InputValidationError naming the field and the reason', async () => {
    const error = await rejectionOf(validateInput({ input: bootstrapInput({ podCidr: '10.0.0.1/16' }) }, context));
    expect(error.name).toBe('InputValidationError');
    expect(error.message).toBe('podCidr: has host bits set (did you mean 10.0.0.0/16?)');
  });
});

describe('mint-join-material handler', () => {
  it('stores fresh control-plane material in the control-plane secret and returns only its ARN and version', async () => {
    // Prepare
    secrets.on(DescribeSecretCommand).resolves({ ARN: JOIN_SECRET_ARN });
    secrets.on(PutSecretValueCommand).resolves({ ARN: JOIN_SECRET_ARN, VersionId: 'v-1' });

    // Act
    const output = await mintJoinMaterial({ clusterName: 'prod-eu', joinAs: 'control-plane' }, context);

    // Assess
    expect(output).toEqual({ secretArn: JOIN_SECRET_ARN, versionId: 'v-1' });
    expect(secrets).toHaveReceivedCommandWith(DescribeSecretCommand, { SecretId: 'kubeha/local/prod-eu/control-plane-join' });
    expect(secrets).toHaveReceivedCommandTimes(PutSecretValueCommand, 1);
    const stored = JSON.parse(secrets.commandCalls(PutSecretValueCommand)[0]!.args[0].input.SecretString!) as { token: string; certificateKey: string };
    expect(stored.token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    for (const line of capturedLogs) {
      expect(line).not.toContain(stored.token);
      expect(line).not.toContain(stored.certificateKey);
    }
  });

  it('stores only a token, never a certificate key, in the worker secret', async () => {
    // Prepare
    secrets.on(DescribeSecretCommand).resolves({ ARN: WORKER_SECRET_ARN });
    secrets.on(PutSecretValueCommand).resolves({ ARN: WORKER_SECRET_ARN, VersionId: 'v-2' });

    // Act
    const output = await mintJoinMaterial({ clusterName: 'prod-eu', joinAs: 'worker' }, context);

    // Assess
    expect(output).toEqual({ secretArn: WORKER_SECRET_ARN, versionId: 'v-2' });
    expect(secrets).toHaveReceivedCommandWith(DescribeSecretCommand, { SecretId: 'kubeha/local/prod-eu/worker-join' });
    const stored = JSON.parse(secrets.commandCalls(PutSecretValueCommand)[0]!.args[0].input.SecretString!) as Record<string, string>;
    expect(Object.keys(stored)).toEqual(['token']);
  });

  it('refuses a missing or unknown joinAs before any AWS call, naming the field', async () => {
    const missing = await rejectionOf(mintJoinMaterial({ clusterName: 'prod-eu' }, context));
    const unknown = await rejectionOf(mintJoinMaterial({ clusterName: 'prod-eu', joinAs: 'admin' }, context));
    expect(missing.name).toBe('InputValidationError');
    expect(missing.message).toContain('joinAs');
    expect(unknown.message).toMatch(/joinAs: must be worker or control-plane/);
    expect(secrets).not.toHaveReceivedCommand(DescribeSecretCommand);
  });

  it('refuses, with the fix, when the stack holds no secret for the cluster', async () => {
    secrets.on(DescribeSecretCommand).rejects(Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' }));
    const error = await rejectionOf(mintJoinMaterial({ clusterName: 'prod-eu', joinAs: 'worker' }, context));
    expect(error.name).toBe('ClusterStateError');
    expect(error.message).toContain('add prod-eu to the stack');
    expect(secrets).not.toHaveReceivedCommand(PutSecretValueCommand);
  });
});

describe('send-command handler', () => {
  const CLUSTER = {
    clusterName: 'prod-eu', kubernetesVersion: '1.36.4', podCidr: '192.168.0.0/16', serviceCidr: '10.96.0.0/12', cniVersion: 'v3.31.3',
    loadBalancerPort: 6443, elasticIpAllocationId: 'eipalloc-0abc12345def67890', stepTimeoutMinutes: 30, endpoint: '203.0.113.10:6443',
    certSans: [], masterIps: ['10.0.0.11'], loadBalancerIps: ['10.0.0.5'], workerCount: 0,
  };
  it('rejects an unknown step before sending anything', async () => {
    const error = await rejectionOf(sendCommand({ step: 'rm-rf', instanceIds: ['i-0123456789abcdef0'], cluster: {} }, context));
    expect(error.name).toBe('InputValidationError');
    expect(error.message).toContain('step:');
    expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
  });

  it('rejects a report asked of a step that does not report its node, naming the field, before sending anything', async () => {
    const error = await rejectionOf(sendCommand({ step: 'install-cni', report: true, instanceIds: ['i-0123456789abcdef0'], cluster: CLUSTER }, context));
    expect(error.name).toBe('InputValidationError');
    expect(error.message).toContain('report');
    expect(error.message).toContain('only join-control-plane and join-worker report their node');
    expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
  });

  it('sends to a started standby at once and looks first once its boot and the command are likely done', async () => {
    // Prepare: a standby started 10 s ago; its boot's fast end is 38 s after the start (command-timing.ts).
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-join' } });
    const bootingSince = Date.now() - 10_000;

    // Act
    const sent = (await sendCommand({ step: 'apply-node-profile', role: 'worker', instanceIds: ['i-0123456789abcdef0'], cluster: CLUSTER, bootingSince }, context)) as { pollAfterSeconds: number; sentAt: number; timedFrom: number; bootingSince: number };

    // Assess: 28 s of boot left plus the fast end of the step's own run (8 s × 0.85 → 6 s); the step is
    // timed from the point where the boot would be late (45 s × 1.2 + 5 s = 59 s after the start).
    expect(ssm).toHaveReceivedCommandTimes(SendCommandCommand, 1);
    expect(sent.pollAfterSeconds).toBe(28 + 6);
    expect(sent.timedFrom - sent.sentAt).toBe(49_000);
    expect(sent.bootingSince).toBe(bootingSince);
  });

  it('looks first as it would without a boot when the boot is long over (a launched replacement, a retried join)', async () => {
    // Prepare: started ten minutes ago, long past its fast end (38 s) and the point it would be late (59 s).
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-mounts' } });
    const bootingSince = Date.now() - 600_000;

    // Act
    const sent = (await sendCommand({ step: 'apply-node-profile', role: 'worker', instanceIds: ['i-0123456789abcdef0'], cluster: CLUSTER, bootingSince }, context)) as { pollAfterSeconds: number; sentAt: number; timedFrom: number; bootingSince: number };

    // Assess: only the fast end of the step's own run (8 s × 0.85 → 6 s), timed from the send.
    expect(sent.pollAfterSeconds).toBe(6);
    expect(sent.timedFrom).toBe(sent.sentAt);
    expect(sent.bootingSince).toBe(bootingSince);
  });

  it('takes a null boot start as a node that is not booting (a re-joined master)', async () => {
    // Prepare
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-rejoin' } });

    // Act
    const sent = (await sendCommand({ step: 'apply-node-profile', role: 'worker', instanceIds: ['i-0123456789abcdef0'], cluster: CLUSTER, bootingSince: null }, context)) as unknown as Record<string, unknown>;

    // Assess
    expect(ssm).toHaveReceivedCommandTimes(SendCommandCommand, 1);
    expect(sent.pollAfterSeconds).toBe(6);
    expect(sent).not.toHaveProperty('bootingSince');
    expect(sent).not.toHaveProperty('timedFrom');
  });

  it('rejects a boot start that is not a time, naming the field, before sending anything', async () => {
    const error = await rejectionOf(sendCommand({ step: 'apply-node-profile', instanceIds: ['i-0123456789abcdef0'], cluster: CLUSTER, bootingSince: 'soon' }, context));
    expect(error.name).toBe('InputValidationError');
    expect(error.message).toContain('bootingSince');
    expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
  });

  it('turns throttling that outlived the SDK retries into AwsThrottledError for the state machine to back off', async () => {
    ssm.on(SendCommandCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const error = await rejectionOf(
      sendCommand(
        {
          step: 'install-cni',
          instanceIds: ['i-0123456789abcdef0'],
          cluster: CLUSTER,
        },
        context,
      ),
    );
    expect(error.name).toBe('AwsThrottledError');
    expect(error.cause).toBeInstanceOf(Error);
  });
});

describe('await-command handler', () => {
  const command = { commandId: 'cmd-1', step: 'join-worker', instanceIds: ['i-0123456789abcdef0'], deadline: Date.now() + 60_000, sentAt: Date.now(), markAs: 'joined' };

  it('records the node state on the instances once the command succeeded', async () => {
    ssm.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: [{ InstanceId: 'i-0123456789abcdef0', Status: 'Success' }] });
    const output = await awaitCommand({ command }, context);
    expect(output).toMatchObject({ status: 'Success' });
    expect(ec2).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: ['i-0123456789abcdef0'], Tags: [{ Key: 'kubeha:node-state', Value: 'joined' }] });
  });

  it('reads the failed instance output and records nothing', async () => {
    ssm.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: [{ InstanceId: 'i-0123456789abcdef0', Status: 'Failed' }] });
    ssm.on(GetCommandInvocationCommand).resolves({ StandardOutputContent: '', StandardErrorContent: 'kubeha: error: kubeadm join failed' });
    const error = await rejectionOf(awaitCommand({ command }, context));
    expect(error.name).toBe('CommandFailedError');
    expect(error.message).toContain('kubeadm join failed');
    expect(ec2).not.toHaveReceivedCommand(CreateTagsCommand);
  });
});

describe('await-command handler and a standby that was sent its command as it booted', () => {
  const delayed = { CommandInvocations: [{ InstanceId: 'i-0123456789abcdef0', Status: 'Delayed' as const }] };
  const running = { Reservations: [{ Instances: [{ InstanceId: 'i-0123456789abcdef0', State: { Name: 'running' as const }, Tags: [] }] }] };

  it('keeps waiting while the running standby has not connected within its boot deadline', async () => {
    // Prepare
    ssm.on(ListCommandInvocationsCommand).resolves(delayed);
    ec2.on(DescribeInstancesCommand).resolves(running);
    const now = Date.now();
    const command = { commandId: 'cmd-2', step: 'join-worker', instanceIds: ['i-0123456789abcdef0'], deadline: now + 3_600_000, sentAt: now - 60_000, bootingSince: now - 61_000, timedFrom: now - 2_000 };

    // Act
    const output = await awaitCommand({ command }, context);

    // Assess
    expect(output).toMatchObject({ status: 'InProgress', pending: ['i-0123456789abcdef0'] });
    expect(ssm).not.toHaveReceivedCommand(CancelCommandCommand);
  });

  it('fails the step naming the standby, and cancels the command there, once its agent has not connected 15 minutes after the start', async () => {
    // Prepare
    ssm.on(ListCommandInvocationsCommand).resolves(delayed);
    ssm.on(CancelCommandCommand).resolves({});
    ec2.on(DescribeInstancesCommand).resolves(running);
    const now = Date.now();
    const command = { commandId: 'cmd-3', step: 'join-worker', instanceIds: ['i-0123456789abcdef0'], deadline: now + 3_600_000, sentAt: now - 900_000, bootingSince: now - 901_000, timedFrom: now - 842_000 };

    // Act
    const error = await rejectionOf(awaitCommand({ command }, context));

    // Assess
    expect(error.name).toBe('CommandFailedError');
    expect(error.message).toContain('i-0123456789abcdef0 (Undeliverable): the instance is running but its SSM agent has not connected 15 minutes after it was started');
    expect(ssm).toHaveReceivedCommandWith(CancelCommandCommand, { CommandId: 'cmd-3', InstanceIds: ['i-0123456789abcdef0'] });
  });
});

describe('place-elastic-ip handler', () => {
  const input = { clusterName: 'prod-eu', allocationId: 'eipalloc-0abc12345def67890', instanceId: 'i-0123456789abcdef0' };

  it('does nothing when the Elastic IP is already on the instance', async () => {
    ec2.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: input.allocationId, PublicIp: '203.0.113.10', InstanceId: input.instanceId }] });
    expect(await placeElasticIp(input, context)).toEqual({ moved: false, publicIp: '203.0.113.10' });
    expect(ec2).not.toHaveReceivedCommand(AssociateAddressCommand);
  });

  it('moves it with reassociation allowed when it is elsewhere', async () => {
    ec2.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: input.allocationId, PublicIp: '203.0.113.10', InstanceId: 'i-0fffffffffffffff0' }] });
    ec2.on(AssociateAddressCommand).resolves({});
    expect(await placeElasticIp(input, context)).toEqual({ moved: true, publicIp: '203.0.113.10' });
    expect(ec2).toHaveReceivedCommandWith(AssociateAddressCommand, { AllocationId: input.allocationId, InstanceId: input.instanceId, AllowReassociation: true });
  });

  it('rejects a malformed allocation id before calling EC2', async () => {
    const error = await rejectionOf(placeElasticIp({ ...input, allocationId: 'eip-1' }, context));
    expect(error.message).toBe('allocationId: must be an Elastic IP allocation id');
    expect(ec2).not.toHaveReceivedCommand(DescribeAddressesCommand);
  });
});

describe('notify handler', () => {
  const failure = { Error: 'InsufficientCapacityError', Cause: JSON.stringify({ errorType: 'InsufficientCapacityError', errorMessage: 'EC2 has too little capacity to launch the replacement of master i-0dead in eu-west-1a now' }) };

  it('refuses a wait for capacity without the instance or with rounds out of range, naming the field, before publishing', async () => {
    // Act
    const withoutInstance = await rejectionOf(notify({ clusterName: 'prod-eu', failure, waitingForCapacity: { retryEverySeconds: 300, rounds: 18 }, executionArn: 'arn:exec' }, context));
    const noRounds = await rejectionOf(notify({ clusterName: 'prod-eu', instanceId: 'i-0dead', failure, waitingForCapacity: { retryEverySeconds: 300, rounds: 0 }, executionArn: 'arn:exec' }, context));

    // Assess
    expect(withoutInstance.name).toBe('InputValidationError');
    expect(withoutInstance.message).toContain('instanceId');
    expect(noRounds.name).toBe('InputValidationError');
    expect(noRounds.message).toContain('waitingForCapacity.rounds');
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
  });
});
