import { describe, expect, it } from 'vitest';
import type { DrillReport } from '../../functions/core/drill.js';
import { bootstrappedCluster } from '../support/cluster.js';

describe('drill-cluster', () => {
  it('stops the load balancer holding the Elastic IP: the API through it is out only while the address moves; in the cluster and for the app, not at all', async () => {
    // Prepare
    const { fleet, plane } = await bootstrappedCluster();
    plane.enableEventBridge();
    const holder = fleet.addresses.get(fleet.elasticIpAllocationId)!.instanceId;

    // Act
    const run = await plane.execute('drill-cluster', 'drill-lb-stop', { clusterName: 'demo', target: 'lb', action: 'stop' });

    // Assess
    const report = run.output as DrillReport;
    expect(run.error).toBeUndefined();
    expect(report.target).toBe(`lb ${holder}`);
    expect(report.healed).toBe(true);
    expect(report.api.longestOutageSeconds).toBeGreaterThanOrEqual(5);
    expect(report.api.longestOutageSeconds).toBeLessThanOrEqual(10);
    expect(report.app).toEqual({ successRatio: 1, longestOutageSeconds: 0 });
    // The kubelet and kube-proxy reach the masters through their node's proxy: no failover to wait for.
    expect(report.inCluster).toEqual({ successRatio: 1, longestOutageSeconds: 0 });
    expect(report.samples).toBeGreaterThanOrEqual(report.timeToHealSeconds);
    expect(report.workflows).toEqual([expect.objectContaining({ name: expect.stringMatching(new RegExp(`^${holder}-stopped-`)), status: 'SUCCEEDED' })]);
    expect(fleet.instances.get(holder!)?.state).toBe('running');
  });

  it('terminates a master: the API stays up throughout and the replacement joins', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    plane.enableEventBridge();

    const run = await plane.execute('drill-cluster', 'drill-master-terminate', { clusterName: 'demo', target: 'master', action: 'terminate' });

    const report = run.output as DrillReport;
    expect(run.error).toBeUndefined();
    expect(report).toMatchObject({ action: 'terminate', healed: true, api: { successRatio: 1, longestOutageSeconds: 0 }, inCluster: { successRatio: 1, longestOutageSeconds: 0 } });
    expect(report.timeToHealSeconds).toBeGreaterThan(60);
    expect(fleet.clusters.get('demo')!.etcdMembers.every((member) => member.healthy)).toBe(true);
    expect([...fleet.probes.values()][0]!.active).toBe(false);
  });

  it('terminates a worker the probe does not run on, and reports its replacement', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    plane.enableEventBridge();

    const run = await plane.execute('drill-cluster', 'drill-worker-terminate', { clusterName: 'demo', target: 'worker', action: 'terminate' });

    const report = run.output as DrillReport;
    const probeWorker = [...fleet.probes.values()][0]!.instanceId;
    expect(run.error).toBeUndefined();
    expect(report.target).not.toContain(probeWorker);
    expect(report.app.successRatio).toBe(1);
    expect(fleet.clusters.get('demo')!.nodes.filter((node) => node.role === 'worker' && node.ready)).toHaveLength(3);
  });

  it('refuses a master drill while another master is unhealthy, touching nothing', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    plane.enableEventBridge();
    fleet.wedgeNode(fleet.byRole('master')[0]!.instanceId);
    const before = fleet.calls.length;

    const run = await plane.execute('drill-cluster', 'drill-refused', { clusterName: 'demo', target: 'master', action: 'terminate' });

    expect(run.error?.name).toBe('DrillRefusedError');
    expect(run.error?.message).toMatch(/unhealthy: a master drill now could break quorum/);
    const changes = fleet.calls.slice(before).filter((call) => ['StopInstances', 'TerminateInstances', 'RunInstances'].includes(call.operation));
    expect(changes).toEqual([]);
  });

  it('refuses an unknown target instance with a clear reason', async () => {
    const { plane } = await bootstrappedCluster();
    const run = await plane.execute('drill-cluster', 'drill-unknown', { clusterName: 'demo', target: 'worker', instanceId: 'i-0000000000000beef', action: 'stop' });
    expect(run.error).toMatchObject({ name: 'DrillRefusedError', message: 'i-0000000000000beef is not a running, joined worker of demo' });
  });
});
