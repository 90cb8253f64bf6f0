import { describe, expect, it } from 'vitest';
import type { ClusterSettings } from '../../functions/core/bootstrap.js';
import type { ClusterInstance } from '../../functions/core/cluster.js';
import { InsufficientCapacityError, LaunchFailedError } from '../../functions/core/errors.js';
import { type LaunchRecord, launchRecordKey } from '../../functions/core/launch-records.js';
import type { Ec2Port, StatePort, StoredItem } from '../../functions/core/ports.js';
import { launchReplacement, notifyCapacityWait, sendsWhileBooting } from '../../functions/core/healing-steps.js';
import { planReconcile } from '../../functions/core/reconcile.js';
import { type StandbyView, claimStandby, planStandbys, standbysOf } from '../../functions/core/standbys.js';
import { instance } from '../support/instances.js';

const NOW = Date.parse('2026-11-24T09:00:00Z');
const ZONES = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];

const settings = (standbys: { master: number; worker: number }) =>
  ({ cluster: { clusterName: 'prod-eu', kubernetesVersion: '1.36.4' }, policy: { startStoppedInstances: true, recoveryTimeoutMinutes: 10, standbys } }) as unknown as ClusterSettings;

function masters(): ClusterInstance[] {
  return ZONES.map((zone, index) => instance('master', { availabilityZone: zone, subnetId: `subnet-${index}`, nodeState: 'joined' }));
}

function standby(role: 'master' | 'worker', overrides: Partial<ClusterInstance> & { readiness?: 'preparing' | 'ready'; version?: string } = {}): ClusterInstance {
  const { readiness = 'ready', version = '1.36.4', ...rest } = overrides;
  return instance(undefined, {
    ec2State: readiness === 'ready' ? 'stopped' : 'running',
    // A preparing standby was launched a minute ago unless a test says otherwise.
    ...(readiness === 'preparing' ? { launchTime: new Date(NOW - 60_000).toISOString() } : {}),
    tags: { 'kubernetes.io/cluster/prod-eu': 'owned', 'kubeha:standby-for': role, 'kubeha:standby-state': readiness, 'kubeha:standby-version': version },
    ...rest,
  });
}

const recordOf = (member: ClusterInstance) => ({ instanceId: member.instanceId, role: member.role, subnetId: member.subnetId, availabilityZone: member.availabilityZone }) as LaunchRecord;

function view(members: ClusterInstance[], standbys: ClusterInstance[], overrides: Partial<StandbyView> = {}): StandbyView {
  return {
    settings: settings({ master: 1, worker: 0 }),
    instances: [...members, ...standbys],
    records: members.map(recordOf),
    claimed: new Set(),
    progress: {},
    now: NOW,
    ...overrides,
  };
}

