import { describe, expect, it } from 'vitest';
import type { ClusterSettings } from '../../functions/core/bootstrap.js';
import { type ClusterView, planReconcile } from '../../functions/core/reconcile.js';
import { instance } from '../support/instances.js';

const OPTIONS = { graceMinutes: 10, statusTimeoutSeconds: 30 };
const NOW = Date.parse('2026-11-24T09:00:00Z');

function view(overrides: Partial<ClusterView> = {}): ClusterView {
  const masters = [instance('master', { nodeState: 'initialized' }), instance('master', { nodeState: 'joined' }), instance('master', { nodeState: 'joined' })];
  const masterIps = masters.map((master) => master.privateIp!).join(' ');
  const balancers = [instance('lb', { tags: { 'kubeha:upstreams': masterIps } }), instance('lb', { tags: { 'kubeha:upstreams': masterIps } })];
  const instances = overrides.instances ?? [...masters, ...balancers];
  return {
    settings: { cluster: { clusterName: 'prod-eu' } } as ClusterSettings,
    instances,
    elasticIpHolder: balancers[0]!.instanceId,
    lock: undefined,
    status: {
      members: masters.map((master, index) => ({ id: `m${index}`, name: `m${index}`, peerIp: master.privateIp!, healthy: true })),
      nodes: masters.map((master, index) => ({ name: `m${index}`, internalIp: master.privateIp!, ready: true, controlPlane: true })),
    },
    state: { unhealthySince: {} },
    records: [],
    now: NOW,
    ...overrides,
  };
}

