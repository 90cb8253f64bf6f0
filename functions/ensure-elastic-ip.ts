import { z } from 'zod';
import { ports } from './adapters/index.js';
import { failOverElasticIp } from './core/healing-steps.js';
import { clusterNameSchema, instanceId } from './lib/healing-schemas.js';
import { executionFields, task } from './lib/task.js';

/** Moves the Elastic IP off the failed load balancer if it is still there (the event handler's move may have failed). */
export const handler = task('ensure-elastic-ip', z.object({ clusterName: clusterNameSchema, failedInstanceId: instanceId, ...executionFields }), async (input, log) => ({
  movedTo: (await failOverElasticIp(input.clusterName, input.failedInstanceId, ports, log)) ?? null,
}));
