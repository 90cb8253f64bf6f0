import { z } from 'zod';
import { env, portsWith } from './adapters/base.js';
import { ssm } from './adapters/ssm.js';
import { stateTable } from './adapters/state-table.js';
import { sendStep } from './core/bootstrap.js';
import { MAX_RENEWAL_DAYS } from './core/certificates.js';
import { ROLES } from './core/cluster.js';
import { STEPS_THAT_REPORT, STEP_NAMES } from './core/commands.js';
import { documentParameter } from './core/parameter-patterns.js';
import { clusterContextSchema, instanceId, ipv4, secretRefSchema } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ssm, state: stateTable });

const schema = z.object({
  step: z.enum(STEP_NAMES),
  instanceIds: z.array(instanceId).min(1, 'must name at least one instance').max(50, 'SendCommand takes at most 50 instances'),
  cluster: clusterContextSchema,
  role: z.enum(ROLES).optional(),
  joinMaterial: secretRefSchema.optional(),
  caCertHash: z.string().regex(/^sha256:[a-f0-9]{64}$/, 'must be sha256:<64 hex digits>').optional(),
  memberPeerIp: ipv4.optional(),
  snapshotLabel: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be letters, digits, - or _').optional(),
  drillId: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be letters, digits or hyphens').optional(),
  encryptionKeysVersionId: documentParameter('EncryptionSecretVersionId').optional(),
  renewWithinDays: z.number().int('must be a whole number').min(1, 'must be at least 1').max(MAX_RENEWAL_DAYS, `must be at most ${MAX_RENEWAL_DAYS}`).optional(),
  nodes: z.literal('control-plane', 'must be control-plane').optional(),
  preparedImage: z.boolean().optional(),
  initializedBefore: z.boolean().optional(),
  pollEverySeconds: z.number().int().min(1).max(15).optional(),
  pollSlot: z.number().int('must be a whole second').min(0, 'must be 0-14').max(14, 'must be 0-14').optional(),
  tokenTtlMinutes: z.number().int('must be a whole number').min(5, 'must be at least 5').max(1440, 'must be at most 1440 (24 h)').optional(),
  report: z.boolean().optional(),
  /** When a node that may still be booting was started; null for one that is not booting (a re-joined master). */
  bootingSince: z.number().int('must be a time in milliseconds').positive('must be a time in milliseconds').nullable().optional(),
  ...executionFields,
}).refine((input) => !input.report || STEPS_THAT_REPORT.has(input.step), { path: ['report'], message: `only ${[...STEPS_THAT_REPORT].join(' and ')} report their node` });

/** Sends one step's SSM document to its instances and returns what the poll loop needs. */
export const handler = task('send-command', schema, async (input, log) => {
  const command = await sendStep({ ...input, bootingSince: input.bootingSince ?? undefined }, ports, env(), input.executionArn);
  log.info('sent command', { step: command.step, commandId: command.commandId, instanceIds: command.instanceIds });
  return command;
});
