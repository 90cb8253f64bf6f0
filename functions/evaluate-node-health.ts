import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { evaluateNodeHealth } from './core/healing-steps.js';
import { ipv4, reportFromRunSchema } from './lib/healing-schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({});

const schema = z.object({
  status: reportFromRunSchema,
  ip: ipv4,
  expectMember: z.boolean(),
  timeoutMinutes: z.number().positive(),
  waitingSince: z.number().nonnegative(),
  ...executionFields,
});

/** Healthy, or not yet (with the reason); NodeNotReadyError once the timeout since the first check has passed. */
export const handler = task('evaluate-node-health', schema, async (input) => {
  const now = ports.clock.now();
  const waitingSince = input.waitingSince || now;
  return { ...evaluateNodeHealth(input.status, input.ip, input.expectMember, waitingSince + input.timeoutMinutes * 60_000, now), waitingSince, ip: input.ip };
});
