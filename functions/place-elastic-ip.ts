import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { placeElasticIp } from './core/bootstrap.js';
import { allocationId, instanceId } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2 });

const schema = z.object({
  clusterName: z.string(),
  allocationId,
  instanceId,
  ...executionFields,
});

export const handler = task('place-elastic-ip', schema, async ({ allocationId, instanceId: target }, log) => {
  const outcome = await placeElasticIp(allocationId, target, ports);
  log.info(outcome.moved ? 'moved the Elastic IP' : 'the Elastic IP was already in place', { allocationId, instanceId: target });
  return outcome;
});
