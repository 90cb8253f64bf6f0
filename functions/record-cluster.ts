import { z } from 'zod';
import { env, portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { ssm } from './adapters/ssm.js';
import { stateTable } from './adapters/state-table.js';
import { recordClusterSettings } from './core/bootstrap.js';
import { bootstrapInputSchema } from './core/config.js';
import { checkExternalServices, externalFindings } from './core/external-services.js';
import { summarizeBootstrap } from './core/summary.js';
import { clusterContextSchema } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2, ssm, state: stateTable });

const schema = z.object({
  config: bootstrapInputSchema,
  cluster: clusterContextSchema,
  plan: z.object({ firstMaster: z.object({ instanceId: z.string() }).loose(), skipped: z.object({ prerequisites: z.number(), masters: z.number(), workers: z.number() }) }).loose(),
  caCertHash: z.string(),
  joinSecretArn: z.string(),
  phases: z.record(z.string(), z.unknown()),
  verification: z.object({ instanceId: z.string() }).loose().optional(),
  startedAt: z.string().describe('$$.Execution.StartTime'),
  ...executionFields,
});

/** Last state: records the settings healing needs, returns the summary the user reads. */
export const handler = task('record-cluster', schema, async (input, log) => {
  await recordClusterSettings(
    { cluster: input.cluster, caCertHash: input.caCertHash, firstMasterId: input.plan.firstMaster.instanceId, joinSecretArn: input.joinSecretArn, config: input.config },
    ports,
  );
  // Verify, last part: can a worker reach the applications' services? Findings, never a failed bootstrap.
  const externalServices = input.cluster.externalServices?.length
    ? await checkExternalServices(input.cluster, await ports.ec2.findClusterInstances(input.cluster.clusterName), ports, env(), { timeoutSeconds: 15 })
    : undefined;
  for (const finding of externalFindings(externalServices)) log.warn('external service finding', { finding });
  const summary = summarizeBootstrap({
    cluster: input.cluster,
    plan: input.plan as never,
    phases: input.phases,
    verification: input.verification,
    startedAt: Date.parse(input.startedAt),
    now: ports.clock.now(),
  });
  if (externalServices) Object.assign(summary, { externalServices });
  log.info('cluster bootstrapped', { endpoint: summary.endpoint, totalSeconds: summary.timings.totalSeconds });
  return summary;
});
