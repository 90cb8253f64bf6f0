import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { ssm } from './adapters/ssm.js';
import { awaitInstance } from './core/healing-steps.js';
import { instanceId } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2, ssm });

/** One poll: Ready once running with an online SSM agent. */
export const handler = task('await-instance', z.object({ instanceId, deadline: z.number(), ...executionFields }), async (input) => awaitInstance(input, ports));
