import { z } from 'zod';
import { ports } from './adapters/index.js';
import { inspectForHealing } from './core/healing-steps.js';
import { clusterNameSchema, instanceId } from './lib/healing-schemas.js';
import { executionFields, task } from './lib/task.js';

/** Reads the recorded settings and the fleet as it is now, around the instance being healed. */
export const handler = task('inspect-cluster', z.object({ clusterName: clusterNameSchema, instanceId, ...executionFields }), async (input) =>
  inspectForHealing(input, ports),
);