describe('planStandbys', () => {
  it('launches a master standby copying the first master, in a zone that has none yet', () => {
    // Prepare
    const fleet = masters();

    // Act
    const plan = planStandbys(view(fleet, []));

    // Assess
    expect(plan.actions).toEqual([{ kind: 'launch-standby', role: 'master', sourceInstanceId: fleet[0]!.instanceId, subnetId: 'subnet-0' }]);
  });

  it('spreads three worker standbys over three zones', () => {
    const workers = ZONES.map((zone, index) => instance('worker', { availabilityZone: zone, subnetId: `subnet-${index}` }));
    const plan = planStandbys(view(workers, [], { settings: settings({ master: 0, worker: 3 }) }));
    expect(plan.actions.map((action) => (action.kind === 'launch-standby' ? action.subnetId : action.kind)).sort()).toEqual(['subnet-0', 'subnet-1', 'subnet-2']);
  });

  it('does nothing for a cluster that wants no standbys and has none, and nothing once the wanted one is ready', () => {
    expect(planStandbys(view(masters(), [], { settings: settings({ master: 0, worker: 0 }) })).actions).toEqual([]);
    expect(planStandbys(view(masters(), [standby('master')])).actions).toEqual([]);
  });

  it('waits for a preparing standby\'s agent, prepares it once online, and finishes it once the preparation succeeded', () => {
    // Prepare
    const preparing = standby('master', { readiness: 'preparing', launchTime: new Date(NOW - 60_000).toISOString() });
    const base = view(masters(), [preparing]);

    // Act
    const offline = planStandbys(base);
    const online = planStandbys({ ...base, progress: { [preparing.instanceId]: { online: true } } });
    const running = planStandbys({ ...base, progress: { [preparing.instanceId]: { online: true, preparation: { commandId: 'c-1', status: 'InProgress' } } } });
    const done = planStandbys({ ...base, progress: { [preparing.instanceId]: { online: true, preparation: { commandId: 'c-1', status: 'Success' } } } });

    // Assess
    expect(offline.actions).toEqual([]);
    expect(online.actions).toEqual([{ kind: 'prepare-standby', instanceId: preparing.instanceId }]);
    expect(running.actions).toEqual([]);
    expect(done.actions).toEqual([{ kind: 'finish-standby', instanceId: preparing.instanceId }]);
  });

  it('retires a standby whose preparation failed, says so, and launches another in the same run', () => {
    const preparing = standby('master', { readiness: 'preparing' });
    const plan = planStandbys({ ...view(masters(), [preparing]), progress: { [preparing.instanceId]: { online: true, preparation: { commandId: 'c-1', status: 'Failed' } } } });
    expect(plan.actions.map((action) => action.kind)).toEqual(['retire-standby', 'launch-standby']);
    expect(plan.findings).toEqual([expect.stringContaining('its preparation ended Failed (command c-1)')]);
  });

  it('retires a standby whose agent never registered', () => {
    const stuck = standby('master', { readiness: 'preparing', launchTime: new Date(NOW - 16 * 60_000).toISOString() });
    expect(planStandbys(view(masters(), [stuck])).actions[0]).toEqual({ kind: 'retire-standby', instanceId: stuck.instanceId, reason: 'its SSM agent never registered' });
  });

  it('replaces a ready standby prepared for another Kubernetes version', () => {
    const outdated = standby('master', { version: '1.36.3' });
    const plan = planStandbys(view(masters(), [outdated]));
    expect(plan.actions).toEqual([
      { kind: 'retire-standby', instanceId: outdated.instanceId, reason: 'prepared for Kubernetes 1.36.3, the cluster runs 1.36.4' },
      expect.objectContaining({ kind: 'launch-standby', role: 'master' }),
    ]);
  });

  it('retires a preparing standby launched for a version the cluster has since left, before preparing it', () => {
    const preparing = standby('master', { readiness: 'preparing', version: '1.36.3' });
    const plan = planStandbys({ ...view(masters(), [preparing]), progress: { [preparing.instanceId]: { online: true } } });
    expect(plan.actions[0]).toEqual({ kind: 'retire-standby', instanceId: preparing.instanceId, reason: 'launched for Kubernetes 1.36.3, the cluster runs 1.36.4' });
  });

  it('stops a ready standby that is running again', () => {
    const started = standby('master', { ec2State: 'running' });
    expect(planStandbys(view(masters(), [started])).actions).toEqual([{ kind: 'finish-standby', instanceId: started.instanceId }]);
  });

  it('retires the extra standbys when the setting is lowered, preparing ones first, and only those', () => {
    // Prepare
    const ready = standby('worker');
    const preparing = standby('worker', { readiness: 'preparing' });
    const workers = ZONES.map((zone) => instance('worker', { availabilityZone: zone }));

    // Act
    const plan = planStandbys(view(workers, [ready, preparing], { settings: settings({ master: 0, worker: 1 }) }));

    // Assess
    expect(plan.actions).toEqual([{ kind: 'retire-standby', instanceId: preparing.instanceId, reason: 'more worker standbys than the 1 wanted' }]);
  });

  it('leaves a claimed standby alone and counts it as gone', () => {
    const claimed = standby('master');
    const plan = planStandbys(view(masters(), [claimed], { claimed: new Set([claimed.instanceId]) }));
    expect(plan.actions).toEqual([expect.objectContaining({ kind: 'launch-standby' })]);
  });

  it('deletes a claim an hour after EC2 stopped listing its instance, and keeps those of live instances', () => {
    // Prepare
    const member = standby('master', { ec2State: 'running', tags: { 'kubeha:role': 'master' } });
    const old = new Date(NOW - 2 * 3600_000).toISOString();
    const claims = [
      { standbyId: 'i-0gone', by: 'i-dead-1', claimedAt: old },
      { standbyId: 'i-0justgone', by: 'i-dead-2', claimedAt: new Date(NOW - 60_000).toISOString() },
      { standbyId: member.instanceId, by: 'i-dead-3', claimedAt: old },
    ];

    // Act
    const plan = planStandbys(view(masters(), [member], { claims, claimed: new Set(claims.map((claim) => claim.standbyId)), settings: settings({ master: 0, worker: 0 }) }));

    // Assess
    expect(plan.actions).toEqual([{ kind: 'forget-standby-claim', standbyId: 'i-0gone' }]);
  });

  it('reports instead of launching when no running member has a launch record and no template is named', () => {
    const plan = planStandbys(view(masters(), [], { records: [] }));
    expect(plan.actions).toEqual([]);
    expect(plan.findings).toEqual(['no master standby can be launched in eu-west-1a: no running master there has a launch record and the settings name no launchTemplates.master']);
  });
});

