// Healing on a simulator as unpleasant as AWS: what EC2 forgets, what arrives late or twice, what
// SSM truncates, and what happens when healing keeps failing.
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { ec2 as ec2Adapter } from '../../functions/adapters/ec2.js';
import { AwsThrottledError } from '../../functions/core/errors.js';
import { launchRecordKey } from '../../functions/core/launch-records.js';
import { type SimInstance, SimulatedFleet } from '../../sim/fleet.js';
import { OUTPUT_TRUNCATED_SUFFIX, agentPrefix, isOnline, isRegistered, pollCommand, sendCommand } from '../../sim/ssm.js';
import { ports } from '../../functions/adapters/index.js';
import { awaitStep } from '../../functions/core/bootstrap.js';
import { createLogger } from '../../functions/core/log.js';
import { STOP_SECONDS, BOOT_SECONDS } from '../../sim/fleet.js';
import { bootstrappedCluster } from '../support/cluster.js';
import { inInvocation } from '../../sim/handler-time.js';

function replacementsOf(fleet: SimulatedFleet, dead: SimInstance): SimInstance[] {
  return [...fleet.instances.values()].filter((instance) => instance.tags['kubeha:replaces'] === dead.instanceId);
}

function etcdMembers(fleet: SimulatedFleet) {
  return fleet.clusters.get('demo')!.etcdMembers;
}

function runningMasters(fleet: SimulatedFleet) {
  return fleet.byRole('master').filter((master) => master.state === 'running');
}

describe('replacing from launch records', () => {
  it('shows that the dead instance itself no longer says how to rebuild it', async () => {
    // Prepare
    const { fleet } = await bootstrappedCluster();
    const dead = fleet.byRole('master')[1]!;
    fleet.terminateInstance(dead.instanceId);

    // Act: what the first release read from the corpse (its spec, its address).
    const facts = await ec2Adapter.launchFactsOf([dead.instanceId]);
    const described = await ec2Adapter.describeInstance(dead.instanceId);

    // Assess
    expect(facts).toEqual([]);
    expect(described).toMatchObject({ ec2State: 'terminated', privateIp: undefined, subnetId: undefined });
  });

  it('stops with what to configure when neither a launch record nor a launch template exists', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const dead = fleet.byRole('worker')[0]!;
    fleet.items.delete(`cluster#demo|${launchRecordKey(dead.instanceId)}`);

    fleet.terminateInstance(dead.instanceId);
    await plane.deliver(dead.instanceId, 'terminated');
    const [heal] = await plane.settle();

    expect(heal?.error?.name).toBe('ClusterStateError');
    expect(fleet.notifications.at(-1)?.message).toContain('no launch record');
    expect(fleet.notifications.at(-1)?.message).toContain('add launchTemplates.worker');
    expect(replacementsOf(fleet, dead)).toEqual([]);
  });

  it('replaces a master whose terminated event arrives after EC2 has forgotten it, on its recorded address', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const dead = fleet.byRole('master')[2]!;
    const address = dead.privateIp;

    fleet.terminateInstance(dead.instanceId);
    fleet.advance(fleet.terminatedRetentionSeconds + 60);
    await plane.deliver(dead.instanceId, 'terminated');
    const [heal] = await plane.settle();

    expect(heal?.error).toBeUndefined();
    const [replacement] = replacementsOf(fleet, dead);
    expect(replacement?.privateIp).toBe(address);
    expect(etcdMembers(fleet).map((member) => member.instanceId)).toContain(replacement!.instanceId);
    expect(etcdMembers(fleet).every((member) => member.healthy)).toBe(true);
  });
});

