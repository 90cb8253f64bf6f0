import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { secrets } from './adapters/secrets.js';
import { clusterNameSchema } from './core/config.js';
import { ROTATION_ID_FORMAT, ROTATION_PHASES, changeEncryptionKeys } from './core/encryption.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ secrets });

const schema = z.object({
  clusterName: clusterNameSchema,
  rotationId: z.string().regex(ROTATION_ID_FORMAT, 'must be 1-36 lower-case letters, digits or hyphens, starting with a letter or digit'),
  phase: z.enum(ROTATION_PHASES),
  ...executionFields,
});

/** One move of a key rotation (add second, promote first, retire the others); idempotent per rotation id. */
export const handler = task('change-encryption-keys', schema, async (input, log) => {
  const outcome = await changeEncryptionKeys(input, ports);
  log.info(outcome.changed ? 'changed the encryption keys' : 'the encryption keys show this move done already', { phase: input.phase, keyNames: outcome.keyNames, versionId: outcome.versionId });
  return { versionId: outcome.versionId, keyNames: outcome.keyNames, changed: outcome.changed };
});