describe('planStandbys across availability zones', () => {
  const launches = (plan: ReturnType<typeof planStandbys>) => plan.actions.filter((action) => action.kind === 'launch-standby');
  const retirements = (plan: ReturnType<typeof planStandbys>) => plan.actions.filter((action) => action.kind === 'retire-standby');

  it('launches three master standbys one per zone, each copying the master of its zone', () => {
    // Prepare
    const fleet = masters();

    // Act
    const plan = planStandbys(view(fleet, [], { settings: settings({ master: 3, worker: 0 }) }));

    // Assess
    expect(plan.actions).toEqual(fleet.map((master, index) => ({ kind: 'launch-standby', role: 'master', sourceInstanceId: master.instanceId, subnetId: `subnet-${index}` })));
    expect(plan.findings).toEqual([]);
  });

  it('with two wanted, keeps the ones it has and launches only in a zone that has none', () => {
    // Prepare: one ready in zone b already.
    const fleet = masters();
    const inB = standby('master', { availabilityZone: 'eu-west-1b' });

    // Act
    const plan = planStandbys(view(fleet, [inB], { settings: settings({ master: 2, worker: 0 }) }));

    // Assess: the new one goes to zone a, copying zone a's master; b's is left alone.
    expect(plan.actions).toEqual([{ kind: 'launch-standby', role: 'master', sourceInstanceId: fleet[0]!.instanceId, subnetId: 'subnet-0' }]);
  });

  it('never keeps two master standbys in one zone: the less advanced one is retired and another zone gets one', () => {
    // Prepare
    const ready = standby('master', { availabilityZone: 'eu-west-1a' });
    const preparing = standby('master', { availabilityZone: 'eu-west-1a', readiness: 'preparing' });

    // Act
    const plan = planStandbys(view(masters(), [ready, preparing], { settings: settings({ master: 2, worker: 0 }) }));

    // Assess
    expect(retirements(plan)).toEqual([{ kind: 'retire-standby', instanceId: preparing.instanceId, reason: 'a second master standby in eu-west-1a: one waits in each zone of the masters' }]);
    expect(launches(plan)).toEqual([expect.objectContaining({ subnetId: 'subnet-1' })]);
  });

  it('retires the standby of a zone whose master is gone for good, and launches none there', () => {
    // Prepare: zone c's master replaced into zone a (its record says replacedBy), three wanted.
    const [inA, inB] = masters();
    const movedIn = instance('master', { availabilityZone: 'eu-west-1a', subnetId: 'subnet-0', tags: { 'kubeha:replaces': 'i-0deadc' } });
    const standbys = [standby('master', { availabilityZone: 'eu-west-1a' }), standby('master', { availabilityZone: 'eu-west-1b' }), standby('master', { availabilityZone: 'eu-west-1c' })];
    const deadRecord = { instanceId: 'i-0deadc', role: 'master', availabilityZone: 'eu-west-1c', subnetId: 'subnet-2', replacedBy: movedIn.instanceId } as LaunchRecord;

    // Act
    const plan = planStandbys(view([inA!, inB!, movedIn], standbys, { settings: settings({ master: 3, worker: 0 }), records: [inA!, inB!, movedIn].map(recordOf).concat(deadRecord) }));

    // Assess
    expect(plan.actions).toEqual([{ kind: 'retire-standby', instanceId: standbys[2]!.instanceId, reason: 'no master runs in eu-west-1c: a master standby waits in a zone of the masters' }]);
    expect(plan.findings).toEqual(['1 of the 3 master standbys wanted (healing.standbys.master) has no zone to wait in: the masters hold 2 zone(s) (eu-west-1a, eu-west-1b), and a master standby waits only in a master\'s zone, one per zone']);
  });

  it("keeps a dead master's zone standby while its heal has yet to replace it, and once a replacement is on its way", () => {
    // Prepare: zone c's master terminated (EC2 no longer lists it), its launch record not yet replaced.
    const fleet = masters();
    const [inA, inB, gone] = fleet as [ClusterInstance, ClusterInstance, ClusterInstance];
    const standbys = ZONES.map((zone) => standby('master', { availabilityZone: zone }));
    const replacement = instance('master', { ec2State: 'pending', availabilityZone: 'eu-west-1c', tags: { 'kubeha:replaces': gone.instanceId } });

    // Act
    const awaiting = planStandbys(view([inA, inB], standbys, { settings: settings({ master: 3, worker: 0 }), records: fleet.map(recordOf) }));
    const launching = planStandbys(view([inA, inB, replacement], standbys, { settings: settings({ master: 3, worker: 0 }), records: fleet.map(recordOf) }));

    // Assess
    expect(awaiting.actions).toEqual([]);
    expect(launching.actions).toEqual([]);
    expect(awaiting.findings).toEqual([]);
  });

  it('retires the surplus when the setting is lowered from three to one, preparing ones first, then the newest', () => {
    // Prepare
    const oldest = standby('master', { availabilityZone: 'eu-west-1a', launchTime: new Date(NOW - 3 * 3600_000).toISOString() });
    const newer = standby('master', { availabilityZone: 'eu-west-1b', launchTime: new Date(NOW - 3600_000).toISOString() });
    const preparing = standby('master', { availabilityZone: 'eu-west-1c', readiness: 'preparing' });

    // Act
    const plan = planStandbys(view(masters(), [newer, preparing, oldest], { settings: settings({ master: 1, worker: 0 }) }));

    // Assess
    expect(plan.actions).toEqual([
      { kind: 'retire-standby', instanceId: preparing.instanceId, reason: 'more master standbys than the 1 wanted' },
      { kind: 'retire-standby', instanceId: newer.instanceId, reason: 'more master standbys than the 1 wanted' },
    ]);
  });

  it('launches one per zone and reports the rest when more are wanted than the masters hold zones', () => {
    // Prepare: three masters in two zones.
    const fleet = [
      instance('master', { availabilityZone: 'eu-west-1a', subnetId: 'subnet-0' }),
      instance('master', { availabilityZone: 'eu-west-1b', subnetId: 'subnet-1' }),
      instance('master', { availabilityZone: 'eu-west-1a', subnetId: 'subnet-0' }),
    ];

    // Act
    const plan = planStandbys(view(fleet, [], { settings: settings({ master: 3, worker: 0 }) }));

    // Assess
    expect(launches(plan).map((action) => action.kind === 'launch-standby' && action.subnetId)).toEqual(['subnet-0', 'subnet-1']);
    expect(plan.findings).toEqual([expect.stringMatching(/^1 of the 3 master standbys wanted \(healing\.standbys\.master\) has no zone to wait in: the masters hold 2 zone\(s\)/)]);
  });

  it("launches no standby into a dead master's zone until its replacement runs there, and says so", () => {
    // Prepare: zone c's master terminated, its heal not yet launched; no standby anywhere.
    const fleet = masters();
    const [inA, inB] = fleet as [ClusterInstance, ClusterInstance];

    // Act
    const plan = planStandbys(view([inA, inB], [], { settings: settings({ master: 3, worker: 0 }), records: fleet.map(recordOf) }));

    // Assess
    expect(launches(plan).map((action) => action.kind === 'launch-standby' && action.sourceInstanceId)).toEqual([inA.instanceId, inB.instanceId]);
    expect(plan.findings).toEqual(['no master standby can be launched in eu-west-1c yet: no master runs there to copy']);
  });

  it('launches where a master can be copied and names the zone where none can', () => {
    const fleet = masters();
    const plan = planStandbys(view(fleet, [], { settings: settings({ master: 3, worker: 0 }), records: fleet.slice(0, 2).map(recordOf) }));
    expect(launches(plan)).toHaveLength(2);
    expect(plan.findings).toEqual(['no master standby can be launched in eu-west-1c: no running master there has a launch record and the settings name no launchTemplates.master']);
  });
});

