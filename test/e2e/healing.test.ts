import { describe, expect, it } from 'vitest';
import { parseResult } from '../../functions/core/commands.js';
import { incidentKey } from '../../functions/core/incidents.js';
import type { SimInstance, SimulatedFleet } from '../../sim/fleet.js';
import { bootstrappedCluster, expectNoSecretLeaked } from '../support/cluster.js';

const MUTATING = ['SendCommand', 'CreateTags', 'AssociateAddress', 'PutSecretValue', 'PutParameter', 'RunInstances', 'StartInstances', 'StartExecution', 'DeleteParameter'];

function etcd(fleet: SimulatedFleet) {
  const cluster = fleet.clusters.get('demo')!;
  return { members: cluster.etcdMembers.map((member) => `${member.name}:${member.healthy ? 'healthy' : 'unhealthy'}`).sort(), nodes: cluster.nodes };
}

function callsSince(fleet: SimulatedFleet, index: number, operation: string) {
  return fleet.calls.slice(index).filter((call) => call.operation === operation);
}

function documentsSince(fleet: SimulatedFleet, index: number, document: string) {
  return fleet.invocations.slice(index).filter((invocation) => invocation.document === document);
}

function replacementOf(fleet: SimulatedFleet, dead: SimInstance): SimInstance | undefined {
  return [...fleet.instances.values()].find((instance) => instance.tags['kubeha:replaces'] === dead.instanceId);
}

