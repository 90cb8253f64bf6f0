import { readClusterSettings } from '../../functions/core/bootstrap.js';
import type { Backend } from '../backend.js';
import { CliError, EXIT } from '../errors.js';

/** The recorded settings of a bootstrapped cluster; "not found" (exit 5) for any other name. */
export async function requireCluster(clusterName: string, backend: Backend): Promise<NonNullable<Awaited<ReturnType<typeof readClusterSettings>>>> {
  const settings = await readClusterSettings(clusterName, backend.ports);
  if (!settings) {
    const where = backend.mode === 'simulated' ? 'the simulated account' : `region ${backend.environment.region}`;
    throw new CliError(`Cluster ${clusterName} was not found in ${where}: check --cluster, or bootstrap it with \`kubeha bootstrap --cluster ${clusterName} --input FILE\`.`, EXIT.notFound);
  }
  return settings;
}
