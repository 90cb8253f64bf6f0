import { z } from 'zod';
import { env, ports } from './adapters/index.js';
import { pointNodeProxies } from './core/healing-steps.js';
import { clusterContextSchema } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

/** Points every worker's local API proxy whose masters differ at the cluster's masters (50 workers per command). */
export const handler = task('point-node-proxies', z.object({ cluster: clusterContextSchema, ...executionFields }), async (input) => pointNodeProxies(input, ports, env()));