describe('what EC2 says right after a launch', () => {
  it('does not know an instance for a while after RunInstances returned it, by id or by tag, then lists it', async () => {
    // Prepare
    const { fleet } = await bootstrappedCluster();
    const worker = fleet.byRole('worker')[0]!;
    const launched = await ec2Adapter.runInstance(
      { imageId: 'ami-0kubeha0ubuntu2404', instanceType: 't3.medium', subnetId: worker.subnetId, securityGroupIds: worker.securityGroupIds, tags: { 'kubernetes.io/cluster/demo': 'owned', 'kubeha:role': 'worker' } },
      { clientToken: 'eventual-consistency' },
    );
    const { instanceId } = launched as { instanceId: string };

    // Act
    const byIdAtOnce = await ec2Adapter.describeInstance(instanceId);
    const byTagAtOnce = (await ec2Adapter.findClusterInstances('demo')).map((instance) => instance.instanceId);
    fleet.advance(fleet.describeLagSeconds);
    const byIdLater = await ec2Adapter.describeInstance(instanceId);

    // Assess
    expect(byIdAtOnce).toBeUndefined();
    expect(byTagAtOnce).not.toContain(instanceId);
    expect(byIdLater).toMatchObject({ instanceId, ec2State: 'pending' });
  });
});

describe('a function that runs past its timeout', () => {
  it('is stopped there: the call on its way when time ran out reaches EC2, the next one never does', async () => {
    // Prepare: DescribeInstances hangs for 40 s, beyond a 30 s timeout.
    const { fleet } = await bootstrappedCluster();
    const worker = fleet.byRole('worker')[0]!;
    fleet.slowDown('DescribeInstances', 40);
    const instancesBefore = fleet.instances.size;

    // Act: a function that reads the fleet, then launches.
    const invocation = inInvocation(async () => {
      await ec2Adapter.findClusterInstances('demo');
      return ec2Adapter.runInstance({ imageId: 'ami-0kubeha0ubuntu2404', instanceType: 't3.medium', subnetId: worker.subnetId, tags: { 'kubernetes.io/cluster/demo': 'owned', 'kubeha:role': 'worker' } }, { clientToken: 'after-the-timeout' });
    }, 30_000);

    // Assess: whatever the adapter makes of the refusal, the runner reports Sandbox.Timedout from the time spent.
    await expect(invocation.result).rejects.toThrow();
    expect(invocation.elapsedMs()).toBeGreaterThan(30_000);
    expect(fleet.calls.filter((call) => call.operation === 'DescribeInstances')).not.toEqual([]);
    expect(fleet.calls.filter((call) => call.operation === 'RunInstances')).toEqual([]);
    expect(fleet.instances.size).toBe(instancesBefore);
  });
});

describe('one replacement per dead instance', () => {
  it('starts one healing for two events with different ids and a reconcile, all racing', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const dead = fleet.byRole('master')[1]!;
    fleet.terminateInstance(dead.instanceId);

    await Promise.all([plane.deliver(dead.instanceId, 'terminated', 'evt-a'), plane.deliver(dead.instanceId, 'terminated', 'evt-b')]);
    fleet.advance(11 * 60);
    await plane.reconcile();
    fleet.advance(11 * 60);
    await plane.reconcile();
    const heals = await plane.settle();

    expect(heals.map((heal) => heal.error)).toEqual([undefined]);
    expect(replacementsOf(fleet, dead)).toHaveLength(1);
    expect(runningMasters(fleet)).toHaveLength(3);
    expect(etcdMembers(fleet)).toHaveLength(3);
  });

  it('launches one replacement when the launch is retried after EC2 made it, with the address come free and the instance not yet listed', async () => {
    // Prepare: the dead master's address is held, so the replacement goes beside it. The launch function runs
    // past its timeout after EC2 launched; meanwhile the holder lets go of the address, and DescribeInstances,
    // eventually consistent, does not list the new instance for minutes.
    const { fleet, plane } = await bootstrappedCluster();
    const dead = fleet.byRole('master')[1]!;
    fleet.terminateInstance(dead.instanceId);
    const holder = fleet.addInstance({ clusterName: 'someone-else', subnetId: dead.subnetId, privateIp: dead.privateIp });
    fleet.describeLagSeconds = 300;
    fleet.addressReleaseSeconds = 0;
    fleet.slowDown('RunInstances', 20);
    fleet.instanceLaunchedHooks.push(() => {
      fleet.slowDown('RunInstances', 0);
      if (holder.state === 'running') fleet.terminateInstance(holder.instanceId);
    });

    // Act
    await plane.deliver(dead.instanceId, 'terminated');
    const [heal] = await plane.settle();

    // Assess: the retry got the instance the first attempt made, and nothing else was launched.
    expect(heal?.tasks.filter((task) => task.state === 'Launch a replacement master').map((task) => task.error?.split(':')[0])).toEqual(['Sandbox.Timedout', undefined]);
    expect(heal?.error).toBeUndefined();
    expect(replacementsOf(fleet, dead)).toHaveLength(1);
    expect(replacementsOf(fleet, dead)[0]!.privateIp).not.toBe(dead.privateIp);
    expect(etcdMembers(fleet)).toHaveLength(3);
  });

  it('starts nothing for an event, however new its id, about an instance already replaced', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const dead = fleet.byRole('worker')[1]!;
    fleet.terminateInstance(dead.instanceId);
    await plane.deliver(dead.instanceId, 'terminated', 'evt-first');
    await plane.settle();
    const executions = fleet.executions.size;

    fleet.advance(120);
    const late = (await plane.deliver(dead.instanceId, 'terminated', 'evt-resent-with-new-id')).outcome;
    await plane.reconcile();
    const again = (await plane.deliver(dead.instanceId, 'shutting-down', 'evt-out-of-order')).outcome;
    await plane.settle();

    expect(late).toMatchObject({ action: 'healing', execution: { started: false } });
    expect(again).toMatchObject({ action: 'ignored' });
    expect(fleet.executions.size).toBe(executions);
    expect(replacementsOf(fleet, dead)).toHaveLength(1);
  });
});

