import { describe, expect, it } from 'vitest';
import type { SimInstance } from '../../sim/fleet.js';
import { settleInvocations } from '../../sim/ssm.js';
import { bootstrappedCluster } from '../support/cluster.js';

const CHANGES = ['StartExecution', 'AssociateAddress', 'CreateTags', 'PutParameter', 'DeleteParameter', 'RunInstances', 'StartInstances'];

describe('reconcile', () => {
  it('changes nothing and starts no workflow on a healthy cluster', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const before = fleet.calls.length;

    const report = (await plane.reconcile()) as { clusters: { actions: unknown[]; deepChecks: boolean }[] };

    expect(report.clusters).toEqual([{ clusterName: 'demo', actions: [], deepChecks: true }]);
    expect(fleet.calls.slice(before).filter((call) => CHANGES.includes(call.operation))).toEqual([]);
    expect(fleet.calls.slice(before).filter((call) => call.operation === 'SendCommand')).toHaveLength(1);
  });

  it('heals a running master whose node stays NotReady past the grace period', async () => {
    // Prepare: the kubelet wedges; EC2 sees a running instance and sends no event.
    const { fleet, plane } = await bootstrappedCluster();
    const wedged = fleet.byRole('master')[2]!;
    fleet.wedgeNode(wedged.instanceId);

    // Act
    await plane.reconcile();
    const executionsDuringGrace = fleet.executions.size;
    fleet.advance(11 * 60);
    await plane.reconcile();
    await plane.reconcile();
    const heals = await plane.settle();
    fleet.advance(60);
    const after = (await plane.reconcile()) as { clusters: { actions: unknown[] }[] };

    // Assess
    expect(executionsDuringGrace).toBe(1);
    expect(heals).toHaveLength(1);
    expect(heals[0]!.error).toBeUndefined();
    expect(plane.executionsOf('heal-master')[0]!.name).toBe(`${wedged.instanceId}-running-1-1`);
    const cluster = fleet.clusters.get('demo')!;
    expect(cluster.etcdMembers.every((member) => member.healthy)).toBe(true);
    expect(cluster.nodes.every((node) => node.ready)).toBe(true);
    expect(after.clusters[0]!.actions).toEqual([]);
    expect(JSON.parse(fleet.items.get('cluster#demo|reconcile')!.body)).toEqual({ unhealthySince: {} });
  });

  it('puts a misplaced Elastic IP back on a running load balancer', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    fleet.associateAddress(fleet.elasticIpAllocationId, fleet.byRole('worker')[0]!.instanceId, true);

    await plane.reconcile();

    expect(fleet.byRole('lb').map((balancer) => balancer.instanceId)).toContain(fleet.addresses.get(fleet.elasticIpAllocationId)?.instanceId);
  });

  it('re-renders load balancer upstreams that no longer match the masters', async () => {
    // Prepare: a master was swapped by hand; the load balancers still point at its old address.
    const { fleet, plane } = await bootstrappedCluster();
    const balancers = fleet.byRole('lb') as [SimInstance, SimInstance];
    const masterIps = fleet.byRole('master').map((master) => master.privateIp);
    for (const balancer of balancers) {
      balancer.node.nginx!.upstreams = [...masterIps.slice(0, 2), '10.0.99.99'];
      balancer.tags['kubeha:upstreams'] = balancer.node.nginx!.upstreams.join(' ');
    }

    // Act
    await plane.reconcile();
    fleet.advance(60);
    settleInvocations(fleet);

    // Assess
    for (const balancer of balancers) {
      expect(balancer.node.nginx?.upstreams).toEqual(masterIps);
      expect(balancer.tags['kubeha:upstreams']?.split(' ').sort()).toEqual([...masterIps].sort());
    }
  });

  it('clears a lock left behind by an execution that is no longer running', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    fleet.items.set('cluster#demo|lock', { pk: 'cluster#demo', sk: 'lock', v: 3, body: JSON.stringify({ executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:kubeha-local-heal-master:gone', purpose: 'heal', acquiredAt: '' }) });

    await plane.reconcile();

    expect(fleet.items.has('cluster#demo|lock')).toBe(false);
  });
});
