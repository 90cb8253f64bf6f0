// How much modelled time one function invocation spends: its own API calls and its own sleeps,
// whatever other executions do meanwhile. The local runner holds each function to its timeout with it.
import { AsyncLocalStorage } from 'node:async_hooks';

const current = new AsyncLocalStorage<{ elapsedMs: number }>();

export function inInvocation<T>(run: () => Promise<T>): { result: Promise<T>; elapsedMs: () => number } {
  const meter = { elapsedMs: 0 };
  return { result: current.run(meter, run), elapsedMs: () => meter.elapsedMs };
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
