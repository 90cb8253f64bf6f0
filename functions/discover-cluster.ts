import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { discoverCluster } from './core/bootstrap.js';
import { ROLES } from './core/cluster.js';
import { bootstrapInputSchema } from './core/config.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2 });

/**
 * Counts the tagged instances by role, for the progress display. The fleet itself never travels in the
 * payload (1,000 instances are ≈ 210 KB of the 256 KB a state may hold): preflight reads it again.
 */
export const handler = task('discover-cluster', z.object({ config: bootstrapInputSchema, ...executionFields }), async ({ config }, log) => {
  const discovered = await discoverCluster(config, ports);
  const counts = Object.fromEntries(ROLES.map((role) => [role, discovered.filter((instance) => instance.role === role).length]));
  log.info('discovered instances', { count: discovered.length, ...counts });
  return { total: discovered.length, ...counts };
});
