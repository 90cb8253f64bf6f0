import { z } from 'zod';
import { ports } from './adapters/index.js';
import { refreshAddresses } from './core/healing-steps.js';
import { clusterContextSchema } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

/** The cluster context with the master and load balancer addresses as they are now. */
export const handler = task('refresh-addresses', z.object({ cluster: clusterContextSchema, ...executionFields }), async (input) => refreshAddresses(input, ports));
