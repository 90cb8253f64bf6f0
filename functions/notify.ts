import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { notifier } from './adapters/notifier.js';
import { notifyHumans } from './core/healing-steps.js';
import { clusterNameSchema } from './lib/healing-schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ notifier });

const schema = z.object({
  clusterName: clusterNameSchema,
  instanceId: z.string().optional(),
  /** What stopped, for the subject (default: healing). */
  workflow: z.enum(['healing', 'certificate renewal']).optional(),
  failure: z.object({ Error: z.string(), Cause: z.string().optional() }).optional(),
  ...executionFields,
});

/** Tells a human (SNS) that healing stopped, and why. */
export const handler = task('notify', schema, async (input) =>
  notifyHumans({ clusterName: input.clusterName, workflow: input.workflow, instanceId: input.instanceId, error: input.failure?.Error, cause: input.failure?.Cause, executionArn: input.executionArn }, ports),
);
