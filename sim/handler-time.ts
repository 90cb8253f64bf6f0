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
