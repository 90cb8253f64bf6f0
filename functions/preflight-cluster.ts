import { z } from 'zod';
import { ports } from './adapters/index.js';
import { discoverCluster, preflightCluster } from './core/bootstrap.js';
import { bootstrapInputSchema } from './core/config.js';
import { executionFields, task } from './lib/task.js';

const schema = z.object({ config: bootstrapInputSchema, ...executionFields });

/** Changes nothing; throws PreflightFailedError listing every blocking finding with its fix. */
export const handler = task('preflight-cluster', schema, async ({ config }, log) => {
  // Read here rather than passed in: the fleet of a large cluster does not fit a state's payload.
  const instances = await discoverCluster(config, ports);
  const outcome = await preflightCluster(config, instances, ports);
  for (const warning of outcome.warnings) log.warn('preflight warning', { field: warning.field, reason: warning.reason, fix: warning.fix });
  return { config, ...outcome };
});
