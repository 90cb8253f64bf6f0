// What a command needs from the account it works on. Both backends implement this interface and import
// it; it imports neither of them (cli/open-backend.ts chooses one). They use kubeha's own adapters
// and differ in where executions run (Step Functions, or the local control plane on the simulated
// fleet), in how a secret is read back for `kubeha kubeconfig`, and in where the account lives.
import type { CommandEnvironment } from '../functions/core/commands.js';
import type { HealingEnvironment } from '../functions/core/healing-steps.js';
import type { Ports } from '../functions/core/ports.js';
import type { LocalControlPlane } from '../sim/control-plane.js';
import type { SimulatedFleet } from '../sim/fleet.js';
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
  /** Seconds since `start`, modelled in the simulator. */
  elapsedSince(start: number): number;
  now(): number;
  startExecution(machine: string, name: string, input: unknown): Promise<string>;
  /** Follows an execution to its end, from its first event: the same call re-attaches to a running one. */
  follow(executionArn: string, onEvent: (event: ProgressEvent) => void, onTick?: () => Promise<void>): Promise<ExecutionResult>;
  consoleUrl(executionArn: string): string;
  readSecret(name: string): Promise<string>;
  /** The simulated fleet and control plane, for the demo's timeline and counts; absent against AWS. */
  readonly simulation?: { fleet: SimulatedFleet; plane: LocalControlPlane };
  /** In a simulated account: launches the tagged instances of a cluster it has not seen yet (what a user does before `plan`). */
  prepareCluster?(clusterName: string, elasticIpAllocationId?: string): void;
  /** Writes back what changed (a simulated account) and lets go of it. */
  close(): Promise<void>;
}

export interface BackendOptions {
  readonly simulate: boolean;
  readonly profile?: string | undefined;
  readonly region?: string | undefined;
  readonly stage: string;
  readonly clusterName?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
}
