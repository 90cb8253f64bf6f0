import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { secrets } from './adapters/secrets.js';
import { storeFreshJoinMaterial } from './core/bootstrap.js';
import { clusterNameSchema } from './core/config.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ secrets });

/** Returns where the fresh token and certificate key are stored, never the values. */
const schema = z.object({
  clusterName: clusterNameSchema,
  /** Heals hand out material minted this recently again; bootstrap mints fresh for every join. */
  reuseMinutes: z.number().int('must be a whole number').min(0).max(25, 'must stay under the 30-minute token lifetime').optional(),
  ...executionFields,
});

export const handler = task('mint-join-material', schema, async ({ clusterName, reuseMinutes }, log) => {
  const reference = await storeFreshJoinMaterial(clusterName, ports, reuseMinutes);
  log.info('stored fresh join material', { versionId: reference.versionId });
  return reference;
});
