// The runs the time and scaling tables measure: a bootstrap of a given size, and each healing scenario
// on a bootstrapped 3/2/3 cluster, through the local control plane (real ASL and handlers, EventBridge
// played with its delivery delays, concurrent executions in modelled time).
import { setLogSink } from '../functions/core/log.js';
import { consoleInput } from '../sim/bootstrap.js';
import { LocalControlPlane } from '../sim/control-plane.js';
import { STANDBY_FOR_TAG, STANDBY_STATE_TAG } from '../functions/core/standbys.js';
import { type Dag, type HealScenario, WARM_STANDBY_SUFFIX, bootstrapDag, healDag } from '../sim/dag.js';
import { type SimExecution, type SimInstance, SimulatedFleet } from '../sim/fleet.js';
import type { LocalRun } from '../sim/state-machine.js';

setLogSink(() => undefined);

export interface Size {
  readonly masters: number;
  readonly loadBalancers: number;
  readonly workers: number;
}

export const label = (size: Size) => `${size.masters}/${size.loadBalancers}/${size.workers}`;

export interface BootstrapRun {
  readonly fleet: SimulatedFleet;
  readonly run: LocalRun;
  readonly execution: SimExecution;
  readonly seconds: number;
  readonly dag: Dag;
}

export async function bootstrapRun(size: Size, seed = 7): Promise<BootstrapRun> {
  const fleet = SimulatedFleet.standard({ ...size, vpcCidrPrefix: '10.0', seed });
  const plane = new LocalControlPlane(fleet).start().overlapCalls();
  try {
    const run = await plane.execute('bootstrap-cluster', 'bench-bootstrap', consoleInput(fleet));
    if (run.error) throw new Error(`bootstrap ${label(size)} failed: ${run.error.name}: ${run.error.message}`);
    const execution = plane.executionsOf('bootstrap-cluster')[0]!;
    return { fleet, run, execution, seconds: (execution.stoppedAt! - execution.startedAt) / 1000, dag: bootstrapDag(fleet, execution.startedAt) };
  } finally {
    plane.stop();
  }
}

export const HEAL_SCENARIOS: readonly HealScenario[] = ['terminate master', 'stop master', 'terminate worker', 'stop worker', 'terminate lb', 'stop lb'];
/** The replacements with a warm standby of the role kept ready by reconcile (functions/core/standbys.ts). */
export const STANDBY_SCENARIOS: readonly HealScenario[] = ['terminate master, warm standby', 'terminate worker, warm standby'];

export interface HealRun {
  readonly fleet: SimulatedFleet;
  readonly scenario: HealScenario;
  /** From the failure to the end of the last healing execution it set off. */
  readonly seconds: number;
  readonly heals: SimExecution[];
  readonly runs: LocalRun[];
  readonly dag: Dag;
  /** AWS calls the healing made. */
  readonly calls: number;
}

export async function healRun(scenario: HealScenario, seed = 7, options: { preparedImage?: boolean } = {}): Promise<HealRun> {
  const fleet = SimulatedFleet.standard({ seed });
  const plane = new LocalControlPlane(fleet).start().overlapCalls();
  try {
    const fromStandby = scenario.endsWith(WARM_STANDBY_SUFFIX);
    const [action, role] = scenario.replace(WARM_STANDBY_SUFFIX, '').split(' ') as ['terminate' | 'stop', 'master' | 'worker' | 'lb'];
    const standbys = fromStandby ? { standbys: { master: 0, worker: 0, [role]: 1 } } : {};
    const bootstrap = await plane.execute('bootstrap-cluster', 'bench-bootstrap', consoleInput(fleet, fromStandby ? { healing: standbys } : {}));
    if (bootstrap.error) throw new Error(`bootstrap failed: ${bootstrap.error.message}`);
    if (options.preparedImage) {
      // `kubeha image build`: replacements then launch from the image and skip what it holds.
      const build = await plane.execute('build-node-image', 'bench-image', { clusterName: 'demo' });
      if (build.error) throw new Error(`image build failed: ${build.error.message}`);
    }
    const standby = fromStandby ? await readyStandby(fleet, plane) : undefined;
    plane.enableEventBridge();
    // The primary load balancer (it holds the Elastic IP), a master that is not the first, a worker; with a
    // standby, the member of the standby's zone (a master standby serves its own zone, standbys.ts).
    const targets = fleet.byRole(role);
    const target = standby ? targets.find((member) => member.availabilityZone === standby.availabilityZone)! : role === 'lb' ? targets[0]! : targets[1] ?? targets[0]!;
    const origin = fleet.now();
    const callsBefore = fleet.calls.length;
    if (action === 'terminate') fleet.terminateInstance(target.instanceId);
    else fleet.stopInstance(target.instanceId);
    await plane.settle();
    const heals = [...fleet.executions.values()].filter((execution) => execution.startedAt >= origin && execution.stateMachine.includes('heal-'));
    if (heals.length === 0) throw new Error(`${scenario}: no healing started`);
    const failed = heals.find((execution) => execution.status !== 'SUCCEEDED');
    if (failed) throw new Error(`${scenario}: ${failed.name} ${failed.status}: ${JSON.stringify(failed.error)}`);
    const end = Math.max(...heals.map((execution) => execution.stoppedAt!));
    const runs = heals.map((execution) => plane.runs.get(execution.executionArn)!);
    const firstStart = Math.min(...heals.map((execution) => execution.startedAt));
    return { fleet, scenario, seconds: (end - origin) / 1000, heals, runs, dag: healDag(fleet, scenario, origin, firstStart), calls: fleet.calls.length - callsBefore };
  } finally {
    plane.stop();
  }
}

/** Reconciles once a modelled minute until the cluster's one standby is prepared and stopped (as the schedule would). */
async function readyStandby(fleet: SimulatedFleet, plane: LocalControlPlane): Promise<SimInstance> {
  for (let run = 0; run < 15; run += 1) {
    await plane.reconcile();
    fleet.advance(60);
    const ready = [...fleet.instances.values()].find((instance) => instance.tags[STANDBY_FOR_TAG] && instance.tags[STANDBY_STATE_TAG] === 'ready' && instance.state === 'stopped');
    if (ready) return ready;
  }
  throw new Error('the warm standby never became ready');
}
