import { z } from 'zod';
import { ports } from './adapters/index.js';
import { awaitInstance } from './core/healing-steps.js';
import { instanceId } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

/** One poll: Ready once running with an online SSM agent. */
export const handler = task('await-instance', z.object({ instanceId, deadline: z.number(), ...executionFields }), async (input) => awaitInstance(input, ports));
