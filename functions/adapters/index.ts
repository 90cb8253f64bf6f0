// The production ports, built once per Lambda container. Tests and the simulator swap parts of
// them (the clock, mostly: SDK calls are intercepted below the adapters so the adapters run too).
import { randomBytes } from 'node:crypto';
import type { Environment } from '../core/bootstrap.js';
import type { Ports } from '../core/ports.js';
import { ec2 } from './ec2.js';
import { secrets } from './secrets.js';
import { ssm } from './ssm.js';

const live: Ports = {
  ec2,
  ssm,
  secrets,
  clock: { now: () => Date.now() },
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
    environment = { documentPrefix, region };
  }
  return environment;
}

export function resetEnvironmentForTesting(): void {
  environment = undefined;
}