describe('healing a master', () => {
  it('replaces a terminated master: snapshot, dead member removed before the join, same-IP replacement joined, lock released', async () => {
    // Prepare
    const { fleet, plane } = await bootstrappedCluster();
    const dead = fleet.byRole('master')[1]!;
    // The dead master's ENI lets go of its address before the replacement launches (the taken case is below).
    fleet.addressReleaseSeconds = 5;
    const before = { calls: fleet.calls.length, invocations: fleet.invocations.length };

    // Act
    fleet.terminateInstance(dead.instanceId);
    await plane.deliver(dead.instanceId, 'terminated');
    const [heal] = await plane.settle();

    // Assess
    expect(heal?.error).toBeUndefined();
    const replacement = replacementOf(fleet, dead)!;
    expect(replacement.privateIp).toBe(dead.privateIp);
    expect(etcd(fleet).members).toEqual(['ip-10-0-0-11:healthy', 'ip-10-0-16-11:healthy', 'ip-10-0-32-10:healthy']);
    expect(fleet.clusters.get('demo')!.etcdMembers.map((member) => member.instanceId)).toContain(replacement.instanceId);
    expect(etcd(fleet).nodes.filter((node) => node.ready)).toHaveLength(6);
    expect(fleet.snapshots).toHaveLength(1);
    const order = fleet.invocations.slice(before.invocations).map((invocation) => invocation.document);
    expect(order.indexOf('SnapshotEtcd')).toBeLessThan(order.indexOf('RemoveEtcdMember'));
    // The replacement boots and installs meanwhile (sim/dag.ts); only its join waits for the removal.
    const joinedAt = documentsSince(fleet, before.invocations, 'JoinControlPlane')[0]!.startedAt;
    expect(documentsSince(fleet, before.invocations, 'RemoveEtcdMember')[0]!.finishesAt).toBeLessThan(joinedAt);
    expect(documentsSince(fleet, before.invocations, 'ConfigureLoadBalancer')).toEqual([]);
    expect(fleet.items.has('cluster#demo|lock')).toBe(false);
    expectNoSecretLeaked(fleet, [...plane.runs.values()]);
  });

  it('starts a stopped master and waits for it to recover by itself, changing nothing in etcd', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const master = fleet.byRole('master')[2]!;
    const membersBefore = fleet.clusters.get('demo')!.etcdMembers.map((member) => member.instanceId);
    const before = { calls: fleet.calls.length, invocations: fleet.invocations.length };

    fleet.stopInstance(master.instanceId);
    await plane.deliver(master.instanceId, 'stopped');
    const [heal] = await plane.settle();

    expect(heal?.error).toBeUndefined();
    expect(master.state).toBe('running');
    expect(callsSince(fleet, before.calls, 'StartInstances')).toHaveLength(1);
    expect(callsSince(fleet, before.calls, 'RunInstances')).toEqual([]);
    expect(documentsSince(fleet, before.invocations, 'RemoveEtcdMember')).toEqual([]);
    expect(fleet.clusters.get('demo')!.etcdMembers.map((member) => member.instanceId)).toEqual(membersBefore);
    expect(etcd(fleet).members.every((member) => member.endsWith(':healthy'))).toBe(true);
  });

  it('re-joins a stopped master that never recovers: quorum guard, member removed, node reset, fresh join', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const master = fleet.byRole('master')[2]!;
    fleet.neverRecovers.add(master.instanceId);
    const before = fleet.invocations.length;

    fleet.stopInstance(master.instanceId);
    await plane.deliver(master.instanceId, 'stopped');
    const [heal] = await plane.settle();

    expect(heal?.error).toBeUndefined();
    expect(heal?.tasks.map((task) => task.state)).toContain('Is it safe to remove the master\'s member?');
    const sequence = fleet.invocations.slice(before).filter((invocation) => invocation.instanceId === master.instanceId).map((invocation) => invocation.document);
    expect(sequence).toEqual(['ResetNode', 'JoinControlPlane']);
    expect(documentsSince(fleet, before, 'RemoveEtcdMember')).toHaveLength(1);
    expect(etcd(fleet).members.every((member) => member.endsWith(':healthy'))).toBe(true);
    expect(etcd(fleet).members).toHaveLength(3);
  });

  it('stops with QuorumLostError, changes nothing in etcd and tells a human when two masters die at once', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const [first, second] = [fleet.byRole('master')[1]!, fleet.byRole('master')[2]!];
    const before = { calls: fleet.calls.length, invocations: fleet.invocations.length };
    const membersBefore = etcd(fleet).members.map((member) => member.split(':')[0]);

    fleet.terminateInstance(first.instanceId);
    fleet.terminateInstance(second.instanceId);
    await plane.deliver(first.instanceId, 'terminated');
    await plane.deliver(second.instanceId, 'terminated');
    const heals = await plane.settle();

    expect(heals.map((heal) => heal.error?.name)).toEqual(['QuorumLostError', 'QuorumLostError']);
    expect(etcd(fleet).members.map((member) => member.split(':')[0])).toEqual(membersBefore);
    for (const document of ['SnapshotEtcd', 'RemoveEtcdMember', 'JoinControlPlane', 'ResetNode']) expect(documentsSince(fleet, before.invocations, document)).toEqual([]);
    expect(callsSince(fleet, before.calls, 'RunInstances')).toEqual([]);
    expect(fleet.notifications).toHaveLength(2);
    expect(fleet.notifications[0]!.subject).toBe('kubeha demo: etcd quorum at risk, a human must act');
    expect(fleet.notifications[0]!.message).toContain('When quorum is lost');
    expect(fleet.items.has('cluster#demo|lock')).toBe(false);
  });

  it('queues a second master failing while the first heal runs, then heals it too', async () => {
    // Prepare: the second master stops once the first one's replacement has joined.
    const { fleet, plane } = await bootstrappedCluster();
    const [, first, second] = fleet.byRole('master') as [SimInstance, SimInstance, SimInstance];
    let secondDelivery: Promise<unknown> | undefined;
    fleet.commandFinishedHooks.push((invocation) => {
      if (invocation.document === 'JoinControlPlane' && invocation.status === 'Success' && invocation.instanceId === replacementOf(fleet, first)?.instanceId && !secondDelivery) {
        fleet.stopInstance(second.instanceId);
        secondDelivery = plane.deliver(second.instanceId, 'stopped');
      }
    });

    // Act
    fleet.terminateInstance(first.instanceId);
    await plane.deliver(first.instanceId, 'terminated');
    const heals = await plane.settle();
    await secondDelivery;

    // Assess
    expect(heals).toHaveLength(2);
    expect(heals.map((heal) => heal.error)).toEqual([undefined, undefined]);
    expect(heals[1]!.tasks.filter((task) => task.state === 'Take the cluster lock').length).toBeGreaterThan(1);
    expect(second.state).toBe('running');
    expect(etcd(fleet).members).toHaveLength(3);
    expect(etcd(fleet).members.every((member) => member.endsWith(':healthy'))).toBe(true);
  });

  it('retries a replacement join that fails once, and then succeeds', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const dead = fleet.byRole('master')[0]!;
    const before = fleet.invocations.length;
    fleet.failDocument({ document: 'JoinControlPlane', times: 1, stderr: 'error execution phase control-plane-join: timed out waiting for etcd' });

    fleet.terminateInstance(dead.instanceId);
    await plane.deliver(dead.instanceId, 'terminated');
    const [heal] = await plane.settle();

    expect(heal?.error).toBeUndefined();
    const joins = documentsSince(fleet, before, 'JoinControlPlane');
    expect(joins.map((join) => join.status)).toEqual(['Failed', 'Success']);
    // The material minted minutes ago is handed out again (no new secret version), but registered anew.
    expect(new Set(joins.map((join) => join.parameters.JoinSecretVersionId)).size).toBe(1);
    expect(documentsSince(fleet, before, 'RefreshJoinMaterial')).toHaveLength(2);
    expect(etcd(fleet).members.every((member) => member.endsWith(':healthy'))).toBe(true);
    expectNoSecretLeaked(fleet, [...plane.runs.values()]);
  });

  it("halts safely, naming the replacement, when the launched master's agent never registers with SSM: no command reaches it, quorum holds and a human is told", async () => {
    // Prepare: whatever RunInstances makes from now on boots, but its agent never reaches SSM.
    const { fleet, plane } = await bootstrappedCluster();
    const dead = fleet.byRole('master')[1]!;
    fleet.instanceLaunchedHooks.push((instance) => fleet.cutAgentOff(instance.instanceId));
    const before = fleet.invocations.length;
    const terminatedAt = fleet.now();

    // Act
    fleet.terminateInstance(dead.instanceId);
    await plane.deliver(dead.instanceId, 'terminated');
    const [heal] = await plane.settle();

    // Assess: given up at the boot deadline, with the replacement named.
    const replacement = replacementOf(fleet, dead)!;
    expect(replacement.state).toBe('running');
    expect(heal?.error?.name).toBe('NodeNotReadyError');
    expect(heal?.error?.message).toContain(`${replacement.instanceId} is running without an online SSM agent past its deadline`);
    expect((fleet.now() - terminatedAt) / 60_000).toBeLessThan(20);
    expect(fleet.notifications.at(-1)?.subject).toBe('kubeha demo: healing failed (NodeNotReadyError)');
    expect(fleet.invocations.slice(before).filter((invocation) => invocation.instanceId === replacement.instanceId)).toEqual([]);
    // The dead member is gone and the two live masters hold etcd.
    expect(etcd(fleet).members.filter((member) => member.endsWith(':healthy'))).toHaveLength(2);
    expect(fleet.clusters.get('demo')!.etcdMembers).toHaveLength(2);
    expect(fleet.items.has('cluster#demo|lock')).toBe(false);
    expectNoSecretLeaked(fleet, [...plane.runs.values()]);
  });

  it("gives the replacement a new address when the dead master's is taken, and re-points both load balancers", async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const dead = fleet.byRole('master')[1]!;
    fleet.terminateInstance(dead.instanceId);
    fleet.addInstance({ clusterName: 'someone-else', subnetId: dead.subnetId, privateIp: dead.privateIp });

    await plane.deliver(dead.instanceId, 'terminated');
    const [heal] = await plane.settle();

    expect(heal?.error).toBeUndefined();
    const replacement = replacementOf(fleet, dead)!;
    expect(replacement.privateIp).not.toBe(dead.privateIp);
    for (const balancer of fleet.byRole('lb')) {
      expect(balancer.node.nginx?.upstreams).toContain(replacement.privateIp);
      expect(balancer.node.nginx?.upstreams).not.toContain(dead.privateIp);
    }
    expect(etcd(fleet).members.every((member) => member.endsWith(':healthy'))).toBe(true);
  });

  it('heals on the next attempt after a failed join left an unstarted etcd learner on a new address, without a false quorum alarm', async () => {
    // Prepare: the dead master's address is taken, so the replacement gets a new one; both of its joins fail in
    // etcd-join after announcing the learner, and the last learner stays (as kubeadm leaves it, kubeadm#2997).
    const { fleet, plane } = await bootstrappedCluster();
    const dead = fleet.byRole('master')[1]!;
    fleet.terminateInstance(dead.instanceId);
    fleet.addInstance({ clusterName: 'someone-else', subnetId: dead.subnetId, privateIp: dead.privateIp });
    fleet.failDocument({ document: 'JoinControlPlane', times: 2, stderr: 'error execution phase etcd-join: timed out waiting for the learner to catch up', leavesUnstartedLearner: true });
    await plane.deliver(dead.instanceId, 'terminated');
    const [failed] = await plane.settle();
    expect(failed?.error?.name).toBe('CommandFailedError');
    const learners = fleet.clusters.get('demo')!.etcdMembers.filter((member) => member.unstartedLearner);
    expect(learners.map((member) => member.instanceId)).toEqual([replacementOf(fleet, dead)!.instanceId]);

    // Act: reconcile finds the dead master unreplaced, and retries its heal once its grace period is over.
    await plane.reconcile();
    fleet.advance(11 * 60);
    await plane.reconcile();
    const [retried] = await plane.settle();

    // Assess: the learner does not vote, so the guard passes; the upload removed it and the replacement joined.
    expect(retried?.error).toBeUndefined();
    expect(fleet.notifications.map((notification) => notification.subject)).not.toContain('kubeha demo: etcd quorum at risk, a human must act');
    const members = fleet.clusters.get('demo')!.etcdMembers;
    expect(members.some((member) => member.unstartedLearner)).toBe(false);
    expect(members.map((member) => member.instanceId)).toContain(replacementOf(fleet, dead)!.instanceId);
    expect(etcd(fleet).members.every((member) => member.endsWith(':healthy'))).toBe(true);
    expect(members).toHaveLength(3);
  });

  it("points every worker's local API proxy at the replacement and away from the dead master, 50 workers per command", async () => {
    // Prepare: 120 workers; the dead master's address is taken, so the replacement gets a new one.
    const { fleet, plane } = await bootstrappedCluster();
    fleet.addJoinedWorkers('demo', 117);
    const dead = fleet.byRole('master')[2]!;
    fleet.terminateInstance(dead.instanceId);
    fleet.addInstance({ clusterName: 'someone-else', subnetId: dead.subnetId, privateIp: dead.privateIp });
    const before = fleet.invocations.length;

    // Act
    await plane.deliver(dead.instanceId, 'terminated');
    const [heal] = await plane.settle();
    fleet.advance(30);
    const report = (await plane.reconcile()) as { clusters: { actions: { kind: string }[] }[] };

    // Assess
    expect(heal?.error).toBeUndefined();
    const replacement = replacementOf(fleet, dead)!;
    const workers = fleet.byRole('worker');
    expect(workers).toHaveLength(120);
    for (const worker of workers) {
      expect(worker.node.proxy?.upstreams).toContain(replacement.privateIp);
      expect(worker.node.proxy?.upstreams).not.toContain(dead.privateIp);
      expect(fleet.apiAnswersInCluster(worker.instanceId)).toBe(true);
    }
    const pushes = documentsSince(fleet, before, 'ConfigureNodeProxy');
    const perCommand = [...new Set(pushes.map((invocation) => invocation.commandId))].map((commandId) => pushes.filter((invocation) => invocation.commandId === commandId).length);
    expect(perCommand.sort((a, b) => b - a)).toEqual([50, 50, 20]);
    expect(new Set(pushes.map((invocation) => invocation.instanceId)).size).toBe(120);
    // Reconcile finds nothing left to correct.
    expect(report.clusters[0]!.actions.filter((action) => action.kind === 'reconfigure-node-proxies')).toEqual([]);
  });
});

