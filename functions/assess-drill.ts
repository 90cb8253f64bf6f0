import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { assessDrill } from './core/drill.js';
import { reportFromRunSchema } from './lib/healing-schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2 });

const schema = z.object({
  drill: z.object({ clusterName: z.string(), target: z.object({ instanceId: z.string(), role: z.enum(['master', 'worker', 'lb']), privateIp: z.string() }) }).loose(),
  status: reportFromRunSchema,
  ...executionFields,
});

/** Refuses (DrillRefusedError) a drill the cluster cannot take now; a quorum-breaking one above all. */
export const handler = task('assess-drill', schema, async ({ drill, status }) => {
  const instances = await ports.ec2.findClusterInstances(drill.clusterName);
  return assessDrill(drill as never, status, instances);
});
