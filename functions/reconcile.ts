import { z } from 'zod';
import { env, healingEnv, ports } from './adapters/index.js';
import { reconcileCluster } from './core/reconcile.js';
import { task } from './lib/task.js';

const graceMinutes = Number(process.env.KUBEHA_RECONCILE_GRACE_MINUTES ?? '10');

/** Scheduled: looks at every cluster this stack serves, one after the other, and fixes drift. */
export const handler = task('reconcile', z.object({}).loose(), async (_event, log) => {
  const reports = [];
  for (const clusterName of healingEnv().clusters) {
    const cluster = log.child({ cluster: clusterName });
    try {
      reports.push(await reconcileCluster(clusterName, ports, { ...healingEnv(), ...env() }, { graceMinutes, statusTimeoutSeconds: 40 }, cluster));
    } catch (error: unknown) {
      // One cluster's trouble must not keep the others from being looked at.
      cluster.error('reconcile failed', { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    }
  }
  return { clusters: reports.filter((report) => report !== undefined) };
});
