import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { stateTable } from './adapters/state-table.js';
import { releaseLock } from './core/cluster-lock.js';
import { clusterNameSchema } from './lib/healing-schemas.js';
import { task } from './lib/task.js';

const ports = portsWith({ state: stateTable });

export const handler = task('release-lock', z.object({ clusterName: clusterNameSchema, executionArn: z.string().min(1) }), async (input) => releaseLock(input, ports));
