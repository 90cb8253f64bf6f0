import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { stateTable } from './adapters/state-table.js';
import { workflows } from './adapters/workflows.js';
import { acquireLock } from './core/cluster-lock.js';
import { clusterNameSchema } from './lib/healing-schemas.js';
import { task } from './lib/task.js';

const ports = portsWith({ state: stateTable, workflows });

const schema = z.object({
  clusterName: clusterNameSchema,
  executionArn: z.string().min(1),
  purpose: z.string().max(200),
  waitingSince: z.number().nonnegative().optional(),
});

/** One healing workflow mutates a cluster at a time; the others wait in a Wait loop around this Task. */
export const handler = task('acquire-lock', schema, async ({ waitingSince, ...input }, log) =>
  acquireLock({ ...input, waitingSince: waitingSince || undefined }, ports, log),
);
