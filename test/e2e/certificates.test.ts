import { describe, expect, it } from 'vitest';
import { bootstrappedCluster } from '../support/cluster.js';

const DAY_SECONDS = 86_400;

type Report = { clusters: { actions: { kind: string; finding?: string; subject?: string }[] }[] };

describe('certificate expiry (simulator)', () => {
  it("tells a human once when the masters' certificates come within 30 days, not on every run", async () => {
    // Prepare: a year of no upgrades; the masters' certificates were signed at their init and joins.
    const { fleet, plane } = await bootstrappedCluster();
    await plane.reconcile();
    fleet.advance(340 * DAY_SECONDS);

    // Act
    const first = (await plane.reconcile()) as Report;
    fleet.advance(5 * 60);
    const second = (await plane.reconcile()) as Report;

    // Assess
    const alerts = fleet.notifications.filter((notification) => notification.subject.includes('certificates'));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.subject).toBe('kubeha demo: certificates of 3 masters expire within 30 days');
    for (const master of fleet.byRole('master')) expect(alerts[0]!.message).toContain(master.instanceId);
    const findings = (report: Report) => report.clusters[0]!.actions.filter((action) => action.kind === 'report' && action.finding!.includes('certificates'));
    expect(findings(first)).toHaveLength(3);
    expect(findings(second)).toHaveLength(3);
  });

  it('reports nothing while the certificates are more than 30 days from expiry', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    fleet.advance(300 * DAY_SECONDS);

    const report = (await plane.reconcile()) as Report;

    expect(report.clusters[0]!.actions.filter((action) => (action.finding ?? action.subject ?? '').includes('certificates'))).toEqual([]);
    expect(fleet.notifications).toEqual([]);
  });

  it("models what expiry does: past a year every master's etcd member is down and the API does not answer", async () => {
    const { fleet, plane } = await bootstrappedCluster();

    fleet.advance(366 * DAY_SECONDS);
    await plane.reconcile();

    expect(fleet.clusters.get('demo')!.etcdMembers.every((member) => !member.healthy)).toBe(true);
    expect(fleet.apiAnswers()).toBe(false);
  });
});
