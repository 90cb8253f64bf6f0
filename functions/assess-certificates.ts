import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { MAX_RENEWAL_DAYS, assessAfterRenewal, assessBeforeRenewal } from './core/certificates.js';
import { ipv4, reportFromRunSchema } from './lib/healing-schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({});

const schema = z.object({
  /** ClusterStatus as this master reported it: the cluster's members and Nodes, and its own certificates. */
  status: reportFromRunSchema,
  ip: ipv4,
  renewWithinDays: z.number().int().min(1).max(MAX_RENEWAL_DAYS),
  phase: z.enum(['before', 'after']),
  timeoutMinutes: z.number().positive().optional(),
  waitingSince: z.number().nonnegative().optional(),
  ...executionFields,
});

/**
 * renew-certificates' decisions about one master. Pure: it calls nothing. before: renew (quorum guard
 * passed) or skip (renewed already). after: healthy with new certificates, or not yet; NodeNotReadyError
 * once the timeout since the first look has passed, CertificateRenewalError when the renewal did not take.
 */
export const handler = task('assess-certificates', schema, async (input, log) => {
  const now = ports.clock.now();
  const { status } = input;
  if (input.phase === 'before') {
    const verdict = assessBeforeRenewal(status, input.ip, input.renewWithinDays, now);
    log.info(verdict.renew ? 'renewing certificates' : 'certificates renewed already', { ip: input.ip, expiresAt: verdict.expiresAt });
    return verdict;
  }
  const waitingSince = input.waitingSince || now;
  return { ...assessAfterRenewal(status, input.ip, input.renewWithinDays, waitingSince + (input.timeoutMinutes ?? 10) * 60_000, now), waitingSince };
});
