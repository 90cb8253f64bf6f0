import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { DRILL_ACTIONS } from './core/drill.js';
import { instanceId } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2 });

/** Stops or terminates the drill's target; EventBridge and healing take it from there, as in a real failure. */
export const handler = task('inject-failure', z.object({ instanceId, action: z.enum(DRILL_ACTIONS), ...executionFields }), async (input, log) => {
  await ports.ec2.injectFailure(input.instanceId, input.action);
  log.warn('drill injected a failure', { instanceId: input.instanceId, action: input.action });
  const injectedAt = ports.clock.now();
  return { injectedAt, healDeadline: injectedAt + 45 * 60_000 };
});
