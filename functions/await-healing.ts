import { z } from 'zod';
import { healingEnv, portsWith } from './adapters/base.js';
import { workflows } from './adapters/workflows.js';
import { awaitHealing } from './core/drill.js';
import { clusterNameSchema, instanceId } from './lib/healing-schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ workflows });

const schema = z.object({ clusterName: clusterNameSchema, instanceId, since: z.number(), deadline: z.number(), ...executionFields });

/** One poll: InProgress while a healing workflow about the target runs (or none started yet), then Finished. */
export const handler = task('await-healing', schema, async (input) => awaitHealing(input, ports, healingEnv()));