describe('events that never arrive', () => {
  it('heals a master terminated without any event, once reconcile has seen it dead past the grace period', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const dead = fleet.byRole('master')[0]!;
    fleet.terminateInstance(dead.instanceId);

    await plane.reconcile();
    expect(fleet.executions.size).toBe(1);
    fleet.advance(11 * 60);
    await plane.reconcile();
    const [heal] = await plane.settle();

    expect(heal?.error).toBeUndefined();
    expect(replacementsOf(fleet, dead)).toHaveLength(1);
    expect(runningMasters(fleet)).toHaveLength(3);
    expect(etcdMembers(fleet).every((member) => member.healthy)).toBe(true);
  });
});

describe('when healing keeps failing', () => {
  it('retries with new execution names and backoff, then tells a human once and stops', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const dead = fleet.byRole('worker')[0]!;
    fleet.failDocument({ document: 'JoinWorker', times: 1000, stderr: 'error execution phase kubelet-start: timed out waiting for the condition' });

    fleet.terminateInstance(dead.instanceId);
    await plane.deliver(dead.instanceId, 'terminated');
    await plane.settle();
    for (let run = 0; run < 8; run += 1) {
      fleet.advance(21 * 60);
      await plane.reconcile();
      await plane.settle();
    }

    const heals = plane.executionsOf('heal-worker');
    expect(heals.map((execution) => execution.name)).toEqual([1, 2, 3].map((attempt) => `${dead.instanceId}-terminated-1-${attempt}`));
    expect(heals.every((execution) => execution.status === 'FAILED')).toBe(true);
    const givingUp = fleet.notifications.filter((notification) => notification.subject.includes('failed 3 times'));
    expect(givingUp).toHaveLength(1);
    expect(givingUp[0]!.message).toContain(`kubeha heal --cluster demo --instance ${dead.instanceId}`);
    // Every attempt reused the one replacement it launched first instead of piling up instances.
    expect(replacementsOf(fleet, dead)).toHaveLength(1);
  });
});

