import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { ssm } from './adapters/ssm.js';
import { discardBuildImage } from './core/node-image.js';
import { buildIdSchema, clusterNameSchema } from './lib/image-schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2, ssm });

/** After a failed build: deregisters the build's image and deletes its snapshots, found by its build tag (never the recorded image). */
export const handler = task('discard-node-image', z.object({ buildId: buildIdSchema, clusterName: clusterNameSchema, ...executionFields }), async ({ buildId, clusterName }) =>
  discardBuildImage({ buildId, clusterName }, ports),
);