describe('planReconcile with a standby', () => {
  it('starts no healing for a standby, stopped past the grace period or running, and leaves upstreams as they are', () => {
    // Prepare: upstreams name the three masters; a stopped and a running standby, no launch record of either.
    const fleet = masters();
    const masterIps = fleet.map((master) => master.privateIp!).join(' ');
    const balancers = [instance('lb', { tags: { 'kubeha:upstreams': masterIps } }), instance('lb', { tags: { 'kubeha:upstreams': masterIps } })];
    const standbys = [standby('master'), standby('worker', { readiness: 'preparing', ec2State: 'running' })];
    const status = {
      members: fleet.map((master, index) => ({ id: `m${index}`, name: `m${index}`, peerIp: master.privateIp!, healthy: true })),
      nodes: fleet.map((master, index) => ({ name: `m${index}`, internalIp: master.privateIp!, ready: true, controlPlane: true })),
    };
    const base = {
      settings: settings({ master: 1, worker: 1 }),
      instances: [...fleet, ...balancers, ...standbys],
      elasticIpHolder: balancers[0]!.instanceId,
      lock: undefined,
      status,
      records: fleet.map(recordOf),
      standbys: { claimed: new Set<string>(), progress: {} },
    };

    // Act
    const first = planReconcile({ ...base, state: { unhealthySince: {} }, now: NOW }, { graceMinutes: 10, statusTimeoutSeconds: 30 });
    const later = planReconcile({ ...base, state: first.state, now: NOW + 11 * 60_000 }, { graceMinutes: 10, statusTimeoutSeconds: 30 });

    // Assess
    const membership = ['start-healing', 'reconfigure-load-balancers', 'reconfigure-node-proxies', 'mark-replaced'];
    for (const plan of [first, later]) {
      expect(plan.actions.filter((action) => membership.includes(action.kind))).toEqual([]);
      expect(plan.state).toEqual({ unhealthySince: {} });
    }
  });
});

/** A state table as DynamoDB's conditional writes behave: each put is atomic; calls interleave at their awaits. */
function memoryState(): StatePort & { items: Map<string, StoredItem<unknown>> } {
  const items = new Map<string, StoredItem<unknown>>();
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
  return {
    items,
    async get<T>(_cluster: string, key: string) {
      await tick();
      return items.get(key) as StoredItem<T> | undefined;
    },
    async list<T>(_cluster: string, prefix: string) {
      await tick();
      return [...items.values()].filter((item) => item.key.startsWith(prefix)) as StoredItem<T>[];
    },
    async put(_cluster, key, value, expected) {
      await tick();
      const current = items.get(key);
      if (expected === 'absent' ? current !== undefined : expected !== 'any' && current?.version !== expected) return false;
      items.set(key, { key, value, version: (current?.version ?? 0) + 1 });
      return true;
    },
    async remove(_cluster, key) {
      return items.delete(key);
    },
    async putMany() {},
  };
}

