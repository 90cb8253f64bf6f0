import { z } from 'zod';
import { healingEnv, portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { notifier } from './adapters/notifier.js';
import { ssm } from './adapters/ssm.js';
import { stateTable } from './adapters/state-table.js';
import { workflows } from './adapters/workflows.js';
import { handleInstanceEvent } from './core/healing-steps.js';
import { instanceId } from './lib/schemas.js';
import { task } from './lib/task.js';

const ports = portsWith({ ec2, ssm, state: stateTable, workflows, notifier });

const EC2_STATE_CHANGE = { source: 'aws.ec2', detailType: 'EC2 Instance State-change Notification' } as const;

// Loose on purpose: an event of another kind is ignored, not failed (a failure would be retried by
// Lambda and end in the dead-letter queue).
const eventSchema = z.object({
  id: z.string().min(1),
  time: z.string(),
  source: z.string(),
  'detail-type': z.string(),
  detail: z.object({ 'instance-id': instanceId.optional(), state: z.string().optional() }).loose().optional(),
});

/** EventBridge target: records new instances; moves the Elastic IP off a failing load balancer at once, then starts healing. */
export const handler = task('on-instance-state-change', eventSchema, async (event, log) => {
  const instance = event.detail?.['instance-id'];
  const state = event.detail?.state;
  if (event.source !== EC2_STATE_CHANGE.source || event['detail-type'] !== EC2_STATE_CHANGE.detailType || !instance || !state) {
    log.info('ignored event', { source: event.source, detailType: event['detail-type'], reason: 'not an EC2 instance state change' });
    return { action: 'ignored' as const, reason: 'not an EC2 instance state change' };
  }
  return handleInstanceEvent({ id: event.id, time: event.time, instanceId: instance, state }, ports, healingEnv(), log);
});
