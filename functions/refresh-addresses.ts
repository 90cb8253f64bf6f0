import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { refreshAddresses } from './core/healing-steps.js';
import { clusterContextSchema, instanceId, ipv4 } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2 });

const schema = z.object({
  cluster: clusterContextSchema,
  /** The instance the heal has just launched or started: counted even before DescribeInstances lists it. */
  including: z.object({ instanceId, privateIp: ipv4, role: z.enum(['master', 'lb']) }).optional(),
  ...executionFields,
});

/** The cluster context with the master and load balancer addresses as they are now. */
export const handler = task('refresh-addresses', schema, async (input) => refreshAddresses(input, ports));
