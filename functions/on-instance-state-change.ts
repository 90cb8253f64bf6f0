import { z } from 'zod';
import { healingEnv, ports } from './adapters/index.js';
import { handleInstanceEvent } from './core/heal.js';
import { instanceId } from './lib/schemas.js';
import { task } from './lib/task.js';

const eventSchema = z.object({
  id: z.string().min(1),
  time: z.string(),
  'detail-type': z.literal('EC2 Instance State-change Notification'),
  detail: z.object({ 'instance-id': instanceId, state: z.string() }),
});

/** EventBridge target: moves the Elastic IP off a failing load balancer at once, then starts the healing workflow. */
export const handler = task('on-instance-state-change', eventSchema, async (event, log) =>
  handleInstanceEvent({ id: event.id, time: event.time, instanceId: event.detail['instance-id'], state: event.detail.state }, ports, healingEnv(), log),
);
