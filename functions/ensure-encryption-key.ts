import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { secrets } from './adapters/secrets.js';
import { clusterNameSchema } from './core/config.js';
import { ensureEncryptionKey } from './core/encryption.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ secrets });

const schema = z.object({ clusterName: clusterNameSchema, ...executionFields });

/** Bootstrap: stores the cluster's first Secrets encryption key unless it has one. Returns key names and the version, never a key. */
export const handler = task('ensure-encryption-key', schema, async ({ clusterName }, log) => {
  const outcome = await ensureEncryptionKey(clusterName, ports);
  log.info(outcome.changed ? 'stored the first encryption key' : 'the cluster has its encryption key already', { keyNames: outcome.keyNames, versionId: outcome.versionId });
  return { versionId: outcome.versionId, keyNames: outcome.keyNames, changed: outcome.changed };
});
