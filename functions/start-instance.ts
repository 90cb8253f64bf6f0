import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { bootWait } from './core/command-timing.js';
import { startStoppedInstance } from './core/healing-steps.js';
import { instanceId } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2 });

export const handler = task('start-instance', z.object({ instanceId, ...executionFields }), async (input, log) => {
  const outcome = await startStoppedInstance(input.instanceId, ports);
  log.info('started the instance', { instanceId: input.instanceId, wasIn: outcome.ec2State });
  // A stopped instance boots from now; one already pending or running is looked at again at once.
  return { ...outcome, ...bootWait('start', ports.clock.now(), outcome.ec2State !== 'stopped') };
});
