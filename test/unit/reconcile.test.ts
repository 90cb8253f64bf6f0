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

  it('reports an etcd member that belongs to no running master', () => {
    const base = view();
    const status = { ...base.status!, members: [...base.status!.members, { id: 'x', name: 'ghost', peerIp: '10.0.99.99', healthy: false }] };
    expect(planReconcile({ ...base, status }, OPTIONS).actions).toEqual([{ kind: 'report', finding: 'etcd member ghost (10.0.99.99) belongs to no running master' }]);
  });
});
