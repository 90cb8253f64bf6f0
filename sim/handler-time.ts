// How much modelled time one function invocation spends: its own API calls and its own sleeps,
// whatever other executions do meanwhile. The local runner holds each function to its timeout with it.
import { AsyncLocalStorage } from 'node:async_hooks';

const current = new AsyncLocalStorage<{ elapsedMs: number; timeoutMs?: number }>();

/** `timeoutMs`: the function's timeout; past it, the invocation's further calls never reach a service (stopIfTimedOut). */
export function inInvocation<T>(run: () => Promise<T>, timeoutMs?: number): { result: Promise<T>; elapsedMs: () => number } {
  const meter = { elapsedMs: 0, ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
  return { result: current.run(meter, run), elapsedMs: () => meter.elapsedMs };
}

/**
 * Lambda stops an invocation at its timeout ("The amount of time that Lambda allows a function to run before
 * stopping it", FunctionConfiguration.Timeout, Lambda API reference): whatever the function would do after it
 * never happens. A call already on its way when the time ran out reached the service (its effect stands, its
 * answer is lost); the next one does not.
 */
export class InvocationStopped extends Error {
  override readonly name = 'Sandbox.Timedout';
}

/** Called by the simulated services before a call: refuses it when the invocation making it is past its timeout. */
export function stopIfTimedOut(): void {
  const meter = current.getStore();
  if (meter?.timeoutMs !== undefined && meter.elapsedMs > meter.timeoutMs) {
    throw new InvocationStopped(`Task timed out after ${(meter.timeoutMs / 1000).toFixed(2)} seconds: Lambda stopped the function before this call`);
  }
}

/** Called by the simulated services and clock: charges modelled time to the invocation running now. */
export function charge(milliseconds: number): void {
  const meter = current.getStore();
  if (meter) meter.elapsedMs += milliseconds;
}

const running = new AsyncLocalStorage<string>();

/** Runs one invocation of a function by its short name, so that the calls it makes are attributed to it. */
export function asFunction<T>(functionName: string, run: () => Promise<T>): Promise<T> {
  return running.run(functionName, run);
}

/** The function whose invocation is running now (what the simulated services record as the caller), if any. */
export function runningFunction(): string | undefined {
  return running.getStore();
}
