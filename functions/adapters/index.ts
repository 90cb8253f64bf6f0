// The production ports, built once per Lambda container. Tests and the simulator swap parts of
// them (the clock, mostly: SDK calls are intercepted below the adapters so the adapters run too).
import { randomBytes } from 'node:crypto';
import type { Environment } from '../core/bootstrap.js';
import type { HealingEnvironment } from '../core/healing-steps.js';
import type { Ports } from '../core/ports.js';
import { ec2 } from './ec2.js';
import { notifier } from './notifier.js';
import { secrets } from './secrets.js';
import { ssm } from './ssm.js';
import { stateTable } from './state-table.js';
import { workflows } from './workflows.js';

const live: Ports = {
  ec2,
  ssm,
  state: stateTable,
  secrets,
  workflows,
  notifier,
  clock: { now: () => Date.now(), sleep: (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds)) },
  random: (bytes) => randomBytes(bytes),
};

export const ports: Ports = { ...live };

/** Replaces some ports until the returned function is called. For tests and the local simulator only. */
export function swapPorts(replacement: Partial<Ports>): () => void {
  const previous = { ...ports };
  Object.assign(ports, replacement);
  return () => {
    Object.assign(ports, previous);
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