describe('command output beyond what GetCommandInvocation keeps', () => {
  it('reads the status of a 1,000-worker cluster from S3 and finds it healthy', async () => {
    // Prepare: 1,000 more Ready workers, so the status report is far beyond 24,000 characters.
    const { fleet, plane } = await bootstrappedCluster();
    fleet.addJoinedWorkers('demo', 1000);

    // Act
    const report = (await plane.reconcile()) as { clusters: { deepChecks: boolean; actions: unknown[] }[] };

    // Assess
    const statuses = fleet.invocations.filter((invocation) => invocation.document === 'ClusterStatus');
    const full = statuses.filter((invocation) => invocation.parameters.StatusScope === 'full');
    expect(full).toHaveLength(1);
    expect(full[0]!.stdout.length).toBeGreaterThan(24_000);
    // The other masters report their certificates only: the Node list is read from one master.
    const others = statuses.filter((invocation) => invocation.parameters.StatusScope === 'certificates');
    expect(others).toHaveLength(2);
    for (const other of others) expect(other.stdout.length).toBeLessThan(1_000);
    expect(report.clusters[0]).toMatchObject({ deepChecks: true, actions: [] });
  });

  it('cuts a stream as the agent does: 24,000 bytes at most, ending with its suffix, a multi-byte character cut in two', () => {
    // Prepare: 3-byte characters, so 23,980 bytes end inside one.
    const stream = '✓'.repeat(10_000);

    // Act
    const kept = agentPrefix(stream, 24_000);

    // Assess
    expect(Buffer.byteLength(kept, 'utf8')).toBeLessThanOrEqual(24_000 + 2);
    expect(kept.endsWith(OUTPUT_TRUNCATED_SUFFIX)).toBe(true);
    expect(kept).toContain('\uFFFD');
    expect(kept.length).toBe(7_993 + 1 + OUTPUT_TRUNCATED_SUFFIX.length);
    expect(agentPrefix('short', 24_000)).toBe('short');
  });
});

describe('escalation, as MachineHealthCheck remediates', () => {
  it('replaces a running worker that stays NotReady after its re-join failed', async () => {
    // Prepare: the worker's kubelet is wedged and it cannot join again either (a broken node).
    const { fleet, plane } = await bootstrappedCluster();
    const sick = fleet.byRole('worker')[1]!;
    fleet.wedgeNode(sick.instanceId);
    fleet.failDocument({ document: 'JoinWorker', instanceId: sick.instanceId, times: 100, stderr: 'error execution phase kubelet-start: timed out waiting for the condition' });

    // Act: reconcile notices past the grace period, heals, and comes back after the backoff.
    await plane.reconcile();
    for (let run = 0; run < 4; run += 1) {
      fleet.advance(11 * 60);
      await plane.reconcile();
      await plane.settle();
    }

    // Assess
    const heals = plane.executionsOf('heal-worker');
    expect(heals.map((execution) => [execution.name, execution.status])).toEqual([
      [`${sick.instanceId}-running-1-1`, 'FAILED'],
      [`${sick.instanceId}-running-1-2`, 'SUCCEEDED'],
    ]);
    expect(sick.state).toBe('terminated');
    expect(sick.tags['kubeha:retiring']).toBeDefined();
    const [replacement] = replacementsOf(fleet, sick);
    const nodes = fleet.clusters.get('demo')!.nodes;
    expect(nodes.find((node) => node.instanceId === replacement!.instanceId)?.ready).toBe(true);
    expect(nodes.filter((node) => node.role === 'worker' && node.ready)).toHaveLength(3);
  });
});

describe('documents pinned to the set the functions were built with', () => {
  it('runs every command of a heal by the digest-named document, version 1, and refuses a document of another set', async () => {
    // Prepare
    const { fleet, plane } = await bootstrappedCluster();
    const dead = fleet.byRole('worker')[2]!;
    const before = fleet.calls.length;

    // Act
    fleet.terminateInstance(dead.instanceId);
    await plane.deliver(dead.instanceId, 'terminated');
    const [heal] = await plane.settle();

    // Assess
    expect(heal?.error).toBeUndefined();
    const sends = fleet.calls.slice(before).filter((call) => call.operation === 'SendCommand').map((call) => call.input as { DocumentName: string; DocumentVersion?: string });
    expect(sends.length).toBeGreaterThan(3);
    for (const send of sends) {
      expect(send.DocumentName).toMatch(new RegExp(`^kubeha-local-[A-Za-z]+${fleet.deployedDocumentSuffix}$`));
      expect(send.DocumentVersion).toBe('1');
    }
    expect(() => sendCommand(fleet, 'kubeha-local-ResetNode-0123456789', [dead.instanceId], {})).toThrow(/does not exist/);
  });
});

