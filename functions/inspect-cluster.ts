import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { ssm } from './adapters/ssm.js';
import { stateTable } from './adapters/state-table.js';
import { inspectForHealing } from './core/healing-steps.js';
import { clusterNameSchema, instanceId } from './lib/healing-schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2, ssm, state: stateTable });

/** Reads the recorded settings and the fleet as it is now, around the instance being healed. */
export const handler = task('inspect-cluster', z.object({ clusterName: clusterNameSchema, instanceId, ...executionFields }), async (input) =>
  inspectForHealing(input, ports),
);
