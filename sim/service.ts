// What every simulated service shares: calls are recorded (and may be throttled) before they act.
import type { RecordedCall, SimulatedFleet } from './fleet.js';

type Handler = (input: never) => unknown;

export function route(fleet: SimulatedFleet, service: RecordedCall['service'], operation: string, handler: Handler) {
  return async (input: unknown) => {
    await fleet.recordAfterLatency(service, operation, input);
    return (handler as (input: unknown) => unknown)(input);
  };
}

export function tagList(tags: Record<string, string>) {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}