/** EC2 as far as a claim uses it: tags and states of the given instances, calls recorded. */
function memoryEc2(instances: ClusterInstance[], zonesShortOfCapacity: readonly string[] = []) {
  const byId = new Map(instances.map((candidate) => [candidate.instanceId, { ...candidate, tags: { ...candidate.tags } }]));
  const calls: string[] = [];
  const ec2 = {
    async describeInstance(instanceId: string) {
      return byId.get(instanceId);
    },
    async tagInstances(ids: readonly string[], tags: Record<string, string>) {
      calls.push(`tag ${ids.join()} ${Object.keys(tags).join()}`);
      for (const id of ids) Object.assign(byId.get(id)!.tags!, tags);
    },
    async untagInstances(ids: readonly string[], keys: readonly string[]) {
      calls.push(`untag ${ids.join()}`);
      for (const id of ids) for (const key of keys) delete (byId.get(id)!.tags as Record<string, string>)[key];
    },
    async startInstance(id: string) {
      calls.push(`start ${id}`);
      if (zonesShortOfCapacity.includes(byId.get(id)!.availabilityZone ?? '')) throw InsufficientCapacityError.toStart(id);
      byId.set(id, { ...byId.get(id)!, ec2State: 'pending' });
    },
  } as unknown as Ec2Port;
  return { ec2, calls, byId };
}

