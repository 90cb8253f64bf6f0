// Schemas of what state machines hand to Task handlers (beyond the user's input, validated in core/config.ts).
import { z } from 'zod';
import { NODE_STATES } from '../core/cluster.js';
import { STEP_NAMES, clusterContextSchema, secretRefSchema } from '../core/commands.js';

const instanceId = z.string().regex(/^i-[0-9a-f]{8,17}$/, 'must be an EC2 instance id such as i-0abc12345def67890');
export const ipv4 = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/, 'must be an IPv4 address');
export const allocationId = z.string().regex(/^eipalloc-[0-9a-f]{8,17}$/, 'must be an Elastic IP allocation id');


export const pendingCommandSchema = z.object({
  commandId: z.string().min(1),
  step: z.enum(STEP_NAMES),
  instanceIds: z.array(instanceId).min(1),
  deadline: z.number(),
  sentAt: z.number(),
  markAs: z.enum(NODE_STATES).optional(),
  recordTags: z.record(z.string().regex(/^kubeha:upstreams$/, 'only kubeha:upstreams may be recorded'), z.string().max(256)).optional(),
  ledger: z.object({ clusterName: z.string(), key: z.string().startsWith('command#') }).optional(),
  nodes: z.literal('control-plane').optional(),
  pollAfterSeconds: z.number().int().min(1).max(3600).optional(),
  pollEverySeconds: z.number().int().min(1).max(15).optional(),
  report: z.literal(true).optional(),
  pollSlot: z.number().int().min(0).max(14).optional(),
  bootingSince: z.number().optional(),
  timedFrom: z.number().optional(),
});

export { clusterContextSchema, instanceId, secretRefSchema };