describe('healing load balancers', () => {
  it('moves the Elastic IP to the standby within the event handler, before any workflow, and never back', async () => {
    // Prepare
    const { fleet, plane } = await bootstrappedCluster();
    const [primary, standby] = fleet.byRole('lb') as [SimInstance, SimInstance];
    const associationsBefore = fleet.calls.filter((call) => call.operation === 'AssociateAddress').length;
    // keepalived on the standby would claim the address itself (sim/load-balancer.ts); here it is not running,
    // so the event handler is what moves it.
    Reflect.deleteProperty(standby.node, 'keepalived');

    // Act: the first signal is "stopping"; it starts no workflow, but the address moves at once.
    fleet.stopInstance(primary.instanceId);
    const stopping = (await plane.deliver(primary.instanceId, 'stopping')).outcome as { elasticIpMovedTo?: string; execution?: unknown };
    const movedBeforeAnyWorkflow = fleet.addresses.get(fleet.elasticIpAllocationId)?.instanceId;
    const executionsAfterStopping = fleet.executions.size;
    await plane.deliver(primary.instanceId, 'stopped');
    const [heal] = await plane.settle();

    // Assess
    expect(stopping.elasticIpMovedTo).toBe(standby.instanceId);
    expect(stopping.execution).toBeUndefined();
    expect(movedBeforeAnyWorkflow).toBe(standby.instanceId);
    expect(executionsAfterStopping).toBe(1);
    expect(heal?.error).toBeUndefined();
    expect(primary.state).toBe('running');
    expect(fleet.addresses.get(fleet.elasticIpAllocationId)?.instanceId).toBe(standby.instanceId);
    expect(fleet.calls.filter((call) => call.operation === 'AssociateAddress').length - associationsBefore).toBe(1);
    expect(standby.node.keepalived?.priority).toBe(150);
    expect(primary.node.keepalived?.priority).toBe(100);
  });

  it('replaces a terminated standby without touching the Elastic IP', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const [primary, standby] = fleet.byRole('lb') as [SimInstance, SimInstance];
    const before = fleet.calls.length;

    fleet.terminateInstance(standby.instanceId);
    const delivered = (await plane.deliver(standby.instanceId, 'terminated')).outcome as { elasticIpMovedTo?: string };
    const [heal] = await plane.settle();

    expect(delivered.elasticIpMovedTo).toBeUndefined();
    expect(heal?.error).toBeUndefined();
    expect(callsSince(fleet, before, 'AssociateAddress')).toEqual([]);
    const replacement = replacementOf(fleet, standby)!;
    // The dead standby's ENI still holds its address moments after termination (InvalidIPAddress.InUse).
    expect(replacement.privateIp).not.toBe(standby.privateIp);
    expect(replacement.node.nginx?.upstreams).toEqual(fleet.byRole('master').map((master) => master.privateIp));
    expect(primary.node.keepalived?.peers).toEqual([replacement.privateIp]);
    expect(fleet.addresses.get(fleet.elasticIpAllocationId)?.instanceId).toBe(primary.instanceId);
  });
});