describe('planReconcile', () => {
  it('does nothing and remembers nothing for a healthy cluster', () => {
    expect(planReconcile(view(), OPTIONS)).toEqual({ actions: [], state: { unhealthySince: {} } });
  });

  it('remembers a NotReady master first, and starts heal-master only once the grace period has passed', () => {
    // Prepare
    const healthy = view();
    const sick = healthy.instances[1]!;
    const status = { ...healthy.status!, nodes: healthy.status!.nodes.map((node) => (node.internalIp === sick.privateIp ? { ...node, ready: false } : node)) };

    // Act
    const first = planReconcile({ ...healthy, status }, OPTIONS);
    const later = planReconcile({ ...healthy, status, state: first.state, now: NOW + 11 * 60_000 }, OPTIONS);

    // Assess
    expect(first.actions).toEqual([]);
    expect(first.state.unhealthySince).toEqual({ [sick.instanceId]: NOW });
    expect(later.actions).toEqual([
      { kind: 'start-healing', instanceId: sick.instanceId, role: 'master', state: 'running', reason: 'node m1 is NotReady' },
    ]);
  });

  it('forgets a node that recovered within the grace period', () => {
    const sickId = view().instances[1]!.instanceId;
    expect(planReconcile(view({ state: { unhealthySince: { [sickId]: NOW - 60_000 } } }), OPTIONS).state).toEqual({ unhealthySince: {} });
  });

  it('moves an Elastic IP that sits on no running load balancer', () => {
    const plan = planReconcile(view({ elasticIpHolder: 'i-0000000000000dead' }), OPTIONS);
    expect(plan.actions).toEqual([{ kind: 'move-elastic-ip', to: expect.stringMatching(/^i-/), from: 'i-0000000000000dead' }]);
  });

  it('re-renders load balancers whose recorded upstreams differ from the running masters', () => {
    const base = view();
    const instances = base.instances.map((candidate) => (candidate.role === 'lb' ? { ...candidate, tags: { 'kubeha:upstreams': '10.9.9.9' } } : candidate));
    const [action] = planReconcile({ ...base, instances }, OPTIONS).actions;
    expect(action).toMatchObject({ kind: 'reconfigure-load-balancers', masterIps: instances.filter((candidate) => candidate.role === 'master').map((master) => master.privateIp).sort() });
  });

  it('deletes a lock whose holder no longer runs, but leaves upstreams alone while a heal is underway', () => {
    const record = { executionArn: 'arn:aws:states:eu-west-1:1:execution:x:y', purpose: 'heal', acquiredAt: '' };
    expect(planReconcile(view({ lock: { record, version: 7, holderStatus: 'FAILED' } }), OPTIONS).actions).toEqual([{ kind: 'delete-stale-lock', holder: record.executionArn, version: 7 }]);
    const base = view({ lock: { record, version: 7, holderStatus: 'RUNNING' } });
    const instances = base.instances.map((candidate) => (candidate.role === 'lb' ? { ...candidate, tags: {} } : candidate));
    expect(planReconcile({ ...base, instances }, OPTIONS).actions).toEqual([]);
  });

  describe('with the API probed through each load balancer', () => {
    const probes = (of: ClusterView, holder: boolean, standby: boolean) => {
      const [first, second] = of.instances.filter((candidate) => candidate.role === 'lb');
      return { [first!.instanceId]: { healthy: holder, reason: holder ? '' : 'no API server answered /livez through nginx in 3 tries of 3 s' }, [second!.instanceId]: { healthy: standby, reason: '' } };
    };

    it('heals the Elastic IP holder when the API does not answer through it but does through the standby', () => {
      const base = view();
      const plan = planReconcile({ ...base, balancerProbes: probes(base, false, true) }, OPTIONS);
      expect(plan.actions).toEqual([
        { kind: 'start-healing', instanceId: base.elasticIpHolder, role: 'lb', state: 'running', reason: `load balancer ${base.elasticIpHolder} holds the Elastic IP but no API server answered /livez through nginx in 3 tries of 3 s` },
      ]);
    });

    it('leaves the holder alone when the standby fails too, when the standby was not probed, or while a heal holds the lock', () => {
      const record = { executionArn: 'arn:aws:states:eu-west-1:1:execution:x:y', purpose: 'heal', acquiredAt: '' };
      const base = view();
      expect(planReconcile({ ...base, balancerProbes: probes(base, false, false) }, OPTIONS).actions).toEqual([]);
      const holderOnly = Object.fromEntries(Object.entries(probes(base, false, true)).slice(0, 1));
      expect(planReconcile({ ...base, balancerProbes: holderOnly }, OPTIONS).actions).toEqual([]);
      expect(planReconcile({ ...base, balancerProbes: probes(base, false, true), lock: { record, version: 1, holderStatus: 'RUNNING' } }, OPTIONS).actions).toEqual([]);
      expect(planReconcile({ ...base, balancerProbes: probes(base, true, false) }, OPTIONS).actions).toEqual([]);
    });
  });

  it("re-points the API proxies of joined workers whose recorded masters differ, and leaves the others alone", () => {
    const base = view();
    const masterIps = base.instances.filter((candidate) => candidate.role === 'master').map((master) => master.privateIp!);
    const current = instance('worker', { nodeState: 'joined', tags: { 'kubeha:upstreams': [...masterIps].reverse().join(' ') } });
    const stale = instance('worker', { nodeState: 'joined', tags: { 'kubeha:upstreams': '10.9.9.9' } });
    const untagged = instance('worker', { nodeState: 'joined' });
    const joining = instance('worker', { nodeState: 'prepared' });
    const plan = planReconcile({ ...base, instances: [...base.instances, current, stale, untagged, joining] }, OPTIONS);
    expect(plan.actions).toEqual([{ kind: 'reconfigure-node-proxies', instanceIds: [stale.instanceId, untagged.instanceId], masterIps: [...masterIps].sort() }]);
  });

  it('reports an etcd member that belongs to no running master', () => {
    const base = view();
    const status = { ...base.status!, members: [...base.status!.members, { id: 'x', name: 'ghost', peerIp: '10.0.99.99', healthy: false }] };
    expect(planReconcile({ ...base, status }, OPTIONS).actions).toEqual([{ kind: 'report', finding: 'etcd member ghost (10.0.99.99) belongs to no running master' }]);
  });
});
