// The per-cluster lock against the simulated state table: whatever the interleaving, one holder.
import { afterEach, describe, expect, it } from 'vitest';
import { ports } from '../../functions/adapters/index.js';
import { acquireLock, readLock, releaseLock } from '../../functions/core/cluster-lock.js';
import { createLogger } from '../../functions/core/log.js';
import { installFleet } from '../../sim/aws.js';
import { SimulatedFleet } from '../../sim/fleet.js';

const log = createLogger({ handler: 'test' });
const arn = (name: string) => `arn:aws:states:eu-west-1:123456789012:execution:kubeha-local-heal-master:${name}`;
let uninstall: (() => void) | undefined;
afterEach(() => {
  uninstall?.();
  uninstall = undefined;
});

function prepare(): SimulatedFleet {
  const fleet = SimulatedFleet.standard();
  uninstall = installFleet(fleet);
  return fleet;
}

function running(fleet: SimulatedFleet, name: string): void {
  fleet.executions.set(arn(name), { executionArn: arn(name), stateMachine: 'kubeha-local-heal-master', name, input: {}, status: 'RUNNING', startedAt: fleet.now() });
}

describe('the cluster lock', () => {
  it('lets exactly one of many executions racing for a free lock hold it', async () => {
    const fleet = prepare();
    const names = ['a', 'b', 'c', 'd', 'e'];
    for (const name of names) running(fleet, name);

    const outcomes = await Promise.all(names.map((name) => acquireLock({ clusterName: 'demo', executionArn: arn(name), purpose: 'heal' }, ports, log)));

    expect(outcomes.filter((outcome) => outcome.acquired)).toHaveLength(1);
    const winner = names[outcomes.findIndex((outcome) => outcome.acquired)]!;
    expect((await readLock('demo', ports))?.value.executionArn).toBe(arn(winner));
  });

  it('lets exactly one of two waiters take over a lock whose holder has stopped', async () => {
    const fleet = prepare();
    for (const name of ['dead', 'first', 'second']) running(fleet, name);
    await acquireLock({ clusterName: 'demo', executionArn: arn('dead'), purpose: 'heal' }, ports, log);
    fleet.executions.get(arn('dead'))!.status = 'FAILED';

    const outcomes = await Promise.all(['first', 'second'].map((name) => acquireLock({ clusterName: 'demo', executionArn: arn(name), purpose: 'heal' }, ports, log)));

    expect(outcomes.map((outcome) => outcome.acquired).sort()).toEqual([false, true]);
  });

  it('is released only by its holder, and a stale release after a takeover removes nothing', async () => {
    const fleet = prepare();
    for (const name of ['old', 'new']) running(fleet, name);
    await acquireLock({ clusterName: 'demo', executionArn: arn('old'), purpose: 'heal' }, ports, log);
    fleet.executions.get(arn('old'))!.status = 'TIMED_OUT';
    await acquireLock({ clusterName: 'demo', executionArn: arn('new'), purpose: 'heal' }, ports, log);

    const stale = await releaseLock({ clusterName: 'demo', executionArn: arn('old') }, ports);

    expect(stale).toEqual({ released: false });
    expect((await readLock('demo', ports))?.value.executionArn).toBe(arn('new'));
    expect(await releaseLock({ clusterName: 'demo', executionArn: arn('new') }, ports)).toEqual({ released: true });
    expect(await readLock('demo', ports)).toBeUndefined();
  });
});
