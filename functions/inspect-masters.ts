import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { ssm } from './adapters/ssm.js';
import { clusterNameSchema } from './core/config.js';
import { inspectForRotation } from './core/rotation.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2, ssm });

/** The recorded cluster context and every master, for a workflow that visits each master in turn. */
export const handler = task('inspect-masters', z.object({ clusterName: clusterNameSchema, ...executionFields }), async ({ clusterName }) =>
  inspectForRotation(clusterName, ports),
);