describe('healing workers', () => {
  it('replaces a terminated worker: Node deleted, same spec launched, prepared, joined with a fresh token', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const dead = fleet.byRole('worker')[0]!;

    fleet.terminateInstance(dead.instanceId);
    await plane.deliver(dead.instanceId, 'terminated');
    const [heal] = await plane.settle();

    expect(heal?.error).toBeUndefined();
    const replacement = replacementOf(fleet, dead)!;
    expect(replacement.instanceType).toBe(dead.instanceType);
    expect(replacement.volumes.map((volume) => volume.size)).toEqual([50]);
    expect(replacement.node.documentsRun).toEqual(['InstallPrerequisites', 'ApplyNodeProfile', 'JoinWorker']);
    const nodes = fleet.clusters.get('demo')!.nodes;
    expect(nodes.some((node) => node.instanceId === dead.instanceId)).toBe(false);
    expect(nodes.find((node) => node.instanceId === replacement.instanceId)?.ready).toBe(true);
  });

  it('launches a terminated worker in another zone when its own is short of capacity, and a master only in its own, failing when the wait for it runs out', async () => {
    // Prepare: the dead worker's zone (and the dead master's) has no capacity of the type.
    const { fleet, plane } = await bootstrappedCluster({ workers: 3 });
    const deadWorker = fleet.byRole('worker')[0]!;
    fleet.zonesShortOfCapacity.add(deadWorker.availabilityZone);

    // Act
    fleet.terminateInstance(deadWorker.instanceId);
    await plane.deliver(deadWorker.instanceId, 'terminated');
    const [heal] = await plane.settle();

    // Assess
    expect(heal?.error).toBeUndefined();
    const replacement = replacementOf(fleet, deadWorker)!;
    expect(replacement.availabilityZone).not.toBe(deadWorker.availabilityZone);
    expect(fleet.byRole('worker').filter((worker) => worker.instanceId !== replacement.instanceId).map((worker) => worker.subnetId)).toContain(replacement.subnetId);
    expect(fleet.clusters.get('demo')!.nodes.find((node) => node.instanceId === replacement.instanceId)?.ready).toBe(true);

    // Act: a master of a short zone.
    const deadMaster = fleet.byRole('master').find((master) => master.availabilityZone === deadWorker.availabilityZone)!;
    fleet.terminateInstance(deadMaster.instanceId);
    await plane.deliver(deadMaster.instanceId, 'terminated');
    const [masterHeal] = await plane.settle();

    // Assess: no master is launched beside another zone's master; the heal waited 18 rounds of 5 minutes, told a
    // human once that it waits (after the first round) and once that it stopped, with EC2's reason, and failed as
    // any heal; quorum holds.
    expect(masterHeal?.error?.name).toBe('InsufficientCapacityError');
    expect(replacementOf(fleet, deadMaster)).toBeUndefined();
    const [waiting, stopped] = fleet.notifications.slice(-2);
    expect(waiting?.subject).toBe(`kubeha demo: healing of ${deadMaster.instanceId} waits for EC2 capacity`);
    expect(stopped?.subject).toBe('kubeha demo: healing failed (InsufficientCapacityError)');
    expect(stopped?.message).toContain('We currently do not have sufficient');
    // Told once the second try was refused too, 5 minutes in; stopped after the remaining 17 rounds.
    expect(stopped!.at - waiting!.at).toBeGreaterThanOrEqual(85 * 60_000);
    expect(fleet.clusters.get('demo')!.etcdMembers.filter((member) => member.healthy)).toHaveLength(2);
    expect(fleet.items.has('cluster#demo|lock')).toBe(false);
  });

  it('reads the cluster settings from Parameter Store once per heal of each role: the inspection passes what the launch needs', async () => {
    // Prepare
    const { fleet, plane } = await bootstrappedCluster();
    const reads: Record<string, { inspection: number; launch: number }> = {};

    // Act: a worker, a master and the load balancer without the Elastic IP die one after another.
    for (const role of ['worker', 'master', 'lb'] as const) {
      const holder = [...fleet.addresses.values()].find((address) => address.instanceId)?.instanceId;
      const dead = fleet.byRole(role).find((instance) => instance.instanceId !== holder)!;
      const before = fleet.calls.length;
      fleet.terminateInstance(dead.instanceId);
      await plane.deliver(dead.instanceId, 'terminated');
      const [heal] = await plane.settle();
      expect(heal?.error).toBeUndefined();
      expect(replacementOf(fleet, dead)).toBeDefined();
      const byFunction = fleet.calls.slice(before).filter((call) => call.operation === 'GetParameter').map((call) => call.by ?? 'unknown');
      reads[role] = { inspection: byFunction.filter((by) => by === 'inspectCluster').length, launch: byFunction.filter((by) => by === 'launchReplacement').length };
    }

    // Assess: an Availability Zone's heals, side by side, otherwise read twice each against GetParameter's 40 a second.
    // (A load balancer's heal also has the event handler and the Elastic IP's check read theirs, side by side with the inspection.)
    const once = { inspection: 1, launch: 0 };
    expect(reads).toEqual({ worker: once, master: once, lb: once });
  });

  it('heals five workers terminated at once in parallel', async () => {
    const { fleet, plane } = await bootstrappedCluster({ workers: 6 });
    const dead = fleet.byRole('worker').slice(0, 5);

    for (const worker of dead) fleet.terminateInstance(worker.instanceId);
    for (const worker of dead) await plane.deliver(worker.instanceId, 'terminated');
    const heals = await plane.settle();

    expect(heals).toHaveLength(5);
    expect(heals.every((heal) => heal.error === undefined)).toBe(true);
    expect(dead.every((worker) => replacementOf(fleet, worker))).toBe(true);
    expect(fleet.clusters.get('demo')!.nodes.filter((node) => node.role === 'worker' && node.ready)).toHaveLength(6);
    const windows = plane.executionsOf('heal-worker').map((execution) => [execution.startedAt, execution.stoppedAt!] as const);
    const overlapping = windows.filter(([start], index) => windows.some(([otherStart, otherEnd], other) => other !== index && otherStart <= start && start < otherEnd));
    expect(overlapping.length).toBeGreaterThan(0);
  });
});