describe('throttling, when the simulator is asked to meter rates as AWS does', () => {
  it('answers a call to an empty bucket with the service\'s throttling error, and refills the bucket with time', () => {
    // Prepare: ListCommandInvocations holds 2 requests and gains 1 a second; DescribeInstances 1 and 1.
    const fleet = SimulatedFleet.standard({ workers: 1 });
    fleet.limitRates((service, operation) => (operation === 'ListCommandInvocations' || operation === 'DescribeInstances' ? { burst: operation === 'DescribeInstances' ? 1 : 2, perSecond: 1 } : undefined));

    // Act / Assess: each call takes 0.12 modelled seconds, so the third in a row finds the bucket empty.
    fleet.record('ssm', 'ListCommandInvocations', {});
    fleet.record('ssm', 'ListCommandInvocations', {});
    expect(() => fleet.record('ssm', 'ListCommandInvocations', {})).toThrow(expect.objectContaining({ name: 'ThrottlingException' }));
    fleet.record('ec2', 'DescribeInstances', {});
    expect(() => fleet.record('ec2', 'DescribeInstances', {})).toThrow(expect.objectContaining({ name: 'RequestLimitExceeded' }));
    // An API without a bucket is never throttled; a second later the bucket has a token again.
    for (let call = 0; call < 20; call += 1) fleet.record('ssm', 'SendCommand', {});
    fleet.advance(1);
    expect(() => fleet.record('ssm', 'ListCommandInvocations', {})).not.toThrow();
    expect(fleet.rateLimitedCalls).toBe(2);
  });

  it('reaches the handlers as AwsThrottledError, the name the state machines retry', async () => {
    // Prepare
    const { fleet } = await bootstrappedCluster({ workers: 1 });
    fleet.limitRates((service, operation) => (operation === 'DescribeInstances' ? { burst: 1, perSecond: 0.01 } : undefined));
    await ec2Adapter.findClusterInstances('demo');

    // Act
    const second = ec2Adapter.findClusterInstances('demo');

    // Assess
    await expect(second).rejects.toBeInstanceOf(AwsThrottledError);
    await expect(second).rejects.toMatchObject({ cause: { name: 'RequestLimitExceeded' } });
  });
});

