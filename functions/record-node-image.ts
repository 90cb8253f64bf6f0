import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { ssm } from './adapters/ssm.js';
import { recordNodeImage } from './core/node-image.js';
import { imageBuildSchema, imageId } from './lib/image-schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2, ssm });

/** Records an available image in the cluster settings: from then on replacements launch from it. */
export const handler = task('record-node-image', z.object({ build: imageBuildSchema, imageId, ...executionFields }), async ({ build, imageId: image }) =>
  recordNodeImage(build, image, ports),
);
