// Where the CLI's work happens. Both backends use kubeha's own adapters; they differ in where
// executions run (Step Functions, or the local control plane on the simulated fleet) and in how a
// secret is read back for `kubeha kubeconfig`.
import type { CommandEnvironment } from '../functions/core/commands.js';
import type { HealingEnvironment } from '../functions/core/healing-steps.js';
import type { Ports } from '../functions/core/ports.js';
import type { ProgressEvent } from './progress.js';

export interface ExecutionResult {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
}

export interface Backend {
  readonly mode: 'aws' | 'simulated';
  readonly ports: Ports;
  readonly environment: HealingEnvironment & CommandEnvironment;
  /** Seconds since the backend started, modelled in the simulator. */
  elapsedSince(start: number): number;
  now(): number;
  startExecution(machine: string, name: string, input: unknown): Promise<string>;
  follow(executionArn: string, onEvent: (event: ProgressEvent) => void, onTick?: () => Promise<void>): Promise<ExecutionResult>;
  consoleUrl(executionArn: string): string;
  readSecret(name: string): Promise<string>;
  /** The simulated fleet and control plane, for the demo's timeline and counts; absent against AWS. */
  readonly simulation?: { fleet: import('../sim/fleet.js').SimulatedFleet; plane: import('../sim/control-plane.js').LocalControlPlane };
  /** In the simulator, commands that need a cluster get one bootstrapped first. */
  ensureBootstrapped(clusterName: string): Promise<void>;
  /** Records that the cluster was bootstrapped through `kubeha bootstrap` in this process. */
  markBootstrapped?(): void;
  close(): void;
}

/** A failure the CLI reports as one sentence, with the exit code scripts can rely on. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const EXIT = { ok: 0, failed: 1, usage: 2, blocked: 3, credentials: 4, notFound: 5 } as const;

export interface BackendOptions {
  readonly simulate: boolean;
  readonly profile?: string | undefined;
  readonly region?: string | undefined;
  readonly stage: string;
  readonly clusterName: string;
  readonly elasticIpAllocationId?: string | undefined;
}

export async function createBackend(options: BackendOptions): Promise<Backend> {
  if (options.simulate) return (await import('./simulated-backend.js')).createSimulatedBackend(options);
  return (await import('./aws-backend.js')).createAwsBackend(options);
}
