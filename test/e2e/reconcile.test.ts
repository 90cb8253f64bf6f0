import { describe, expect, it } from 'vitest';
import type { SimInstance } from '../../sim/fleet.js';
import { settleInvocations } from '../../sim/ssm.js';
import { bootstrappedCluster, stopAfterOnlineCheck } from '../support/cluster.js';

const CHANGES = ['StartExecution', 'AssociateAddress', 'CreateTags', 'PutParameter', 'DeleteParameter', 'RunInstances', 'StartInstances'];

/** A bootstrapped cluster whose load balancers (and their upstreams tags) still name a master address that is gone. */
async function balancersNamingAGoneMaster() {
  const { fleet, plane } = await bootstrappedCluster();
  const balancers = fleet.byRole('lb') as [SimInstance, SimInstance];
  const masterIps = fleet.byRole('master').map((master) => master.privateIp);
  for (const balancer of balancers) {
    balancer.node.nginx!.upstreams = [...masterIps.slice(0, 2), '10.0.99.99'];
    balancer.tags['kubeha:upstreams'] = balancer.node.nginx!.upstreams.join(' ');
  }
  return { fleet, plane, balancers, masterIps };
}

describe('reconcile', () => {
  it('changes nothing and starts no workflow on a healthy cluster', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const before = fleet.calls.length;

    const report = (await plane.reconcile()) as { clusters: { actions: unknown[]; deepChecks: boolean }[] };

    expect(report.clusters).toEqual([{ clusterName: 'demo', actions: [], deepChecks: true }]);
    expect(fleet.calls.slice(before).filter((call) => CHANGES.includes(call.operation))).toEqual([]);
    // Read-only commands only: the cluster's status (from each master the first time, for its certificates), and the API through each load balancer.
    expect(fleet.invocations.filter((invocation) => fleet.calls.slice(before).some((call) => call.operation === 'SendCommand' && invocation.startedAt === call.at)).map((invocation) => invocation.document).sort()).toEqual(['ClusterStatus', 'ClusterStatus', 'ClusterStatus', 'ProbeLoadBalancer', 'ProbeLoadBalancer']);
    // One probe command, the status from one master, the other masters' certificates only.
    expect(fleet.calls.slice(before).filter((call) => call.operation === 'SendCommand')).toHaveLength(3);
  });

  it("asks one master for the cluster's status on the next runs: the others' certificates are checked again only hours later", async () => {
    // Prepare: a first run has recorded every master's certificates.
    const { fleet, plane } = await bootstrappedCluster();
    await plane.reconcile();
    fleet.advance(5 * 60);
    const before = fleet.calls.length;

    // Act
    await plane.reconcile();
    const sent = fleet.calls.slice(before).filter((call) => call.operation === 'SendCommand');
    fleet.advance(6 * 3600);
    const later = fleet.calls.length;
    await plane.reconcile();

    // Assess
    const targets = (calls: typeof sent) =>
      calls
        .filter((call) => (call.input as { DocumentName: string }).DocumentName.includes('ClusterStatus'))
        .map((call) => `${(call.input as { InstanceIds: string[] }).InstanceIds.length} ${(call.input as { Parameters: { StatusScope: string[] } }).Parameters.StatusScope[0]}`);
    expect(targets(sent)).toEqual(['1 full']);
    // Hours later: the whole view from one master, only the certificates from the other two.
    expect(targets(fleet.calls.slice(later).filter((call) => call.operation === 'SendCommand'))).toEqual(['1 full', '2 certificates']);
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
    const { fleet, plane, balancers, masterIps } = await balancersNamingAGoneMaster();

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

  it('points a worker whose API proxy names a master that is gone at the masters, once', async () => {
    // Prepare: a worker's proxy (and its record) still names an old master address.
    const { fleet, plane } = await bootstrappedCluster();
    const masterIps = fleet.byRole('master').map((master) => master.privateIp);
    const worker = fleet.byRole('worker')[1]!;
    worker.node.proxy = { upstreams: [...masterIps.slice(0, 2), '10.0.99.99'], reloads: 1 };
    worker.tags['kubeha:upstreams'] = worker.node.proxy.upstreams.join(' ');

    // Act
    const first = (await plane.reconcile()) as { clusters: { actions: { kind: string; instanceIds?: string[] }[] }[] };
    fleet.advance(60);
    settleInvocations(fleet);
    const second = (await plane.reconcile()) as { clusters: { actions: { kind: string }[] }[] };

    // Assess
    expect(first.clusters[0]!.actions).toEqual([{ kind: 'reconfigure-node-proxies', instanceIds: [worker.instanceId], masterIps }]);
    expect(worker.node.proxy.upstreams).toEqual(masterIps);
    expect(second.clusters[0]!.actions).toEqual([]);
    for (const other of fleet.byRole('worker')) expect(other.node.proxy?.upstreams).toEqual(masterIps);
  });

  it('records a worker as pointed only once its proxy command succeeded, and sends a failed one again next run', async () => {
    // Prepare: two workers' proxies name an old master; the command fails on one of them.
    const { fleet, plane } = await bootstrappedCluster();
    const masterIps = fleet.byRole('master').map((master) => master.privateIp);
    const [failing, healthy] = fleet.byRole('worker') as [SimInstance, SimInstance];
    for (const worker of [failing, healthy]) {
      worker.node.proxy = { upstreams: [...masterIps.slice(0, 2), '10.0.99.99'], reloads: 1 };
      worker.tags['kubeha:upstreams'] = worker.node.proxy.upstreams.join(' ');
    }
    fleet.failDocument({ document: 'ConfigureNodeProxy', instanceId: failing.instanceId, times: 1 });

    // Act
    await plane.reconcile();
    const taggedAfterFailure = failing.tags['kubeha:upstreams'];
    fleet.advance(60);
    settleInvocations(fleet);
    const second = (await plane.reconcile()) as { clusters: { actions: { kind: string; instanceIds?: string[] }[] }[] };

    // Assess
    expect(healthy.tags['kubeha:upstreams']?.split(' ').sort()).toEqual([...masterIps].sort());
    expect(taggedAfterFailure).toContain('10.0.99.99');
    expect(second.clusters[0]!.actions).toEqual([{ kind: 'reconfigure-node-proxies', instanceIds: [failing.instanceId], masterIps }]);
    expect(failing.node.proxy?.upstreams).toEqual(masterIps);
    expect(failing.tags['kubeha:upstreams']?.split(' ').sort()).toEqual([...masterIps].sort());
  });

  it('records a load balancer as re-pointed only once its command succeeded', async () => {
    // Prepare: both load balancers name an old master; the command fails on one of them once.
    const { fleet, plane, balancers, masterIps } = await balancersNamingAGoneMaster();
    fleet.failDocument({ document: 'ConfigureLoadBalancer', instanceId: balancers[0].instanceId, times: 1 });

    // Act
    await plane.reconcile();
    const tags = balancers.map((balancer) => balancer.tags['kubeha:upstreams']);
    fleet.advance(60);
    settleInvocations(fleet);
    await plane.reconcile();

    // Assess
    expect(tags[0]).toContain('10.0.99.99');
    expect(tags[1]?.split(' ').sort()).toEqual([...masterIps].sort());
    expect(balancers[0].tags['kubeha:upstreams']?.split(' ').sort()).toEqual([...masterIps].sort());
    expect(balancers[0].node.nginx?.upstreams).toEqual(masterIps);
  });

  describe('when nginx hangs on the load balancer holding the Elastic IP', () => {
    it('moves the Elastic IP to the standby once, through heal-load-balancer, however often reconcile runs', async () => {
      // Prepare: EC2 and keepalived's state see nothing wrong; only the API through it is gone.
      const { fleet, plane } = await bootstrappedCluster();
      const address = fleet.addresses.get(fleet.elasticIpAllocationId)!;
      const holder = fleet.instances.get(address.instanceId!)!;
      const standby = fleet.byRole('lb').find((balancer) => balancer !== holder)!;
      fleet.hangNginx(holder.instanceId);
      const apiBefore = fleet.apiAnswers();
      const callsBefore = fleet.calls.length;

      // Act: reconcile runs, runs again while the heal runs, and again after it.
      await plane.reconcile();
      await plane.reconcile();
      const heals = await plane.settle();
      await plane.reconcile();
      fleet.advance(60);
      await plane.reconcile();
      await plane.settle();

      // Assess
      expect(apiBefore).toBe(false);
      expect(address.instanceId).toBe(standby.instanceId);
      expect(fleet.apiAnswers()).toBe(true);
      const moves = fleet.calls.slice(callsBefore).filter((call) => call.operation === 'AssociateAddress');
      expect(moves).toHaveLength(1);
      expect(heals.map((run) => run.error)).toEqual([undefined]);
      expect(plane.executionsOf('heal-load-balancer').map((execution) => execution.name)).toEqual([`${holder.instanceId}-running-1-1`]);
      // In-cluster traffic never noticed: every worker's proxy reaches the masters directly.
      for (const worker of fleet.byRole('worker')) expect(fleet.apiAnswersInCluster(worker.instanceId)).toBe(true);
    });

    it('leaves the Elastic IP where it is when the API answers through neither load balancer', async () => {
      // Prepare: nginx hangs on both: a move would not help.
      const { fleet, plane } = await bootstrappedCluster();
      const holderId = fleet.addresses.get(fleet.elasticIpAllocationId)!.instanceId;
      for (const balancer of fleet.byRole('lb')) fleet.hangNginx(balancer.instanceId);

      // Act
      const report = (await plane.reconcile()) as { clusters: { actions: { kind: string }[] }[] };

      // Assess
      expect(report.clusters[0]!.actions.filter((action) => action.kind === 'start-healing')).toEqual([]);
      expect(fleet.addresses.get(fleet.elasticIpAllocationId)!.instanceId).toBe(holderId);
      expect(plane.executionsOf('heal-load-balancer')).toEqual([]);
    });
  });

  it('clears a lock left behind by an execution that is no longer running', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    fleet.items.set('cluster#demo|lock', { pk: 'cluster#demo', sk: 'lock', v: 3, body: JSON.stringify({ executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:kubeha-local-heal-master:gone', purpose: 'heal', acquiredAt: '' }) });

    await plane.reconcile();

    expect(fleet.items.has('cluster#demo|lock')).toBe(false);
  });

  describe('when a node stops between the online check and the command (SSM holds it as Delayed)', () => {
    it('gives up on the cluster status at its next poll, cancels it on that master, and does not wait for its deadline', async () => {
      // Prepare
      const { fleet, plane } = await bootstrappedCluster();
      const masters = new Set(fleet.byRole('master').map((master) => master.instanceId));
      const race = stopAfterOnlineCheck(fleet, (online) => online.find((id) => masters.has(id)));
      const startedAt = fleet.now();

      // Act
      let report: { clusters: { deepChecks: boolean }[] };
      try {
        report = (await plane.reconcile()) as typeof report;
      } finally {
        race.restore();
      }

      // Assess: the status command was Delayed on the stopping master, then cancelled there within a poll or two.
      const asker = race.stopped()!;
      expect(asker).toBeDefined();
      const status = fleet.invocations.find((invocation) => invocation.document === 'ClusterStatus' && invocation.instanceId === asker && invocation.startedAt >= startedAt)!;
      expect(status.status).toBe('Cancelled');
      expect(report.clusters[0]!.deepChecks).toBe(false);
      // The loop's own deadline is 40 s (functions/reconcile.ts): the run ended long before it.
      expect(fleet.now() - startedAt).toBeLessThan(15_000);
      expect(fleet.calls.filter((call) => call.at >= startedAt && call.operation === 'CancelCommand')).toHaveLength(1);
    });

    it("reads the other load balancer's probe without waiting for the stopped one's deadline, and cancels the probe there", async () => {
      // Prepare: the load balancer without the Elastic IP stops right after it answered as online.
      const { fleet, plane } = await bootstrappedCluster();
      const holderId = fleet.addresses.get(fleet.elasticIpAllocationId)!.instanceId!;
      const backup = fleet.byRole('lb').find((balancer) => balancer.instanceId !== holderId)!;
      const race = stopAfterOnlineCheck(fleet, (online) => (online.includes(backup.instanceId) && online.includes(holderId) ? backup.instanceId : undefined));
      const startedAt = fleet.now();

      // Act
      let report: { clusters: { actions: { kind: string }[]; deepChecks: boolean }[] };
      try {
        report = (await plane.reconcile()) as typeof report;
      } finally {
        race.restore();
      }

      // Assess
      expect(race.stopped()).toBe(backup.instanceId);
      const probes = fleet.invocations.filter((invocation) => invocation.document === 'ProbeLoadBalancer' && invocation.startedAt >= startedAt);
      expect(Object.fromEntries(probes.map((probe) => [probe.instanceId, probe.status]))).toEqual({ [holderId]: 'Success', [backup.instanceId]: 'Cancelled' });
      expect(report.clusters[0]!.deepChecks).toBe(true);
      expect(report.clusters[0]!.actions.filter((action) => action.kind === 'start-healing')).toEqual([]);
      expect(fleet.now() - startedAt).toBeLessThan(15_000);
    });
  });
});
