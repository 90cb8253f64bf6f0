import { z } from 'zod';
import { InputValidationError } from './core/errors.js';
import { portsWith } from './adapters/base.js';
import { notifier } from './adapters/notifier.js';
import { notifyCapacityWait, notifyHumans } from './core/healing-steps.js';
import { clusterNameSchema } from './lib/healing-schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ notifier });

const schema = z.object({
  clusterName: clusterNameSchema,
  instanceId: z.string().optional(),
  /** What stopped, for the subject (default: healing). */
  workflow: z.enum(['healing', 'certificate renewal']).optional(),
  failure: z.object({ Error: z.string(), Cause: z.string().optional() }).optional(),
  /** A heal that waits for EC2 capacity: how often it tries again and how many times (its ASL cap). */
  waitingForCapacity: z
    .object({
      retryEverySeconds: z.number().int('must be whole seconds').min(60, 'must be 60-3600').max(3600, 'must be 60-3600'),
      rounds: z.number().int('must be a whole number').min(1, 'must be 1-100').max(100, 'must be 1-100'),
    })
    .optional(),
  ...executionFields,
});

/** Tells a human (SNS) that healing (or certificate renewal) stopped, and why; or, with waitingForCapacity, that a heal waits for EC2 capacity. */
export const handler = task('notify', schema, async (input) => {
  if (input.waitingForCapacity) {
    if (!input.instanceId) throw new InputValidationError([{ field: 'instanceId', reason: 'is required to tell of a wait for capacity' }]);
    return notifyCapacityWait({ clusterName: input.clusterName, instanceId: input.instanceId, cause: input.failure?.Cause, ...input.waitingForCapacity, executionArn: input.executionArn }, ports);
  }
  return notifyHumans({ clusterName: input.clusterName, workflow: input.workflow, instanceId: input.instanceId, error: input.failure?.Error, cause: input.failure?.Cause, executionArn: input.executionArn }, ports);
});
