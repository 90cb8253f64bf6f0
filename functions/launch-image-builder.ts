import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { launchImageBuilder } from './core/node-image.js';
import { imageBuildSchema } from './lib/image-schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2 });

/** Launches the build's builder instance from the cluster's base image (idempotent: the build id is the client token). */
export const handler = task('launch-image-builder', z.object({ build: imageBuildSchema, ...executionFields }), async ({ build }) => launchImageBuilder(build, ports));
