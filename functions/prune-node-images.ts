import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { ssm } from './adapters/ssm.js';
import { pruneNodeImages } from './core/node-image.js';
import { clusterNameSchema } from './lib/image-schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2, ssm });

/** After a recorded build: removes the cluster's images older than the recorded one and the one before it, with their snapshots. */
export const handler = task('prune-node-images', z.object({ clusterName: clusterNameSchema, ...executionFields }), async ({ clusterName }) => pruneNodeImages(clusterName, ports));
