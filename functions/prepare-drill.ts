import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { ssm } from './adapters/ssm.js';
import { stateTable } from './adapters/state-table.js';
import { ROLES } from './core/cluster.js';
import { DRILL_ACTIONS, prepareDrill } from './core/drill.js';
import { clusterNameSchema, instanceId } from './lib/healing-schemas.js';
import { task } from './lib/task.js';

const ports = portsWith({ ec2, ssm, state: stateTable });

/** The drill's execution input, as a user or `kubeha drill` starts it. */
export const drillInputSchema = z.strictObject({
  clusterName: clusterNameSchema,
  target: z.enum(ROLES, 'must be master, worker or lb'),
  instanceId: instanceId.optional(),
  action: z.enum(DRILL_ACTIONS, 'must be stop or terminate'),
});

const schema = z.object({ request: drillInputSchema, executionName: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/) });

/** First state of drill-cluster: which instance breaks, and which master and worker watch. */
export const handler = task('prepare-drill', schema, async ({ executionName, request }) =>
  prepareDrill(request, executionName.replace(/_/g, '-').slice(0, 64), ports),
);
