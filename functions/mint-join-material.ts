import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { secrets } from './adapters/secrets.js';
import { storeFreshJoinMaterial } from './core/bootstrap.js';
import { clusterNameSchema } from './core/config.js';
import { JOIN_KINDS, type JoinKind } from './core/names.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ secrets });

const schema = z.object({
  clusterName: clusterNameSchema,
  /** Which secret: `worker` (a token only, readable by workers) or `control-plane` (token and certificate key, masters only). */
  joinAs: z.enum(JOIN_KINDS as [JoinKind, ...JoinKind[]], { error: 'must be worker or control-plane' }),
  /** Heals hand out material minted this recently again; bootstrap mints fresh for every join. */
  reuseMinutes: z.number().int('must be a whole number').min(0).max(25, 'must stay under the 30-minute token lifetime').optional(),
  ...executionFields,
});

/** Returns where the fresh material is stored, never the values. */
export const handler = task('mint-join-material', schema, async ({ clusterName, joinAs, reuseMinutes }, log) => {
  const reference = await storeFreshJoinMaterial(clusterName, joinAs, ports, reuseMinutes);
  log.info('stored fresh join material', { joinAs, versionId: reference.versionId });
  return reference;
});
