import { z } from 'zod';
import { ports } from './adapters/index.js';
import { discoverCluster } from './core/bootstrap.js';
import { bootstrapInputSchema } from './core/config.js';
import { executionFields, task } from './lib/task.js';

export const handler = task('discover-cluster', z.object({ config: bootstrapInputSchema, ...executionFields }), async ({ config }, log) => {
  const instances = await discoverCluster(config, ports);
  log.info('discovered instances', { count: instances.length });
  return { instances };
});
