import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { refreshAddresses } from './core/healing-steps.js';
import { clusterContextSchema } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2 });

/** The cluster context with the master and load balancer addresses as they are now. */
export const handler = task('refresh-addresses', z.object({ cluster: clusterContextSchema, ...executionFields }), async (input) => refreshAddresses(input, ports));