describe('claimStandby', () => {
  const clock = { now: () => NOW, sleep: async () => undefined };
  const input = (deadInstanceId: string, role: 'master' | 'worker', availabilityZone: string) => ({ clusterName: 'prod-eu', deadInstanceId, role, availabilityZone, kubernetesVersion: '1.36.4' });

  it('gives one standby to one of two concurrent heals; the other gets none and launches', async () => {
    // Prepare: two dead workers, one ready worker standby.
    const only = standby('worker', { availabilityZone: 'eu-west-1a' });
    const state = memoryState();
    const { ec2, calls } = memoryEc2([only]);

    // Act
    const [first, second] = await Promise.all([
      claimStandby(input('i-dead-1', 'worker', 'eu-west-1a'), [only], { ec2, state, clock }),
      claimStandby(input('i-dead-2', 'worker', 'eu-west-1b'), [only], { ec2, state, clock }),
    ]);

    // Assess
    expect([first?.instanceId, second?.instanceId].filter(Boolean)).toEqual([only.instanceId]);
    expect(calls.filter((call) => call.startsWith('start'))).toEqual([`start ${only.instanceId}`]);
    expect(state.items.size).toBe(1);
  });

  it('gives two concurrent heals two different standbys when there are two', async () => {
    const standbys = [standby('worker', { availabilityZone: 'eu-west-1a' }), standby('worker', { availabilityZone: 'eu-west-1b' })];
    const state = memoryState();
    const { ec2 } = memoryEc2(standbys);

    const claims = await Promise.all([
      claimStandby(input('i-dead-1', 'worker', 'eu-west-1a'), standbys, { ec2, state, clock }),
      claimStandby(input('i-dead-2', 'worker', 'eu-west-1a'), standbys, { ec2, state, clock }),
    ]);

    expect(new Set(claims.map((claim) => claim?.instanceId)).size).toBe(2);
    expect(claims.every((claim) => claim !== undefined)).toBe(true);
  });

  it('finds its own claim again on a retry, starting nothing twice, and retags the standby as the replacement', async () => {
    // Prepare
    const ready = standby('master', { availabilityZone: 'eu-west-1b' });
    const state = memoryState();
    const { ec2, calls, byId } = memoryEc2([ready]);
    const first = await claimStandby(input('i-dead-1', 'master', 'eu-west-1b'), [ready], { ec2, state, clock });

    // Act: the retried Task sees the standby already pending and retagged.
    const retried = await claimStandby(input('i-dead-1', 'master', 'eu-west-1b'), [byId.get(ready.instanceId)!], { ec2, state, clock });

    // Assess
    expect(retried).toEqual({ instanceId: ready.instanceId, privateIp: ready.privateIp, alreadyBooting: true });
    expect(first?.alreadyBooting).toBe(false);
    expect(calls.filter((call) => call.startsWith('start'))).toHaveLength(1);
    expect(byId.get(ready.instanceId)!.tags).toEqual({ 'kubernetes.io/cluster/prod-eu': 'owned', 'kubeha:role': 'master', 'kubeha:replaces': 'i-dead-1' });
    expect(standbysOf([...byId.values()])).toEqual([]);
  });

  it('gives back a standby EC2 has no capacity to start, and takes the next one in another zone', async () => {
    // Prepare: the dead worker's own zone is short of capacity; another zone has a standby too.
    const inA = standby('worker', { availabilityZone: 'eu-west-1a' });
    const inB = standby('worker', { availabilityZone: 'eu-west-1b' });
    const state = memoryState();
    const { ec2, calls, byId } = memoryEc2([inA, inB], ['eu-west-1a']);

    // Act
    const claimed = await claimStandby(input('i-dead-1', 'worker', 'eu-west-1a'), [inA, inB], { ec2, state, clock });

    // Assess: a is a ready standby again, unclaimed and without member tags; b is the replacement.
    expect(claimed?.instanceId).toBe(inB.instanceId);
    expect(calls.filter((call) => call.startsWith('start'))).toEqual([`start ${inA.instanceId}`, `start ${inB.instanceId}`]);
    expect(byId.get(inA.instanceId)!.tags).toEqual(inA.tags);
    expect(standbysOf([byId.get(inA.instanceId)!]).map((view) => view.readiness)).toEqual(['ready']);
    expect([...state.items.keys()].some((key) => key.includes(inA.instanceId))).toBe(false);
    expect(byId.get(inB.instanceId)!.tags).toMatchObject({ 'kubeha:role': 'worker', 'kubeha:replaces': 'i-dead-1' });
  });

  it('gives back the only standby EC2 cannot start, so the heal launches; a retried Task does the same without a second claim left behind', async () => {
    // Prepare
    const only = standby('master', { availabilityZone: 'eu-west-1b' });
    const state = memoryState();
    const { ec2, byId } = memoryEc2([only], ['eu-west-1b']);

    // Act
    const first = await claimStandby(input('i-dead-1', 'master', 'eu-west-1b'), [only], { ec2, state, clock });
    const retried = await claimStandby(input('i-dead-1', 'master', 'eu-west-1b'), [byId.get(only.instanceId)!], { ec2, state, clock });

    // Assess
    expect(first).toBeUndefined();
    expect(retried).toBeUndefined();
    expect(byId.get(only.instanceId)!.ec2State).toBe('stopped');
    expect(byId.get(only.instanceId)!.tags).toEqual(only.tags);
    expect(state.items.size).toBe(0);
  });

  it('passes on any other failure to start a claimed standby', async () => {
    // Prepare
    const only = standby('worker', { availabilityZone: 'eu-west-1a' });
    const { ec2 } = memoryEc2([only]);
    const failing = { ...ec2, startInstance: async () => Promise.reject(new Error('UnauthorizedOperation')) } as unknown as Ec2Port;

    // Act / Assess
    await expect(claimStandby(input('i-dead-1', 'worker', 'eu-west-1a'), [only], { ec2: failing, state: memoryState(), clock })).rejects.toThrow('UnauthorizedOperation');
  });

  it('never gives a master a standby beside another live master, but one in its own zone or a zone without a master', async () => {
    // Prepare: live masters in zones a and c; the dead one was in b.
    const live = [instance('master', { availabilityZone: 'eu-west-1a' }), instance('master', { availabilityZone: 'eu-west-1c' })];
    const besideA = standby('master', { availabilityZone: 'eu-west-1a' });
    const inB = standby('master', { availabilityZone: 'eu-west-1b' });
    const inD = standby('master', { availabilityZone: 'eu-west-1d' });

    // Act
    const none = await claimStandby(input('i-dead-b', 'master', 'eu-west-1b'), [...live, besideA], { ...memoryEc2([besideA]), state: memoryState(), clock });
    const own = await claimStandby(input('i-dead-b', 'master', 'eu-west-1b'), [...live, besideA, inD, inB], { ...memoryEc2([besideA, inB, inD]), state: memoryState(), clock });
    const empty = await claimStandby(input('i-dead-b', 'master', 'eu-west-1b'), [...live, besideA, inD], { ...memoryEc2([besideA, inD]), state: memoryState(), clock });

    // Assess
    expect(none).toBeUndefined();
    expect(own?.instanceId).toBe(inB.instanceId);
    expect(empty?.instanceId).toBe(inD.instanceId);
  });

  it('takes no standby that is still preparing, stopping, or prepared for another version', async () => {
    const unusable = [standby('worker', { readiness: 'preparing' }), standby('worker', { ec2State: 'stopping' }), standby('worker', { version: '1.36.3' })];
    const claim = await claimStandby(input('i-dead-1', 'worker', 'eu-west-1a'), unusable, { ...memoryEc2(unusable), state: memoryState(), clock });
    expect(claim).toBeUndefined();
  });
});

describe('sendsWhileBooting', () => {
  it('is true only for a started standby that is prepared, whose agent SSM knows already', () => {
    expect(sendsWhileBooting({ boot: 'start', prerequisitesInstalled: true })).toBe(true);
    expect(sendsWhileBooting({ boot: 'start', prerequisitesInstalled: false })).toBe(false);
    expect(sendsWhileBooting({ boot: 'launch', prerequisitesInstalled: true })).toBe(false);
    expect(sendsWhileBooting({ boot: 'launch', prerequisitesInstalled: false })).toBe(false);
  });
});

