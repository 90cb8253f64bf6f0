// Runs the real bootstrap-cluster state machine against a simulated fleet: what the end-to-end
// tests and the demo share.
import { installFleet } from './aws.js';
import type { SimulatedFleet } from './fleet.js';
import { ModelledTime } from './modelled-time.js';
import { type LocalRun, type RunOptions, runStateMachine } from './state-machine.js';

/** The console input for the fleet's cluster; tests override single fields. */
export function consoleInput(fleet: SimulatedFleet, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    clusterName: 'demo',
    kubernetesVersion: '1.36.4',
    elasticIpAllocationId: fleet.elasticIpAllocationId,
    podCidr: '192.168.0.0/16',
    serviceCidr: '10.96.0.0/12',
    ...overrides,
  };
}

export async function bootstrapOnFleet(fleet: SimulatedFleet, input: unknown, { overlapCalls = false, ...options }: RunOptions & { overlapCalls?: boolean } = {}): Promise<LocalRun> {
  const uninstall = installFleet(fleet);
  try {
    // Waits of parallel branches overlap in modelled time, as they do in Step Functions; with
    // overlapCalls, so do the API calls of parallel branches (LocalControlPlane.overlapCalls says why it is optional).
    const time = new ModelledTime(fleet);
    if (overlapCalls) fleet.callLatency = (seconds) => time.sleep(seconds);
    return await runStateMachine('bootstrap-cluster', input, { startTime: fleet.now(), onWait: (seconds) => time.sleep(seconds), ...options });
  } finally {
    fleet.callLatency = undefined;
    uninstall();
  }
}
