import { z } from 'zod';
import { env, portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { ssm } from './adapters/ssm.js';
import { pointNodeProxies } from './core/healing-steps.js';
import { clusterContextSchema } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2, ssm });

/** Points every worker's local API proxy whose masters differ at the cluster's masters (50 workers per command), tagging those that did. */
export const handler = task('point-node-proxies', z.object({ cluster: clusterContextSchema, ...executionFields }), async (input) => pointNodeProxies(input, ports, env()));
