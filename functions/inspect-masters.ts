import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { ssm } from './adapters/ssm.js';
import { clusterNameSchema } from './core/config.js';
import { MAX_RENEWAL_DAYS } from './core/certificates.js';
import { inspectForRenewal, inspectForRotation } from './core/rotation.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2, ssm });

const schema = z.object({
  clusterName: clusterNameSchema,
  purpose: z.enum(['rotate-encryption-key', 'renew-certificates']).optional(),
  /** renew-certificates: the window the caller gave, in days (else the cluster's healing.certificateRenewalDays). */
  window: z
    .strictObject({
      renewWithinDays: z.number('must be a number of days').int('must be a whole number').min(1, 'must be at least 1').max(MAX_RENEWAL_DAYS, `must be at most ${MAX_RENEWAL_DAYS}: a renewed certificate lasts 365 days and must leave the window`).optional(),
    })
    .optional(),
  ...executionFields,
});

/** The recorded cluster context and every master, for a workflow that visits each master in turn. */
export const handler = task('inspect-masters', schema, async ({ clusterName, purpose, window }) =>
  purpose === 'renew-certificates' ? inspectForRenewal(clusterName, ports, window?.renewWithinDays) : inspectForRotation(clusterName, ports),
);
