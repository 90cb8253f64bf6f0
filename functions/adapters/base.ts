// What every function shares whatever AWS services it uses: the clock, randomness, configuration from the
// environment. Each handler names the adapters it needs (`portsWith({ ec2 })`) instead of importing all of
// them, so its bundle holds only the SDK clients it calls (see README, "Performance": cold start).
// Tests and the simulator swap parts of the ports here (the clock, mostly: SDK calls are intercepted below
// the adapters so the adapters run too), and the swap reaches every handler's ports.
import { randomBytes } from 'node:crypto';
import type { Environment } from '../core/bootstrap.js';
import type { HealingEnvironment } from '../core/healing-steps.js';
import type { Ports } from '../core/ports.js';

type Shared = Pick<Ports, 'clock' | 'random'>;

const shared: Shared = {
  clock: { now: () => Date.now(), sleep: (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds)) },
  random: (bytes) => randomBytes(bytes),
};
const overrides: Partial<Ports> = {};

/** The given adapters plus the shared clock and randomness; a port swapped by `swapPorts` wins while swapped. */
export function portsWith<Adapters extends Partial<Omit<Ports, keyof Shared>>>(adapters: Adapters): Adapters & Shared {
  const own = { ...shared, ...adapters } as Adapters & Shared;
  return new Proxy(own, {
    get: (target, key, receiver) => (typeof key === 'string' && key in overrides ? overrides[key as keyof Ports] : Reflect.get(target, key, receiver)),
  });
}

/** Replaces some ports until the returned function is called. For tests and the local simulator only. */
export function swapPorts(replacement: Partial<Ports>): () => void {
  const previous = { ...overrides };
  Object.assign(overrides, replacement);
  return () => {
    for (const key of Object.keys(overrides) as (keyof Ports)[]) delete overrides[key];
    Object.assign(overrides, previous);
  };
}

let environment: Environment | undefined;

/** Configuration read from the Lambda environment once, failing loudly when something is missing. */
export function env(): Environment {
  if (!environment) {
    const documentPrefix = process.env.KUBEHA_DOCUMENT_PREFIX;
    const region = process.env.AWS_REGION;
    if (!documentPrefix) throw new Error('KUBEHA_DOCUMENT_PREFIX is not set: deploy with serverless.yml, which sets it');
    if (!region) throw new Error('AWS_REGION is not set');
    environment = { documentPrefix, documentSuffix: process.env.KUBEHA_DOCUMENT_SUFFIX || undefined, region, snapshotBucket: process.env.KUBEHA_SNAPSHOT_BUCKET };
  }
  return environment;
}

let healing: HealingEnvironment | undefined;

/** What healing needs from the environment: the clusters served and where the state machines are. */
export function healingEnv(): HealingEnvironment {
  if (!healing) {
    const clusters = (process.env.KUBEHA_CLUSTERS ?? '').split(',').map((name) => name.trim()).filter(Boolean);
    const stateMachineArnPrefix = process.env.KUBEHA_STATE_MACHINE_ARN_PREFIX;
    if (clusters.length === 0) throw new Error('KUBEHA_CLUSTERS is not set: deploy with serverless.yml, which sets it from the clusters parameter');
    if (!stateMachineArnPrefix) throw new Error('KUBEHA_STATE_MACHINE_ARN_PREFIX is not set: deploy with serverless.yml, which sets it');
    healing = { clusters, stateMachineArnPrefix };
  }
  return healing;
}

export function resetEnvironmentForTesting(): void {
  environment = undefined;
  healing = undefined;
}
