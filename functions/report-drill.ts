import { z } from 'zod';
import { reportDrill } from './core/drill.js';
import { executionFields, task } from './lib/task.js';

const schema = z.object({
  drill: z.object({ drillId: z.string(), clusterName: z.string(), action: z.enum(['stop', 'terminate']), target: z.object({ instanceId: z.string(), role: z.enum(['master', 'worker', 'lb']), privateIp: z.string() }) }).loose(),
  injectedAt: z.number(),
  healing: z.object({ status: z.literal('Finished'), executions: z.array(z.object({ name: z.string(), executionArn: z.string(), status: z.string(), startDate: z.number(), stopDate: z.number().optional() })), healedAt: z.number(), succeeded: z.boolean() }),
  probe: z.object({ samples: z.number(), apiOk: z.number(), appOk: z.number(), longestApiOutageSeconds: z.number(), longestAppOutageSeconds: z.number(), inClusterOk: z.number().optional(), longestInClusterOutageSeconds: z.number().optional() }).loose(),
  ...executionFields,
});

/** Last state of drill-cluster: what users would have seen, and how long healing took. */
export const handler = task('report-drill', schema, async (input) => reportDrill(input.drill as never, input.injectedAt, input.healing, input.probe));
