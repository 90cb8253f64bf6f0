import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { ssm } from './adapters/ssm.js';
import { awaitInstance } from './core/healing-steps.js';
import { instanceId } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2, ssm });

const schema = z.object({
  instanceId,
  deadline: z.number(),
  boot: z.enum(['start', 'launch']).optional(),
  bootingSince: z.number().int('must be milliseconds since the epoch').nonnegative('must be milliseconds since the epoch').optional(),
  pollEverySeconds: z.number().int('must be whole seconds').min(1, 'must be 1-15').max(15, 'must be 1-15').optional(),
  pollSlot: z.number().int('must be a whole second').min(0, 'must be 0-14').max(14, 'must be 0-14').optional(),
  ...executionFields,
});

/** One poll: Ready once running with an online SSM agent; else when to look again. */
export const handler = task('await-instance', schema, async (input) => awaitInstance(input, ports));
