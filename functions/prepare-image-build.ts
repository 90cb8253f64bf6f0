import { z } from 'zod';
import { env, portsWith } from './adapters/base.js';
import { ssm } from './adapters/ssm.js';
import { stateTable } from './adapters/state-table.js';
import { planImageBuild } from './core/node-image.js';
import { clusterNameSchema } from './lib/image-schemas.js';
import { task } from './lib/task.js';

const ports = portsWith({ ssm, state: stateTable });

const schema = z.object({ clusterName: clusterNameSchema, executionArn: z.string().min(1, 'must be the execution ARN ($$.Execution.Id)') });

/** First state of build-node-image: plans the build from the recorded settings and launch facts. Changes nothing. */
export const handler = task('prepare-image-build', schema, async ({ clusterName, executionArn }) =>
  planImageBuild({ clusterName, executionArn, documentDigest: (env().documentSuffix ?? '-local').replace(/^-/, '') }, ports),
);
