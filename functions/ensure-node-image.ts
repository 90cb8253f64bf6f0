import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { ensureNodeImage } from './core/node-image.js';
import { imageBuildSchema, instanceId } from './lib/image-schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2 });

/** Creates the build's image from the builder once, then reports its state on every call (pending, available). */
export const handler = task('ensure-node-image', z.object({ build: imageBuildSchema, builderId: instanceId, ...executionFields }), async ({ build, builderId }) =>
  ensureNodeImage(build, builderId, ports),
);
