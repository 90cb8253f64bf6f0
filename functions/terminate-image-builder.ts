import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { terminateImageBuilder } from './core/node-image.js';
import { buildIdSchema } from './lib/image-schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2 });

/** Terminates the build's builder, found by its build tag; after success and after every failure. */
export const handler = task('terminate-image-builder', z.object({ buildId: buildIdSchema, ...executionFields }), async ({ buildId }) => terminateImageBuilder(buildId, ports));
