// A simulated account that outlives the process: the fleet's data (maps, sets, dates and plain
// records) is written with the V8 serializer, which keeps all of those as they are, and read back into
// a fresh SimulatedFleet. Hooks are left out: they belong to the control plane of one process, which
// installs its own. The SDK call log is left out too: it only grows and nothing reads it across runs.
import { deserialize, serialize } from 'node:v8';
import { SimulatedFleet } from './fleet.js';
import { seededRandom } from './latency.js';

const PER_PROCESS = new Set(['stateChangeHooks', 'executionStartedHooks', 'commandSentHooks', 'commandFinishedHooks', 'instanceLaunchedHooks', 'random', 'calls']);

/** The fleet's data as bytes. */
export function snapshotFleet(fleet: SimulatedFleet): Buffer {
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fleet)) {
    if (!PER_PROCESS.has(key) && typeof value !== 'function') data[key] = value;
  }
  return serialize(data);
}

/**
 * A fleet with the data of a snapshot. `seed` must differ from run to run: identifiers are drawn from
 * the random source, and the same sequence twice would hand out an instance id that already exists.
 */
export function restoreFleet(bytes: Buffer, seed: number): SimulatedFleet {
  const fleet = new SimulatedFleet({ seed });
  Object.assign(fleet, deserialize(bytes) as Record<string, unknown>);
  Object.assign(fleet, { random: seededRandom(seed) });
  return fleet;
}