const MINUTE = 60_000;

/** The incident reconcile and the event handler keep for an instance (functions/core/incidents.ts). */
function incidentOf(fleet: SimulatedFleet, instanceId: string): { attempt: number; sequence: number } | undefined {
  const item = [...fleet.items.values()].find((candidate) => candidate.sk === incidentKey(instanceId));
  return item ? (JSON.parse(item.body) as { attempt: number; sequence: number }) : undefined;
}

/** The modelled time a notification names as the end of the wait ("until <ISO time>"). */
function waitsUntil(message: string): number {
  const until = /every 5 minutes until (\S+),/.exec(message)?.[1];
  expect(until, message).toBeDefined();
  return Date.parse(until!);
}

describe('healing through a shortage of EC2 capacity', () => {
  it('waits 40 minutes for capacity in a dead master\'s zone inside one execution: told once, nothing failed, one snapshot, fresh join material', async () => {
    // Prepare: the dead master's zone has no capacity of its type for 40 modelled minutes.
    const { fleet, plane } = await bootstrappedCluster();
    const dead = fleet.byRole('master')[1]!;
    const before = { notifications: fleet.notifications.length, snapshots: fleet.snapshots.length, invocations: fleet.invocations.length, calls: fleet.calls.length };
    const startedAt = fleet.now();
    fleet.shortOfCapacity(dead.availabilityZone, 40 * 60);

    // Act: the heal runs while the reconcile schedule fires every 5 minutes.
    fleet.terminateInstance(dead.instanceId);
    await plane.deliver(dead.instanceId, 'terminated');
    const { reconciles } = await plane.settleWhileReconciling(5 * 60);

    // Assess: one execution, never failed, so no ExecutionsFailed alarm; reconcile left it alone.
    expect(plane.executionsOf('heal-master').map((execution) => execution.status)).toEqual(['SUCCEEDED']);
    // Reconcile saw the dead master (once EC2 no longer listed it running) and asked for its heal, 30 minutes and
    // more of rounds; the running execution held each back (functions/core/incidents.ts).
    expect(reconciles.filter((answer) => JSON.stringify(answer).includes(`"kind":"start-healing","instanceId":"${dead.instanceId}"`)).length).toBeGreaterThanOrEqual(6);
    expect(incidentOf(fleet, dead.instanceId)).toMatchObject({ sequence: 1, attempt: 1 });
    // One word to a human, naming the instance, the zone and when kubeha stops waiting (18 rounds of 5 minutes).
    const told = fleet.notifications.slice(before.notifications);
    expect(told.map((notification) => notification.subject)).toEqual([`kubeha demo: healing of ${dead.instanceId} waits for EC2 capacity`]);
    expect(told[0]!.message).toContain(`replacement of master ${dead.instanceId} in ${dead.availabilityZone}`);
    // Told when EC2 refused again after the first 5-minute wait (a shortage of minutes pages nobody): 17 rounds left.
    expect(told[0]!.at - startedAt).toBeGreaterThanOrEqual(5 * MINUTE);
    expect(Math.abs(waitsUntil(told[0]!.message) - (told[0]!.at + 85 * MINUTE))).toBeLessThan(MINUTE);
    // Tried every 5 minutes until the zone had capacity again, always there.
    const launches = callsSince(fleet, before.calls, 'RunInstances');
    expect(launches.length).toBeGreaterThanOrEqual(9);
    const replacement = replacementOf(fleet, dead)!;
    expect(replacement.availabilityZone).toBe(dead.availabilityZone);
    expect(replacement.launchTime!.getTime() - startedAt).toBeGreaterThanOrEqual(40 * MINUTE);
    expect(replacement.launchTime!.getTime() - startedAt).toBeLessThan(50 * MINUTE);
    // The snapshot and the member removal happened once; the join material was minted and uploaded again after the wait.
    expect(fleet.snapshots.length - before.snapshots).toBe(1);
    expect(documentsSince(fleet, before.invocations, 'RemoveEtcdMember')).toHaveLength(1);
    const refreshes = documentsSince(fleet, before.invocations, 'RefreshJoinMaterial');
    expect(refreshes).toHaveLength(2);
    expect(refreshes[1]!.startedAt).toBeGreaterThan(replacement.launchTime!.getTime());
    // The join succeeded at once: its token (30 minutes) and the uploaded certificates were current.
    const joins = documentsSince(fleet, before.invocations, 'JoinControlPlane');
    expect(joins.map((join) => join.status)).toEqual(['Success']);
    expect(joins[0]!.startedAt - refreshes[0]!.startedAt).toBeGreaterThan(30 * MINUTE);
    expect(etcd(fleet).members.filter((member) => member.endsWith(':healthy'))).toHaveLength(3);
    expect(fleet.items.has('cluster#demo|lock')).toBe(false);
    expectNoSecretLeaked(fleet, [...plane.runs.values()]);
  });

  it('waits 40 minutes for capacity in every worker zone inside one execution, then joins the worker with a token registered again', async () => {
    // Prepare: every zone with a worker is short for 40 modelled minutes.
    const { fleet, plane } = await bootstrappedCluster({ workers: 3 });
    const dead = fleet.byRole('worker')[0]!;
    const zones = [...new Set(fleet.byRole('worker').map((worker) => worker.availabilityZone))];
    expect(zones.length).toBeGreaterThan(1);
    const before = { notifications: fleet.notifications.length, invocations: fleet.invocations.length };
    const startedAt = fleet.now();
    for (const zone of zones) fleet.shortOfCapacity(zone, 40 * 60);

    // Act
    fleet.terminateInstance(dead.instanceId);
    await plane.deliver(dead.instanceId, 'terminated');
    const { reconciles } = await plane.settleWhileReconciling(5 * 60);

    // Assess
    expect(plane.executionsOf('heal-worker').map((execution) => execution.status)).toEqual(['SUCCEEDED']);
    expect(reconciles.filter((answer) => JSON.stringify(answer).includes(`"kind":"start-healing","instanceId":"${dead.instanceId}"`)).length).toBeGreaterThanOrEqual(6);
    expect(incidentOf(fleet, dead.instanceId)).toMatchObject({ sequence: 1, attempt: 1 });
    const told = fleet.notifications.slice(before.notifications);
    expect(told.map((notification) => notification.subject)).toEqual([`kubeha demo: healing of ${dead.instanceId} waits for EC2 capacity`]);
    for (const zone of zones) expect(told[0]!.message).toContain(zone);
    const replacement = replacementOf(fleet, dead)!;
    expect(replacement.launchTime!.getTime() - startedAt).toBeGreaterThanOrEqual(40 * MINUTE);
    const refreshes = documentsSince(fleet, before.invocations, 'RefreshJoinMaterial');
    expect(refreshes).toHaveLength(2);
    const joins = documentsSince(fleet, before.invocations, 'JoinWorker');
    expect(joins.map((join) => join.status)).toEqual(['Success']);
    expect(joins[0]!.startedAt - refreshes[0]!.startedAt).toBeGreaterThan(30 * MINUTE);
    expect(fleet.clusters.get('demo')!.nodes.find((node) => node.instanceId === replacement.instanceId)?.ready).toBe(true);
  });

  it('waits 20 minutes for capacity in a dead load balancer\'s zone and relaunches it there, the Elastic IP untouched', async () => {
    // Prepare
    const { fleet, plane } = await bootstrappedCluster();
    const [primary, standby] = fleet.byRole('lb') as [SimInstance, SimInstance];
    const before = { notifications: fleet.notifications.length, calls: fleet.calls.length };
    const startedAt = fleet.now();
    fleet.shortOfCapacity(standby.availabilityZone, 20 * 60);

    // Act
    fleet.terminateInstance(standby.instanceId);
    await plane.deliver(standby.instanceId, 'terminated');
    const [heal] = await plane.settle();

    // Assess
    expect(heal?.error).toBeUndefined();
    const replacement = replacementOf(fleet, standby)!;
    expect(replacement.availabilityZone).toBe(standby.availabilityZone);
    expect(replacement.launchTime!.getTime() - startedAt).toBeGreaterThanOrEqual(20 * MINUTE);
    expect(fleet.notifications.slice(before.notifications).map((notification) => notification.subject)).toEqual([`kubeha demo: healing of ${standby.instanceId} waits for EC2 capacity`]);
    expect(primary.node.keepalived?.peers).toEqual([replacement.privateIp]);
    expect(callsSince(fleet, before.calls, 'AssociateAddress')).toEqual([]);
  });

  it('starts a stopped worker EC2 had no capacity to start once its zone has it again, telling a human once', async () => {
    // Prepare
    const { fleet, plane } = await bootstrappedCluster();
    const worker = fleet.byRole('worker')[0]!;
    const before = { notifications: fleet.notifications.length, calls: fleet.calls.length };
    fleet.stopInstance(worker.instanceId);
    fleet.advance(60);
    fleet.shortOfCapacity(worker.availabilityZone, 20 * 60);

    // Act
    await plane.deliver(worker.instanceId, 'stopped');
    const [heal] = await plane.settle();

    // Assess
    expect(heal?.error).toBeUndefined();
    expect(worker.state).toBe('running');
    expect(callsSince(fleet, before.calls, 'StartInstances').length).toBeGreaterThanOrEqual(5);
    expect(callsSince(fleet, before.calls, 'RunInstances')).toEqual([]);
    const told = fleet.notifications.slice(before.notifications);
    expect(told.map((notification) => notification.subject)).toEqual([`kubeha demo: healing of ${worker.instanceId} waits for EC2 capacity`]);
    expect(told[0]!.message).toContain(`start ${worker.instanceId} in its Availability Zone now: We currently do not have sufficient ${worker.instanceType} capacity in the Availability Zone you requested (${worker.availabilityZone})`);
  });
});