describe('a command for a node that is not connected', () => {
  const install = { KubernetesVersion: '1.36.4', Role: 'worker', ExecutionTimeout: '600' };

  it('is held as Delayed, runs once the node is started and its agent connects, and times out on a node that stays stopped', () => {
    // Prepare: two registered workers, both stopped.
    const fleet = SimulatedFleet.standard({ workers: 2 });
    const [started, stopped] = fleet.byRole('worker') as [SimInstance, SimInstance];
    for (const worker of [started, stopped]) fleet.stopInstance(worker.instanceId);
    fleet.advance(STOP_SECONDS + 1);

    // Act
    const toStarted = sendCommand(fleet, 'kubeha-local-InstallPrerequisites', [started.instanceId], install, undefined, undefined, 600);
    const toStopped = sendCommand(fleet, 'kubeha-local-InstallPrerequisites', [stopped.instanceId], install, undefined, undefined, 600);
    const whileStopped = pollCommand(fleet, toStarted)[0]!.status;
    fleet.startInstance(started.instanceId);
    fleet.advance(BOOT_SECONDS + 200);
    const delivered = pollCommand(fleet, toStarted)[0]!;
    const beforeTimeout = pollCommand(fleet, toStopped)[0]!.status;
    fleet.advance(1200);
    const timedOut = pollCommand(fleet, toStopped)[0]!;

    // Assess
    expect(whileStopped).toBe('Delayed');
    expect(delivered.status).toBe('Success');
    expect(delivered.startedAt).toBe(started.onlineSince);
    expect(started.node.prerequisites?.kubernetesVersion).toBe('1.36.4');
    expect(beforeTimeout).toBe('Delayed');
    expect(timedOut.status).toBe('TimedOut');
    expect(stopped.node.prerequisites).toBeUndefined();
  });

  it('is refused for a launched instance whose agent was cut off before it ever registered, and held as Delayed for a registered one that boots cut off', () => {
    // Prepare: a fresh launch cut off at once, and a registered worker cut off, stopped and started again.
    const fleet = SimulatedFleet.standard({ workers: 1 });
    const [worker] = fleet.byRole('worker') as [SimInstance];
    const subnetId = [...fleet.subnets.keys()][0]!;
    const launched = fleet.runInstance({ imageId: 'ami-0123456789abcdef0', instanceType: 't3.medium', subnetId, securityGroupIds: [], volumeSizes: [20], tags: { 'kubernetes.io/cluster/demo': 'owned' } });
    fleet.cutAgentOff(launched.instanceId);
    fleet.cutAgentOff(worker.instanceId);
    fleet.stopInstance(worker.instanceId);
    fleet.advance(STOP_SECONDS + 1);
    fleet.startInstance(worker.instanceId);

    // Act: long past a boot and a registration.
    fleet.advance(BOOT_SECONDS + fleet.agentRegistrationSeconds + 600);
    fleet.settleLifecycles();
    const refused = (() => {
      try {
        sendCommand(fleet, 'kubeha-local-InstallPrerequisites', [launched.instanceId], install);
        return undefined;
      } catch (error) {
        return error as Error;
      }
    })();
    const held = sendCommand(fleet, 'kubeha-local-InstallPrerequisites', [worker.instanceId], install);
    fleet.advance(60);

    // Assess
    expect(launched.state).toBe('running');
    expect([isRegistered(fleet, launched), isOnline(fleet, launched)]).toEqual([false, false]);
    expect(refused?.name).toBe('InvalidInstanceId');
    expect(refused?.message).toContain(launched.instanceId);
    expect([isRegistered(fleet, worker), isOnline(fleet, worker)]).toEqual([true, false]);
    expect(pollCommand(fleet, held)[0]!.status).toBe('Delayed');
  });

  it('is about a node DescribeInstanceInformation leaves out once stopped: the API lists no stopped or terminated node', async () => {
    // Prepare: a joined worker stops; another runs.
    const { fleet } = await bootstrappedCluster({ workers: 2 });
    const [stopped, running] = fleet.byRole('worker') as [SimInstance, SimInstance];
    fleet.requestStop(stopped.instanceId);
    fleet.advance(STOP_SECONDS + 1);

    // Act
    const answer = await new SSMClient({ region: fleet.region }).send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [stopped.instanceId, running.instanceId] }] }));

    // Assess
    expect(answer.InstanceInformationList?.map((info) => [info.InstanceId, info.PingStatus])).toEqual([[running.instanceId, 'Online']]);
  });

  it('fails the step at its next poll, naming the stopped node, and cancels the command there so a restart never runs it late', async () => {
    // Prepare: a joined worker stops; a step's command is sent to it anyway (it was running when the step began).
    const { fleet } = await bootstrappedCluster({ workers: 2 });
    const [worker, other] = fleet.byRole('worker') as [SimInstance, SimInstance];
    fleet.stopInstance(worker.instanceId);
    fleet.advance(STOP_SECONDS + 1);
    const sentAt = fleet.now();
    const commandId = await ports.ssm.sendCommand({ documentName: `kubeha-local-ResetNode${fleet.deployedDocumentSuffix ?? ''}`, instanceIds: [worker.instanceId, other.instanceId], parameters: { ExecutionTimeout: '600' }, comment: 'kubeha demo reset-node', timeoutSeconds: 600 });
    fleet.advance(30);
    const command = { commandId, step: 'reset-node' as const, instanceIds: [worker.instanceId, other.instanceId], deadline: sentAt + 1_800_000, sentAt };

    // Act
    const polled = awaitStep(command, ports, createLogger());

    // Assess
    await expect(polled).rejects.toMatchObject({ name: 'CommandFailedError', message: expect.stringMatching(new RegExp(`${worker.instanceId} \\(Undeliverable\\): the instance is stopped: SSM held the command as Delayed`)) });
    fleet.startInstance(worker.instanceId);
    fleet.advance(BOOT_SECONDS + 60);
    const [onWorker, onOther] = [worker, other].map((instance) => pollCommand(fleet, commandId).find((invocation) => invocation.instanceId === instance.instanceId)!);
    expect(onWorker!.status).toBe('Cancelled');
    expect(onOther!.status).toBe('Success');
    expect(worker.node.documentsRun).not.toContain('ResetNode');
  });
});
