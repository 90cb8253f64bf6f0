import { z } from 'zod';
import { ports } from './adapters/index.js';
import { preflightCluster } from './core/bootstrap.js';
import { bootstrapInputSchema } from './core/config.js';
import { clusterInstanceSchema } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

const schema = z.object({ config: bootstrapInputSchema, instances: z.array(clusterInstanceSchema), ...executionFields });

/** Changes nothing; throws PreflightFailedError listing every blocking finding with its fix. */
export const handler = task('preflight-cluster', schema, async ({ config, instances }, log) => {
  const outcome = await preflightCluster(config, instances, ports);
  for (const warning of outcome.warnings) log.warn('preflight warning', { field: warning.field, reason: warning.reason, fix: warning.fix });
  return { config, ...outcome };
});
