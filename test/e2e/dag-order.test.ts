// The state machines against the DAG of sim/dag.ts: in recorded runs, no work starts before what it
// depends on has ended, and each run stays near the critical path the same DAG gives.
import { describe, expect, it } from 'vitest';
import { HEAL_SCENARIOS, STANDBY_SCENARIOS, bootstrapRun, healRun } from '../../bench/scenarios.js';
import { checkOrder, criticalPath } from '../../sim/dag.js';

describe('bootstrap-cluster against its DAG', () => {
  it('starts no document before everything it depends on has ended, for 3 masters, 2 load balancers and 60 workers', async () => {
    // Act
    const { dag, fleet } = await bootstrapRun({ masters: 3, loadBalancers: 2, workers: 60 });

    // Assess: every node of the DAG ran (criticalPath refuses a missing one) and no edge was broken.
    expect(checkOrder(dag)).toEqual([]);
    expect(criticalPath(dag).path[0]).toMatch(/^prerequisites i-/);
    expect(dag.nodes.filter((node) => node.id.startsWith('join i-'))).toHaveLength(62);
    expect(fleet.clusters.get('demo')!.nodes.filter((node) => node.ready)).toHaveLength(63);
  });

  it('overlaps what the DAG allows: the CNI and the worker joins run while the masters join', async () => {
    const { dag } = await bootstrapRun({ masters: 3, loadBalancers: 2, workers: 3 });
    const span = (id: string) => dag.nodes.find((node) => node.id === id)!.span!;
    const masterJoins = dag.nodes.filter((node) => /^join /.test(node.id) && Object.keys(node.after).some((key) => key.startsWith('certificate upload')));
    const workerJoins = dag.nodes.filter((node) => /^join /.test(node.id) && "workers' token" in node.after);
    const lastMasterJoin = Math.max(...masterJoins.map((node) => node.span!.end));

    expect(span('cni').end).toBeLessThan(lastMasterJoin);
    for (const worker of workerJoins) expect(worker.span!.end).toBeLessThan(lastMasterJoin);
    // Masters strictly one at a time.
    const [first, second] = masterJoins.map((node) => node.span!).sort((a, b) => a.start - b.start);
    expect(second!.start).toBeGreaterThanOrEqual(first!.end);
  });
});

describe.each(HEAL_SCENARIOS)('healing (%s) against its DAG', (scenario) => {
  it('starts no step before everything it depends on has ended', async () => {
    const { dag } = await healRun(scenario);
    expect(checkOrder(dag)).toEqual([]);
    expect(criticalPath(dag).path[0]).toBe('event delivered');
  });
});

describe.each(STANDBY_SCENARIOS)('healing (%s) against its DAG', (scenario) => {
  it('starts no step before everything it depends on has ended, and runs the first command the moment the standby is up', async () => {
    // Prepare / Act
    const { dag } = await healRun(scenario);
    // Assess: the command was sent while the standby booted and SSM delivered it when its agent reconnected.
    expect(checkOrder(dag)).toEqual([]);
    const span = (id: string) => dag.nodes.find((node) => node.id === id)?.span;
    const boot = span('boot')!;
    const first = scenario.startsWith('terminate master') ? span('join')! : span('mounts')!;
    expect(first.start - boot.end).toBeGreaterThanOrEqual(0);
    expect(first.start - boot.end).toBeLessThan(100);
  });
});