describe('launchReplacement', () => {
  const clock = { now: () => NOW, sleep: async () => undefined };
  const launchSettings = (standbysWanted: number) => ({ kubernetesVersion: '1.36.4', standbysWanted });
  const portsOver = (instances: ClusterInstance[]) => {
    const { ec2, byId } = memoryEc2(instances);
    const fleet = { ...ec2, findClusterInstances: async () => [...byId.values()], runInstance: async () => Promise.reject(new Error('no launch expected')) } as unknown as Ec2Port;
    return { ec2: fleet, ssm: {} as never, state: memoryState(), clock };
  };

  it('says the first command goes out as a claimed warm standby boots', async () => {
    // Prepare
    const ready = standby('worker', { availabilityZone: 'eu-west-1a' });

    // Act
    const replacement = await launchReplacement({ clusterName: 'prod-eu', deadInstanceId: 'i-0dead0000000000001', role: 'worker', executionArn: 'arn:exec', settings: launchSettings(1) }, portsOver([ready]));

    // Assess
    expect(replacement).toMatchObject({ instanceId: ready.instanceId, boot: 'start', prerequisitesInstalled: true, sendWhileBooting: true });
  });

  it('gives a retried launch the instance its first attempt made, even once the dead address is free and EC2 does not list that instance yet', async () => {
    // Prepare: the dead master's address is held by its old network interface, so the first attempt launches
    // beside it. EC2 honours client tokens and, eventually consistent, lists nothing launched yet.
    const dead = 'i-0dead0000000000001';
    const state = memoryState();
    const record: LaunchRecord = {
      instanceId: dead, role: 'master', recordedAt: new Date(NOW).toISOString(), imageId: 'ami-0123456789abcdef0', instanceType: 't3.medium',
      subnetId: 'subnet-1', availabilityZone: 'eu-west-1b', privateIp: '10.0.16.11', securityGroupIds: ['sg-0123456789abcdef0'], tags: {}, blockDevices: [],
    };
    await state.put('prod-eu', launchRecordKey(dead), record, 'absent');
    const byToken = new Map<string, { instanceId: string; privateIp: string }>();
    let addressTaken = true;
    const runInstance = async (_spec: unknown, options: { privateIp?: string; clientToken: string }) => {
      const earlier = byToken.get(options.clientToken);
      if (earlier) return earlier;
      if (options.privateIp && addressTaken) return 'addressInUse' as const;
      const made = { instanceId: `i-0launched00000000${byToken.size + 1}`, privateIp: options.privateIp ?? '10.0.16.99' };
      byToken.set(options.clientToken, made);
      return made;
    };
    const ports = { ec2: { findClusterInstances: async () => [], runInstance } as unknown as Ec2Port, ssm: {} as never, state, clock };
    const input = { clusterName: 'prod-eu', deadInstanceId: dead, role: 'master' as const, executionArn: 'arn:exec', settings: launchSettings(0) };
    const first = await launchReplacement(input, ports);

    // Act: the function timed out after EC2 launched; by the retry the old interface has let go of the address.
    addressTaken = false;
    const retried = await launchReplacement(input, ports);

    // Assess: one instance, on the address the first attempt got.
    expect(first).toMatchObject({ privateIp: '10.0.16.99', sameAddress: false });
    expect(retried).toMatchObject({ instanceId: first.instanceId, privateIp: '10.0.16.99', sameAddress: false });
    expect(byToken.size).toBe(1);
  });

  it('says the first command waits for the boot of an instance launched as the replacement', async () => {
    // Prepare: a retried Task finds the instance its first attempt launched, still pending.
    const launched = instance('worker', { ec2State: 'pending', tags: { 'kubernetes.io/cluster/prod-eu': 'owned', 'kubeha:role': 'worker', 'kubeha:replaces': 'i-0dead0000000000001' } });

    // Act
    const replacement = await launchReplacement({ clusterName: 'prod-eu', deadInstanceId: 'i-0dead0000000000001', role: 'worker', executionArn: 'arn:exec', settings: launchSettings(0) }, portsOver([launched]));

    // Assess
    expect(replacement).toMatchObject({ instanceId: launched.instanceId, boot: 'launch', prerequisitesInstalled: false, sendWhileBooting: false });
  });
});

