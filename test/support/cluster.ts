// A bootstrapped cluster on a fresh simulated fleet with the local control plane running, and the
// no-leak check the end-to-end suites share.
import { afterEach, expect } from 'vitest';
import { swapPorts } from '../../functions/adapters/index.js';
import { ssm as ssmAdapter } from '../../functions/adapters/ssm.js';
import { consoleInput } from '../../sim/bootstrap.js';
import { LocalControlPlane } from '../../sim/control-plane.js';
import { SimulatedFleet } from '../../sim/fleet.js';
import type { LocalRun } from '../../sim/state-machine.js';
import { capturedLogs } from '../setup.js';

let running: LocalControlPlane | undefined;

afterEach(() => {
  running?.stop();
  running = undefined;
});

export async function bootstrappedCluster(options: { workers?: number; input?: Record<string, unknown> } = {}): Promise<{ fleet: SimulatedFleet; plane: LocalControlPlane }> {
  const fleet = SimulatedFleet.standard({ workers: options.workers ?? 3 });
  running = new LocalControlPlane(fleet).start();
  const run = await running.execute('bootstrap-cluster', 'bootstrap-demo', consoleInput(fleet, options.input));
  if (run.error) throw new Error(`bootstrap failed: ${run.error.message}`);
  return { fleet, plane: running };
}

/** Everything kubeha recorded or handed around, except the PutSecretValue calls that must carry the secrets. */
export function everythingRecorded(fleet: SimulatedFleet, runs: readonly LocalRun[]): string {
  return JSON.stringify([
    fleet.calls.filter((call) => !(call.service === 'secretsmanager' && call.operation === 'PutSecretValue')),
    fleet.invocations.map((invocation) => [invocation.parameters, invocation.stdout, invocation.stderr]),
    [...fleet.parameters.values()],
    fleet.notifications,
    runs.map((run) => [run.events, run.tasks, run.output, run.error]),
    capturedLogs,
  ]);
}

export function expectNoSecretLeaked(fleet: SimulatedFleet, runs: readonly LocalRun[]): void {
  const secrets = fleet.secretValues();
  expect(secrets.length).toBeGreaterThan(0);
  const recorded = everythingRecorded(fleet, runs);
  for (const secret of secrets) expect(recorded.includes(secret), `secret ${secret.slice(0, 4)}… leaked`).toBe(false);
}

/**
 * DescribeInstanceInformation answers as usual, and then the node `pick` chooses among those it called online
 * (once) begins to stop: the race between reconcile's online check and its SendCommand, after which
 * SSM holds the command as Delayed for that node (sim/ssm.ts).
 */
export function stopAfterOnlineCheck(fleet: SimulatedFleet, pick: (online: string[], asked: readonly string[]) => string | undefined): { stopped: () => string | undefined; restore: () => void } {
  let stopped: string | undefined;
  const restore = swapPorts({
    ssm: {
      ...ssmAdapter,
      async onlineInstanceIds(instanceIds) {
        const online = await ssmAdapter.onlineInstanceIds(instanceIds);
        const victim = stopped === undefined ? pick([...online], [...instanceIds]) : undefined;
        if (victim) {
          stopped = victim;
          fleet.requestStop(victim);
        }
        return online;
      },
    },
  });
  return { stopped: () => stopped, restore };
}
