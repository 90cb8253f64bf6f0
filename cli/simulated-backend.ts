// The simulated account: tagged instances on a simulated fleet, with the whole control plane running
// locally. Nothing leaves this machine. `kubeha --simulate` keeps the account in a file between
// commands (cli/simulated-account.ts); the demo uses one in memory.
import { ports } from '../functions/adapters/index.js';
import { readableCause } from '../functions/core/errors.js';
import { LOCAL_DOCUMENT_SUFFIX, LOCAL_STATE_MACHINE_PREFIX, LocalControlPlane } from '../sim/control-plane.js';
import { SimulatedFleet } from '../sim/fleet.js';
import type { EventLog } from '../sim/state-machine.js';
import type { Backend, BackendOptions } from './backend.js';
import { CliError, EXIT } from './errors.js';
import { openAccount } from './simulated-account.js';

/** Executions whose states `kubeha follow` can replay; older ones report only how they ended. */
const REPLAYABLE_EXECUTIONS = 50;

/** The persisted account of --profile (or "default"), open for one command. */
export async function openSimulatedBackend(options: BackendOptions): Promise<Backend> {
  const account = await openAccount(options.env, options.profile ?? 'default');
  try {
    const clusters = [...new Set([...account.clusters(), ...(options.clusterName ? [options.clusterName] : [])])];
    let saved = false;
    const backend = simulatedBackendOn(account.fleet, clusters, account.stateHistory, {
      label: `simulated account "${account.name}" (${account.path})`,
      prepareCluster: (clusterName, elasticIpAllocationId) => account.addCluster(clusterName, elasticIpAllocationId),
      persist: async () => {
        if (saved) return;
        saved = true;
        try {
          await account.save();
        } finally {
          await account.release();
        }
      },
    });
    return backend;
  } catch (error: unknown) {
    await account.release();
    throw error;
  }
}

/** The demo's account: the standard fleet of one cluster, in memory. */
export function createSimulatedBackend(options: { clusterName: string; elasticIpAllocationId?: string | undefined }): Backend {
  const fleet = SimulatedFleet.standard({ clusterName: options.clusterName, ...(options.elasticIpAllocationId ? { elasticIpAllocationId: options.elasticIpAllocationId } : {}) });
  return simulatedBackendOn(fleet, [options.clusterName], {}, { label: 'simulated account (in memory)', persist: async () => undefined });
}

function simulatedBackendOn(
  fleet: SimulatedFleet,
  clusters: readonly string[],
  stateHistory: Record<string, string[]>,
  account: { label: string; persist: () => Promise<void>; prepareCluster?: (clusterName: string, elasticIpAllocationId?: string) => void },
): Backend {
  const plane = new LocalControlPlane(fleet, clusters).start().enableEventBridge();
  let stopped = false;
  return {
    mode: 'simulated',
    simulation: { fleet, plane },
    ports,
    environment: {
      clusters: [...clusters],
      stateMachineArnPrefix: LOCAL_STATE_MACHINE_PREFIX,
      documentPrefix: 'kubeha-local-',
      documentSuffix: LOCAL_DOCUMENT_SUFFIX,
      region: fleet.region,
      snapshotBucket: 'kubeha-local-etcd-snapshots-123456789012',
    },
    now: () => fleet.now(),
    elapsedSince: (start) => (fleet.now() - start) / 1000,
    async startExecution(machine, name, input) {
      return fleet.startExecution(`${LOCAL_STATE_MACHINE_PREFIX}${machine}`, name, JSON.stringify(input)).executionArn;
    },
    async follow(executionArn, onEvent, onTick) {
      const execution = fleet.executions.get(executionArn);
      if (!execution) throw new CliError(`No execution ${executionArn} in the ${account.label}.`, EXIT.notFound);
      if (execution.status === 'PENDING') {
        plane.listeners.set(executionArn, (event: EventLog) => {
          if (event.type === 'StateEntered') onEvent({ kind: 'entered', state: (event as { state: { name: string } }).state.name });
        });
        let ticking = true;
        const ticker = (async () => {
          while (ticking) {
            await onTick?.();
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        })();
        await plane.settle();
        ticking = false;
        await ticker;
        plane.listeners.delete(executionArn);
      } else {
        // Ran in an earlier command: replay the states it went through.
        for (const state of stateHistory[executionArn] ?? []) onEvent({ kind: 'entered', state });
        await onTick?.();
      }
      if (execution.status === 'SUCCEEDED') return { status: 'SUCCEEDED', output: execution.output };
      if (execution.status === 'FAILED') return { status: 'FAILED', error: execution.error?.name ?? 'Unknown', cause: readableCause(execution.error?.cause) };
      throw new CliError(`Execution ${executionArn} was cut off while it ran (its command was killed); start it again.`, EXIT.failed);
    },
    consoleUrl: (executionArn) => `(simulated) ${executionArn}`,
    async readSecret(name) {
      return fleet.readSecretOnInstance(name);
    },
    ...(account.prepareCluster ? { prepareCluster: account.prepareCluster } : {}),
    async close() {
      if (stopped) return;
      stopped = true;
      plane.stop();
      for (const [executionArn, run] of plane.runs) {
        stateHistory[executionArn] = run.events.filter((event) => event.type === 'StateEntered').map((event) => (event as { state: { name: string } }).state.name);
      }
      for (const executionArn of Object.keys(stateHistory).slice(0, -REPLAYABLE_EXECUTIONS)) delete stateHistory[executionArn];
      await account.persist();
    },
  };
}
