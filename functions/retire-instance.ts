import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { retireSickInstance } from './core/healing-steps.js';
import { instanceId } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2 });

/** Escalation: terminates a node that stayed unhealthy after a re-join, so it is replaced like a dead one. */
export const handler = task('retire-instance', z.object({ instanceId, ...executionFields }), async (input, log) => {
  const outcome = await retireSickInstance(input.instanceId, ports);
  log.warn('retired a node that stayed unhealthy after a re-join', { instanceId: input.instanceId, ...outcome });
  return outcome;
});
