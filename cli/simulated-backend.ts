// The simulated account: a fleet of 3 masters, 2 load balancers and 3 workers, tagged for the
// cluster, with the whole control plane running locally. Nothing leaves this machine.
import { ports } from '../functions/adapters/index.js';
import { readableCause } from '../functions/core/errors.js';
import { consoleInput } from '../sim/bootstrap.js';
import { LOCAL_STATE_MACHINE_PREFIX, LocalControlPlane } from '../sim/control-plane.js';
import { SimulatedFleet } from '../sim/fleet.js';
import type { EventLog } from '../sim/state-machine.js';
import { type Backend, type BackendOptions, CliError, EXIT } from './backend.js';

// aws-local-stepfunctions uses Promise.withResolvers, which Node 22 has; this keeps Node 20 working too.
const promiseStatics = Promise as unknown as { withResolvers?: () => unknown };
promiseStatics.withResolvers ??= () => {
  let resolve: unknown;
  let reject: unknown;
  const promise = new Promise((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
};

export function createSimulatedBackend(options: BackendOptions): Backend {
  const fleet = SimulatedFleet.standard({ clusterName: options.clusterName, ...(options.elasticIpAllocationId ? { elasticIpAllocationId: options.elasticIpAllocationId } : {}) });
  const plane = new LocalControlPlane(fleet, [options.clusterName]).start().enableEventBridge();
  const startedAt = fleet.now();
  let bootstrapped = false;

  return {
    mode: 'simulated',
    simulation: { fleet, plane },
    ports,
    environment: {
      clusters: [options.clusterName],
      stateMachineArnPrefix: LOCAL_STATE_MACHINE_PREFIX,
      documentPrefix: 'kubeha-local-',
      region: fleet.region,
      snapshotBucket: 'kubeha-local-etcd-snapshots-123456789012',
    },
    now: () => fleet.now(),
    elapsedSince: (start) => (fleet.now() - start) / 1000,
    async startExecution(machine, name, input) {
      return fleet.startExecution(`${LOCAL_STATE_MACHINE_PREFIX}${machine}`, name, JSON.stringify(input)).executionArn;
    },
    async follow(executionArn, onEvent, onTick) {
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
      const execution = fleet.executions.get(executionArn);
      if (!execution) throw new CliError(`execution ${executionArn} is unknown`, EXIT.notFound);
      return execution.status === 'SUCCEEDED'
        ? { status: 'SUCCEEDED', output: execution.output }
        : { status: 'FAILED', error: execution.error?.name ?? 'Unknown', cause: readableCause(execution.error?.cause) };
    },
    consoleUrl: (executionArn) => `(simulated) ${executionArn}`,
    async readSecret(name) {
      return fleet.readSecretOnInstance(name);
    },
    async ensureBootstrapped(clusterName) {
      if (bootstrapped) return;
      const run = await plane.execute('bootstrap-cluster', `${clusterName}-bootstrap`, consoleInput(fleet, { clusterName }));
      if (run.error) throw new CliError(`the simulated bootstrap failed: ${run.error.message}`, EXIT.failed);
      bootstrapped = true;
    },
    markBootstrapped: () => {
      bootstrapped = true;
    },
    close: () => plane.stop(),
  };
}
