import { describe, expect, it } from 'vitest';
import { type ClusterContext, type PendingCommand, buildCommand, interpretInvocations, needsOutput, parseResult } from '../../functions/core/commands.js';
import { CommandFailedError, CommandTimedOutError } from '../../functions/core/errors.js';

const cluster: ClusterContext = {
  clusterName: 'prod-eu',
  kubernetesVersion: '1.36.4',
  podCidr: '192.168.0.0/16',
  serviceCidr: '10.96.0.0/12',
  cniVersion: 'v3.31.3',
  loadBalancerPort: 6443,
  elasticIpAllocationId: 'eipalloc-0abc12345def67890',
  stepTimeoutMinutes: 30,
  endpoint: '203.0.113.10:6443',
  certSans: ['203.0.113.10', '10.0.0.5'],
  masterIps: ['10.0.0.11', '10.0.16.11', '10.0.32.11'],
  loadBalancerIps: ['10.0.0.5', '10.0.16.5'],
  workerCount: 3,
};
const joinMaterial = { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kubeha/prod/prod-eu/control-plane-join-AbCdEf', versionId: 'a1b2c3d4-0000-1111-2222-333344445555' };
const caCertHash = `sha256:${'ab'.repeat(32)}`;

function pending(overrides: Partial<PendingCommand> = {}): PendingCommand {
  return { commandId: 'cmd-1', step: 'join-worker', instanceIds: ['i-0000000000000000a', 'i-0000000000000000b'], deadline: 10_000, sentAt: 0, ...overrides };
}

describe('buildCommand', () => {
  it("keeps reconcile's per-minute probe out of the output bucket, and every other step's output in it", () => {
    const environment = { documentPrefix: 'kubeha-prod-', region: 'eu-west-1' };

    const probe = buildCommand({ step: 'probe-load-balancer', instanceIds: ['i-0000000000000000a'], cluster }, environment);
    const status = buildCommand({ step: 'cluster-status', instanceIds: ['i-0000000000000000a'], cluster }, environment);

    expect(probe.outputToS3).toBe(false);
    expect(status.outputToS3).toBeUndefined();
  });

  it('passes secret references (ARN and version), never values, to a control-plane join', () => {
    const command = buildCommand({ step: 'join-control-plane', instanceIds: ['i-0000000000000000a'], cluster, joinMaterial, caCertHash }, { documentPrefix: 'kubeha-prod-', region: 'eu-west-1' });
    expect(command).toEqual({
      documentName: 'kubeha-prod-JoinControlPlane',
      instanceIds: ['i-0000000000000000a'],
      parameters: {
        ControlPlaneEndpoint: '203.0.113.10:6443',
        CaCertHash: caCertHash,
        JoinSecretArn: joinMaterial.secretArn,
        JoinSecretVersionId: joinMaterial.versionId,
        EncryptionSecretId: 'kubeha/local/prod-eu/encryption-keys',
        Region: 'eu-west-1',
        ExecutionTimeout: '1800',
      },
      comment: 'kubeha prod-eu join-control-plane',
      timeoutSeconds: 600,
    });
  });

  it('gives the load balancers every master address and the load balancers primary first', () => {
    const command = buildCommand({ step: 'configure-load-balancer', instanceIds: ['i-0000000000000000c'], cluster }, { documentPrefix: 'kubeha-prod-', region: 'eu-west-1' });
    expect(command.parameters).toMatchObject({ MasterAddresses: '10.0.0.11,10.0.16.11,10.0.32.11', LoadBalancerAddresses: '10.0.0.5,10.0.16.5', ListenPort: '6443' });
  });

  it('refuses to build a join before join material or the CA hash exist', () => {
    expect(() => buildCommand({ step: 'join-worker', instanceIds: ['i-0000000000000000a'], cluster, caCertHash }, { documentPrefix: 'p-', region: 'eu-west-1' })).toThrow(CommandFailedError);
    expect(() => buildCommand({ step: 'join-worker', instanceIds: ['i-0000000000000000a'], cluster, joinMaterial }, { documentPrefix: 'p-', region: 'eu-west-1' })).toThrow(/CA certificate hash is unknown/);
  });
});

describe('interpretInvocations', () => {
  it('reports InProgress while any target is pending or not yet listed', () => {
    const progress = interpretInvocations(pending(), [{ instanceId: 'i-0000000000000000a', status: 'Success' }], 5_000);
    expect(progress).toEqual({ status: 'InProgress', pending: ['i-0000000000000000b'], pollAfterSeconds: 2 });
  });

  it('polls a heal\'s command at the heal\'s share of the rate, in its slot', () => {
    // Prepare: a heal among 20 polls every 4 s in slot 3.
    const invocations = [{ instanceId: 'i-0000000000000000a', status: 'InProgress' as const }];
    const command = pending({ deadline: 600_000, pollEverySeconds: 4, pollSlot: 3 });

    // Act: polled 30.2 s after the epoch; the next look would be second 34 (slot 2).
    const progress = interpretInvocations(command, invocations, 30_200);

    // Assess: moved to second 35, in slot 3.
    expect(progress).toMatchObject({ status: 'InProgress', pollAfterSeconds: 5 });
  });

  it('polls a running command briefly while it is likely to finish and slowly once it is late', () => {
    // join-worker typically runs 35 s: late from 35 × 1.2 + 5 = 47 s after it was sent.
    const invocations = [{ instanceId: 'i-0000000000000000a', status: 'InProgress' as const }];
    const command = pending({ deadline: 600_000 });
    expect(interpretInvocations(command, invocations, 46_000)).toMatchObject({ status: 'InProgress', pollAfterSeconds: 2 });
    expect(interpretInvocations(command, invocations, 47_000)).toMatchObject({ status: 'InProgress', pollAfterSeconds: 15 });
  });

  it('reports Success with results only for steps that produce one', () => {
    const done = [
      { instanceId: 'i-0000000000000000a', status: 'Success' as const, stdout: `ok\nKUBEHA_RESULT {"caCertHash":"${caCertHash}"}\n` },
    ];
    expect(interpretInvocations(pending({ step: 'init-first-master', instanceIds: ['i-0000000000000000a'] }), done, 1)).toEqual({
      status: 'Success',
      finishedAt: 1,
      results: [{ instanceId: 'i-0000000000000000a', caCertHash }],
    });
    expect(interpretInvocations(pending({ instanceIds: ['i-0000000000000000a'] }), done, 1)).toMatchObject({ status: 'Success', results: [] });
  });

  it("reads a join's report of its node only when the sender asked for it", () => {
    // Prepare
    const report = { changed: true, members: [], nodes: [{ name: 'ip-10-0-0-12', internalIp: '10.0.0.12', ready: true, controlPlane: false }] };
    const done = [{ instanceId: 'i-0000000000000000a', status: 'Success' as const, stdout: `kubeha: joined\nKUBEHA_RESULT ${JSON.stringify(report)}\n` }];
    const batch = pending({ step: 'join-worker', instanceIds: ['i-0000000000000000a'] });
    const healing: PendingCommand = { ...batch, report: true };

    // Act
    const unasked = interpretInvocations(batch, done, 1);
    const asked = interpretInvocations(healing, done, 1);

    // Assess
    expect(unasked).toMatchObject({ status: 'Success', results: [] });
    expect(asked).toEqual({ status: 'Success', finishedAt: 1, results: [{ instanceId: 'i-0000000000000000a', ...report }] });
    expect(needsOutput(batch, done[0]!)).toBe(false);
    expect(needsOutput(healing, done[0]!)).toBe(true);
  });

  it('throws CommandFailedError naming the step, the instance and the tail of stderr, with join material masked', () => {
    const invocations = [
      { instanceId: 'i-0000000000000000a', status: 'Success' as const },
      { instanceId: 'i-0000000000000000b', status: 'Failed' as const, stderr: 'kubeadm join failed: token abcdef.0123456789abcdef rejected' },
    ];
    const failure = (() => {
      try {
        interpretInvocations(pending(), invocations, 1);
      } catch (error: unknown) {
        return error;
      }
      return undefined;
    })();
    expect(failure).toBeInstanceOf(CommandFailedError);
    expect((failure as Error).message).toBe('step "join-worker" failed on i-0000000000000000b (Failed): kubeadm join failed: token [masked-token] rejected');
  });

  it('throws CommandTimedOutError listing the instances still running after the deadline', () => {
    expect(() => interpretInvocations(pending(), [{ instanceId: 'i-0000000000000000a', status: 'InProgress' }], 10_001)).toThrow(
      new CommandTimedOutError('join-worker', ['i-0000000000000000a', 'i-0000000000000000b']),
    );
  });

  it('treats Undeliverable (agent gone) as a failure of that instance', () => {
    const invocations = [{ instanceId: 'i-0000000000000000a', status: 'Undeliverable' as const }, { instanceId: 'i-0000000000000000b', status: 'Success' as const }];
    expect(() => interpretInvocations(pending(), invocations, 1)).toThrow(/i-0000000000000000a \(Undeliverable\): SSM reported Undeliverable/);
  });

  it('reports a failure only once the rest of the batch has ended, or at the deadline', () => {
    const invocations = [{ instanceId: 'i-0000000000000000a', status: 'Failed' as const }, { instanceId: 'i-0000000000000000b', status: 'InProgress' as const }];
    expect(interpretInvocations(pending(), invocations, 5_000)).toMatchObject({ status: 'InProgress', pending: ['i-0000000000000000b'] });
    expect(() => interpretInvocations(pending(), invocations, 10_001)).toThrow(CommandFailedError);
  });
});

describe('parseResult', () => {
  it('reads the last KUBEHA_RESULT line and ignores malformed ones', () => {
    expect(parseResult('KUBEHA_RESULT {"a":1}\nnoise\nKUBEHA_RESULT {"a":2}\n')).toEqual({ a: 2 });
    expect(parseResult('KUBEHA_RESULT {broken')).toEqual({});
    expect(parseResult('KUBEHA_RESULT [1,2]')).toEqual({});
    expect(parseResult('nothing here')).toEqual({});
  });
});
