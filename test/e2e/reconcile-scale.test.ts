// Reconcile at scale: many sick nodes at once, inside one Lambda's 120 s.
import { describe, expect, it } from 'vitest';
import { inInvocation } from '../../sim/handler-time.js';
import { bootstrappedCluster } from '../support/cluster.js';

const RECONCILE_TIMEOUT_MS = 120_000;

async function timedReconcile(plane: Awaited<ReturnType<typeof bootstrappedCluster>>['plane']) {
  const run = inInvocation(() => plane.reconcile());
  return { report: (await run.result) as { clusters: { actions: { kind: string }[] }[] }, elapsedMs: run.elapsedMs() };
}

describe('reconcile at scale', () => {
  it('holds back healing when 1,000 workers are NotReady at once, tells a human once, and stays within its timeout', async () => {
    // Prepare
    const { fleet, plane } = await bootstrappedCluster();
    const workers = fleet.addJoinedWorkers('demo', 1000);
    for (const instanceId of workers) fleet.wedgeNode(instanceId);

    // Act: first sight, then past the grace period, then once more.
    const first = await timedReconcile(plane);
    fleet.advance(11 * 60);
    const second = await timedReconcile(plane);
    fleet.advance(6 * 60);
    const third = await timedReconcile(plane);
    await plane.settle();

    // Assess
    for (const run of [first, second, third]) expect(run.elapsedMs).toBeLessThan(RECONCILE_TIMEOUT_MS);
    expect(plane.executionsOf('heal-worker')).toEqual([]);
    const heldBack = fleet.notifications.filter((notification) => notification.subject.includes('healing held back'));
    expect(heldBack).toHaveLength(1);
    expect(heldBack[0]!.subject).toContain('1000 of 1003 workers');
    const remembered = JSON.parse(fleet.items.get('cluster#demo|reconcile')!.body) as { unhealthySince: Record<string, number> };
    expect(Object.keys(remembered.unhealthySince)).toHaveLength(1000);
  });

  it('heals a minority of sick workers at most 20 per run, the rest on the next runs', async () => {
    const { fleet, plane } = await bootstrappedCluster();
    const workers = fleet.addJoinedWorkers('demo', 97);
    const sick = workers.slice(0, 30);
    for (const instanceId of sick) fleet.wedgeNode(instanceId);

    await plane.reconcile();
    fleet.advance(11 * 60);
    const { report, elapsedMs } = await timedReconcile(plane);

    expect(elapsedMs).toBeLessThan(RECONCILE_TIMEOUT_MS);
    expect(report.clusters[0]!.actions.filter((action) => action.kind === 'start-healing')).toHaveLength(20);
    const healed = [...fleet.executions.values()].filter((execution) => execution.stateMachine.endsWith('heal-worker')).map((execution) => (execution.input as { instanceId: string }).instanceId);
    expect(healed).toHaveLength(20);
    expect(healed.every((instanceId) => sick.includes(instanceId))).toBe(true);
    expect(fleet.notifications.filter((notification) => notification.subject.includes('held back'))).toEqual([]);
  });
});
