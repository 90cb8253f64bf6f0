import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { secrets } from './adapters/secrets.js';
import { ssm } from './adapters/ssm.js';
import { discoverCluster, preflightCluster } from './core/bootstrap.js';
import { bootstrapInputSchema } from './core/config.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2, ssm, secrets });

const schema = z.object({ config: bootstrapInputSchema, ...executionFields });

/** Changes nothing; throws PreflightFailedError listing every blocking finding with its fix. */
export const handler = task('preflight-cluster', schema, async ({ config }, log) => {
  // Read here rather than passed in: the fleet of a large cluster does not fit a state's payload.
  const instances = await discoverCluster(config, ports);
  const outcome = await preflightCluster(config, instances, ports);
  for (const warning of outcome.warnings) log.warn('preflight warning', { field: warning.field, reason: warning.reason, fix: warning.fix });
  return { config, ...outcome };
});
