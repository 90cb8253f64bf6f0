import { z } from 'zod';
import { ports } from './adapters/index.js';
import { releaseLock } from './core/cluster-lock.js';
import { clusterNameSchema } from './lib/healing-schemas.js';
import { task } from './lib/task.js';

export const handler = task('release-lock', z.object({ clusterName: clusterNameSchema, executionArn: z.string().min(1) }), async (input) => releaseLock(input, ports));
