import { z } from 'zod';
import { env, healingEnv, portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { notifier } from './adapters/notifier.js';
import { ssm } from './adapters/ssm.js';
import { stateTable } from './adapters/state-table.js';
import { workflows } from './adapters/workflows.js';
import { type ReconcileReport, reconcileCluster } from './core/reconcile.js';
import { task } from './lib/task.js';

const ports = portsWith({ ec2, ssm, state: stateTable, workflows, notifier });

const graceMinutes = Number(process.env.KUBEHA_RECONCILE_GRACE_MINUTES ?? '10');
/** Clusters looked at side by side: each mostly waits on its ClusterStatus command (≤ 40 s of the 120 s timeout). */
const CLUSTERS_AT_ONCE = 8;

/** Scheduled: looks at every cluster this stack serves, several at a time, and fixes drift. */
export const handler = task('reconcile', z.object({}).loose(), async (_event, log) => {
  const queue = [...healingEnv().clusters];
  const reports: ReconcileReport[] = [];
  const worker = async () => {
    for (let clusterName = queue.shift(); clusterName !== undefined; clusterName = queue.shift()) {
      const cluster = log.child({ cluster: clusterName });
      try {
        const report = await reconcileCluster(clusterName, ports, { ...healingEnv(), ...env() }, { graceMinutes, statusTimeoutSeconds: 40 }, cluster);
        if (report) reports.push(report);
      } catch (error: unknown) {
        // One cluster's trouble must not keep the others from being looked at.
        cluster.error('reconcile failed', { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CLUSTERS_AT_ONCE, queue.length) }, worker));
  return { clusters: reports };
});
