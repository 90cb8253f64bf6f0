// Schemas of what the healing state machines hand to their Tasks.
import { z } from 'zod';
import { clusterNameSchema } from '../core/config.js';
import { instanceId, ipv4 } from './schemas.js';

export { clusterNameSchema, instanceId, ipv4 };

export const clusterStatusReportSchema = z.object({
  members: z.array(z.object({ id: z.string(), name: z.string(), peerIp: z.string(), healthy: z.boolean(), isLearner: z.boolean().optional() })),
  nodes: z.array(z.object({ name: z.string(), internalIp: z.string(), ready: z.boolean(), controlPlane: z.boolean() })),
  /** The reporting master's own certificates (cluster-status.sh); null when kubeadm could not tell. */
  certificates: z
    .object({
      leaf: z.object({ name: z.string(), expiresAt: z.string() }).nullable(),
      ca: z.object({ name: z.string(), expiresAt: z.string() }).nullable(),
      /** A static pod still runs from before the last renewal (lib/static-pods.sh); null when crictl could not tell. */
      restartPending: z.boolean().nullable().optional(),
    })
    .nullable()
    .optional(),
});

/** The cluster-status command's result, as the poll loop leaves it at `$.pending.progress.results[0]`. */
export const reportFromRunSchema = clusterStatusReportSchema.loose();