describe('launchReplacement when EC2 has no capacity', () => {
  const clock = { now: () => NOW, sleep: async () => undefined };
  const template = { launchTemplateId: 'lt-0abc12345def67890', version: '3' };
  const shortage = (zone: string) =>
    new LaunchFailedError(`could not launch a replacement: We currently do not have sufficient t3.medium capacity in the Availability Zone you requested (${zone}).`, {
      insufficientCapacity: true,
      cause: Object.assign(new Error(`We currently do not have sufficient t3.medium capacity in the Availability Zone you requested (${zone}).`), { name: 'InsufficientInstanceCapacity' }),
    });
  /** EC2 that refuses every launch into the given zones (by subnet) with `refusal`, and launches elsewhere. */
  const portsRefusing = (instances: ClusterInstance[], shortZones: readonly string[], refusal: (zone: string) => Error = shortage) => {
    const zoneOf = new Map(instances.map((member) => [member.subnetId, member.availabilityZone ?? '']));
    const launches: string[] = [];
    const ec2 = {
      findClusterInstances: async () => instances,
      async runInstance(spec: { subnetId: string }) {
        const zone = zoneOf.get(spec.subnetId) ?? '';
        launches.push(zone);
        if (shortZones.includes(zone)) throw refusal(zone);
        return { instanceId: 'i-0new00000000000001', privateIp: '10.0.9.9' };
      },
    } as unknown as Ec2Port;
    return { ports: { ec2, ssm: {} as never, state: memoryState(), clock }, launches };
  };
  const workers = () => ZONES.map((zone, index) => instance('worker', { availabilityZone: zone, subnetId: `subnet-w${index}` }));
  const launchOf = (role: 'master' | 'worker' | 'lb') => ({ clusterName: 'prod-eu', deadInstanceId: 'i-0dead0000000000001', role, executionArn: 'arn:exec', settings: { kubernetesVersion: '1.36.4', standbysWanted: 0, launchTemplate: template } });

  it('throws InsufficientCapacityError for a master refused in its own zone, naming it and quoting EC2, without trying another zone', async () => {
    // Prepare
    const { ports, launches } = portsRefusing(masters(), ['eu-west-1a']);

    // Act
    const error = await launchReplacement(launchOf('master'), ports).catch((thrown: unknown) => thrown);

    // Assess
    expect(error).toBeInstanceOf(InsufficientCapacityError);
    expect((error as Error).message).toBe(
      'EC2 has too little capacity to launch the replacement of master i-0dead0000000000001 in eu-west-1a now (a master is launched only in its own zone): We currently do not have sufficient t3.medium capacity in the Availability Zone you requested (eu-west-1a).',
    );
    expect((error as Error).cause).toBeInstanceOf(LaunchFailedError);
    expect(launches).toEqual(['eu-west-1a']);
  });

  it('throws InsufficientCapacityError for a worker only once every zone with a running worker refused, naming them all', async () => {
    // Prepare
    const { ports, launches } = portsRefusing(workers(), ZONES);

    // Act
    const error = await launchReplacement(launchOf('worker'), ports).catch((thrown: unknown) => thrown);

    // Assess
    expect(error).toBeInstanceOf(InsufficientCapacityError);
    expect((error as Error).message).toContain('replacement of worker i-0dead0000000000001 in eu-west-1a, eu-west-1b, eu-west-1c now (every zone with a running worker was tried)');
    expect(launches).toEqual(ZONES);
  });

  it('launches a worker in the first zone that has capacity', async () => {
    const { ports, launches } = portsRefusing(workers(), ['eu-west-1a', 'eu-west-1b']);
    await expect(launchReplacement(launchOf('worker'), ports)).resolves.toMatchObject({ instanceId: 'i-0new00000000000001' });
    expect(launches).toEqual(ZONES);
  });

  it('keeps LaunchFailedError for a launch that failed for another reason than capacity', async () => {
    const { ports } = portsRefusing(masters(), ['eu-west-1a'], () => new LaunchFailedError('could not launch a replacement: The subnet ID does not exist'));
    const error = await launchReplacement(launchOf('master'), ports).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(LaunchFailedError);
    expect(error).not.toBeInstanceOf(InsufficientCapacityError);
  });
});

describe('notifyCapacityWait', () => {
  it('tells a human which instance waits, EC2\'s reason, how often kubeha tries and until when', async () => {
    // Prepare
    const published: { subject: string; message: string }[] = [];
    const ports = { notifier: { publish: async (subject: string, message: string) => void published.push({ subject, message }) }, clock: { now: () => NOW, sleep: async () => undefined } };
    const cause = JSON.stringify({ errorType: 'InsufficientCapacityError', errorMessage: 'EC2 has too little capacity to launch the replacement of master i-0dead in eu-west-1a now' });

    // Act
    const answer = await notifyCapacityWait({ clusterName: 'prod-eu', instanceId: 'i-0dead', cause, retryEverySeconds: 300, rounds: 18, executionArn: 'arn:exec' }, ports);

    // Assess
    expect(answer.until).toBe('2026-11-24T10:30:00.000Z');
    expect(published).toHaveLength(1);
    expect(published[0]!.subject).toBe('kubeha prod-eu: healing of i-0dead waits for EC2 capacity');
    expect(published[0]!.message).toContain('EC2: EC2 has too little capacity to launch the replacement of master i-0dead in eu-west-1a now');
    expect(published[0]!.message).toContain('every 5 minutes until 2026-11-24T10:30:00.000Z, in this same execution, and then stops and tells you');
  });
});
