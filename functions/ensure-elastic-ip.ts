import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { ssm } from './adapters/ssm.js';
import { failOverElasticIp } from './core/healing-steps.js';
import { clusterNameSchema, instanceId } from './lib/healing-schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2, ssm });

/** Moves the Elastic IP off the failed load balancer if it is still there (the event handler's move may have failed). */
export const handler = task('ensure-elastic-ip', z.object({ clusterName: clusterNameSchema, failedInstanceId: instanceId, ...executionFields }), async (input, log) => ({
  movedTo: (await failOverElasticIp(input.clusterName, input.failedInstanceId, ports, log)) ?? null,
}));