describe("verifying a replacement from its join's own report", () => {
  const CASES = [
    { role: 'master', join: 'JoinControlPlane', check: 'Is the healed master healthy?' },
    { role: 'worker', join: 'JoinWorker', check: "Is the worker's node Ready?" },
  ] as const;

  /** Terminates the second instance of the role on a bootstrapped cluster and heals it. */
  async function replaceTheSecond(role: 'master' | 'worker', networkReadySeconds = 0) {
    const { fleet, plane } = await bootstrappedCluster();
    fleet.networkReadySeconds = networkReadySeconds;
    const dead = fleet.byRole(role)[1]!;
    const before = fleet.invocations.length;
    fleet.terminateInstance(dead.instanceId);
    await plane.deliver(dead.instanceId, 'terminated');
    const [heal] = await plane.settle();
    return { fleet, dead, before, heal };
  }

  it.each(CASES)('asks no master again when the joined $role reports itself Ready', async ({ role, join, check }) => {
    // Prepare, Act
    const { fleet, before, heal } = await replaceTheSecond(role);

    // Assess
    expect(heal?.error).toBeUndefined();
    const joinedAt = documentsSince(fleet, before, join)[0]!.finishesAt;
    expect(documentsSince(fleet, before, 'ClusterStatus').filter((invocation) => invocation.startedAt >= joinedAt)).toEqual([]);
    expect(heal!.tasks.filter((task) => task.state === check)).toHaveLength(1);
  });

  it.each(CASES)("asks a healthy master until the $role is Ready when the join's report found it waiting for its network plugin", async ({ role, join }) => {
    // Prepare, Act: the network plugin's pod runs on a new node 12 s after its join.
    const { fleet, dead, before, heal } = await replaceTheSecond(role, 12);

    // Assess
    expect(heal?.error).toBeUndefined();
    const joined = documentsSince(fleet, before, join)[0]!;
    const replacement = replacementOf(fleet, dead)!;
    expect(parseResult(joined.stdout).nodes).toEqual([expect.objectContaining({ internalIp: replacement.privateIp, ready: false })]);
    const asked = documentsSince(fleet, before, 'ClusterStatus').filter((invocation) => invocation.startedAt >= joined.finishesAt);
    expect(asked.at(-1)!.finishesAt).toBeGreaterThanOrEqual(joined.finishesAt + 12_000);
    expect(fleet.clusters.get('demo')!.nodes.find((node) => node.instanceId === replacement.instanceId)?.ready).toBe(true);
    expect(etcd(fleet).members.every((member) => member.endsWith(':healthy'))).toBe(true);
    expect(fleet.items.has('cluster#demo|lock')).toBe(false);
  });
});

