import { describe, expect, it } from 'vitest';
import { bootstrappedCluster } from '../support/cluster.js';

const DAY_SECONDS = 86_400;

type Report = { clusters: { actions: { kind: string; finding?: string; subject?: string }[] }[] };

describe('certificate expiry (simulator)', () => {
  it("tells a human once when the masters' certificates come within 30 days and renewal is off, not on every run", async () => {
    // Prepare: a year of no upgrades; the masters' certificates were signed at their init and joins.
    const { fleet, plane } = await bootstrappedCluster({ input: { healing: { renewCertificates: false } } });
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

describe('renew-certificates (simulator)', () => {
  /** Each RenewCertificates run, with what was healthy when it was sent. */
  function watchRenewals(fleet: Awaited<ReturnType<typeof bootstrappedCluster>>['fleet']) {
    const sent: { instanceId: string; healthyMembers: number; liveApiServers: number }[] = [];
    fleet.commandSentHooks.push((document, instanceIds) => {
      if (!document.includes('RenewCertificates')) return;
      const cluster = fleet.clusters.get('demo')!;
      const healthyMembers = cluster.etcdMembers.filter((member) => member.healthy).length;
      const liveApiServers = fleet.byRole('master').filter((master) => fleet.apiAnswersInCluster(master.instanceId)).length;
      for (const instanceId of instanceIds) sent.push({ instanceId, healthyMembers, liveApiServers });
    });
    return sent;
  }
  const lockHeld = (fleet: Awaited<ReturnType<typeof bootstrappedCluster>>['fleet']) => fleet.items.has('cluster#demo|lock');

  it('restarts a master whose certificates a dead run renewed but whose static pods never restarted, and only that master', async () => {
    // Prepare: 100 days in, the second master's files were renewed by a run that died before the restart.
    const { fleet, plane } = await bootstrappedCluster();
    const sent = watchRenewals(fleet);
    fleet.advance(100 * DAY_SECONDS);
    const stale = fleet.byRole('master')[1]!;
    stale.node.certificatesExpireAt = fleet.now() + 365 * DAY_SECONDS * 1000;
    stale.node.certificatesRestartPending = true;

    // Act
    await plane.reconcile();
    const runs = await plane.settle();

    // Assess
    expect(runs).toHaveLength(1);
    expect(runs[0]!.error).toBeUndefined();
    expect(sent.map((renewal) => renewal.instanceId)).toEqual([stale.instanceId]);
    expect(stale.node.certificatesRestartPending).toBeUndefined();
  });

  it('renews every master one at a time when reconcile finds certificates within 30 days, never with fewer than 2 healthy members or API servers', async () => {
    // Prepare
    const { fleet, plane } = await bootstrappedCluster();
    const sent = watchRenewals(fleet);
    fleet.advance(340 * DAY_SECONDS);

    // Act
    await plane.reconcile();
    await plane.reconcile(); // a second run while the renewal runs starts nothing more
    const runs = await plane.settle();

    // Assess
    expect(runs).toHaveLength(1);
    expect(runs[0]!.error).toBeUndefined();
    expect(plane.executionsOf('renew-certificates')).toHaveLength(1);
    expect(plane.executionsOf('renew-certificates')[0]!.name).toMatch(/^demo-certs-\d{8}T\d{6}Z-\d{8}$/);
    const masters = fleet.byRole('master');
    expect(sent.map((entry) => entry.instanceId).sort()).toEqual(masters.map((master) => master.instanceId).sort());
    // Each restart began with all three healthy, and at any moment at most one master's static pods were down
    // (the simulator takes a master's member and API server down from its RenewCertificates' start to its end).
    expect(sent.every((entry) => entry.healthyMembers === 3 && entry.liveApiServers === 3)).toBe(true);
    let down = 0;
    let mostDown = 0;
    for (const event of fleet.history.filter((entry) => entry.what.startsWith('static pods of ')).sort((a, b) => a.at - b.at)) {
      down += event.what.includes(' down: ') ? 1 : -1;
      mostDown = Math.max(mostDown, down);
    }
    expect(mostDown).toBe(1);
    expect(down).toBe(0);
    for (const master of masters) expect(master.node.certificatesExpireAt!).toBeGreaterThanOrEqual(fleet.now() + 360 * DAY_SECONDS * 1000);
    expect(lockHeld(fleet)).toBe(false);
    expect(fleet.clusters.get('demo')!.etcdMembers.every((member) => member.healthy)).toBe(true);
    expect(fleet.notifications).toEqual([]);
  });

  it('is idempotent: run again by hand, it skips every master, whose expiry says it is renewed', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    fleet.advance(340 * DAY_SECONDS);
    await plane.reconcile();
    await plane.settle();
    const renewals = fleet.invocations.filter((invocation) => invocation.document === 'RenewCertificates').length;

    const again = await plane.execute('renew-certificates', 'by-hand', { clusterName: 'demo' });
    fleet.advance(5 * 60);
    await plane.reconcile();

    expect(again.error).toBeUndefined();
    expect((again.output as { renewal: { masters: { renewed: boolean }[] } }).renewal.masters.map((master) => master.renewed)).toEqual([false, false, false]);
    expect(fleet.invocations.filter((invocation) => invocation.document === 'RenewCertificates')).toHaveLength(renewals);
    expect(plane.executionsOf('renew-certificates')).toHaveLength(2);
  });

  it('stops at a master that does not come back, tells a human, releases the lock and leaves the next master alone', async () => {
    // Prepare: the second master's static pods do not come back after the renewal.
    const { fleet, plane } = await bootstrappedCluster();
    fleet.advance(340 * DAY_SECONDS);
    const [, second, third] = fleet.byRole('master') as [unknown, { instanceId: string }, { instanceId: string; node: { certificatesExpireAt?: number } }];
    fleet.failDocument({ document: 'RenewCertificates', instanceId: second.instanceId, stderr: 'kubeha: error: the API server and etcd member did not come back healthy within 120 s' });
    const thirdExpiry = third.node.certificatesExpireAt;

    // Act
    await plane.reconcile();
    const [run] = await plane.settle();
    fleet.advance(5 * 60);
    await plane.reconcile();

    // Assess
    expect(run!.error?.name).toBe('CommandFailedError');
    expect(fleet.notifications).toHaveLength(1);
    expect(fleet.notifications[0]!.message).toContain(second.instanceId);
    expect(lockHeld(fleet)).toBe(false);
    expect(third.node.certificatesExpireAt).toBe(thirdExpiry);
    // The second master's static pods never came back; the third was never touched.
    const members = fleet.clusters.get('demo')!.etcdMembers;
    expect(members.filter((member) => member.healthy).map((member) => member.instanceId)).not.toContain(second.instanceId);
    expect(members.filter((member) => member.healthy)).toHaveLength(2);
    // The next runs do not start it again under the same name, nor tell a human again.
    expect(plane.executionsOf('renew-certificates')).toHaveLength(1);
  });

  it('refuses a window a renewed certificate would not leave, naming the field, before taking the lock', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const before = fleet.calls.length;

    const run = await plane.execute('renew-certificates', 'bad-window', { clusterName: 'demo', renewWithinDays: 400 });

    expect(run.error?.name).toBe('InputValidationError');
    expect(run.error?.message).toContain('renewWithinDays');
    expect(fleet.calls.slice(before).filter((call) => ['PutItem', 'UpdateItem', 'SendCommand'].includes(call.operation))).toEqual([]);
  });
});
