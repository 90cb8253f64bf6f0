import { z } from 'zod';
import { ports } from './adapters/index.js';
import { clusterNameSchema } from './core/config.js';
import { inspectForRotation } from './core/rotation.js';
import { executionFields, task } from './lib/task.js';

/** The recorded cluster context and every master, for a workflow that visits each master in turn. */
export const handler = task('inspect-masters', z.object({ clusterName: clusterNameSchema, ...executionFields }), async ({ clusterName }) =>
  inspectForRotation(clusterName, ports),
);