describe('events that need no healing', () => {
  it('starts one workflow for an event delivered twice, and none for a third delivery after it finished', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const worker = fleet.byRole('worker')[1]!;
    fleet.terminateInstance(worker.instanceId);

    await plane.deliver(worker.instanceId, 'terminated', 'evt-duplicate');
    await plane.deliver(worker.instanceId, 'terminated', 'evt-duplicate');
    await plane.settle();
    const late = (await plane.deliver(worker.instanceId, 'terminated', 'evt-duplicate')).outcome as { execution: { started: boolean } };

    expect(plane.executionsOf('heal-worker')).toHaveLength(1);
    expect(late.execution.started).toBe(false);
    expect([...fleet.instances.values()].filter((instance) => instance.tags['kubeha:replaces'] === worker.instanceId)).toHaveLength(1);
  });

  it('ignores unmanaged instances, and only records launch facts on pending or running events', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const stranger = fleet.addInstance({ clusterName: 'not-kubeha', subnetId: fleet.byRole('worker')[0]!.subnetId });
    delete stranger.tags['kubernetes.io/cluster/not-kubeha'];
    const before = fleet.calls.length;

    const outcomes = [
      (await plane.deliver(stranger.instanceId, 'terminated')).outcome,
      (await plane.deliver(fleet.byRole('master')[0]!.instanceId, 'pending')).outcome,
      (await plane.deliver(fleet.byRole('worker')[0]!.instanceId, 'running')).outcome,
    ];

    expect(outcomes).toEqual([
      { action: 'ignored', reason: 'not a kubeha instance' },
      { action: 'recorded', instanceId: fleet.byRole('master')[0]!.instanceId },
      { action: 'recorded', instanceId: fleet.byRole('worker')[0]!.instanceId },
    ]);
    // Bootstrap recorded both already and nothing changed since, so nothing is written either.
    expect(fleet.calls.slice(before).filter((call) => MUTATING.includes(call.operation) || call.operation === 'UpdateItem')).toEqual([]);
    expect(fleet.executions.size).toBe(1);
  });
});
