import { z } from 'zod';
import { ports } from './adapters/index.js';
import { discoverCluster } from './core/bootstrap.js';
import { bootstrapInputSchema } from './core/config.js';
import { executionFields, task } from './lib/task.js';

export const handler = task('discover-cluster', z.object({ config: bootstrapInputSchema, ...executionFields }), async ({ config }, log) => {
  const discovered = await discoverCluster(config, ports);
  log.info('discovered instances', { count: discovered.length });
  // What later states read, nothing more: a state's payload is limited to 256 KB.
  const instances = discovered.map(({ tags: _tags, vpcId: _vpcId, publicIp: _publicIp, ...kept }) => kept);
  return { instances };
});
