import { z } from 'zod';
import { ports } from './adapters/index.js';
import { storeFreshJoinMaterial } from './core/bootstrap.js';
import { clusterNameSchema } from './core/config.js';
import { executionFields, task } from './lib/task.js';

/** Returns where the fresh token and certificate key are stored, never the values. */
export const handler = task('mint-join-material', z.object({ clusterName: clusterNameSchema, ...executionFields }), async ({ clusterName }, log) => {
  const reference = await storeFreshJoinMaterial(clusterName, ports);
  log.info('stored fresh join material', { versionId: reference.versionId });
  return reference;
});
