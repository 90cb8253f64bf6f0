import { awaitStep, sendStep, storeFreshJoinMaterial } from '../../functions/core/bootstrap.js';
import { joinSecretName } from '../../functions/core/join-material.js';
import { createLogger } from '../../functions/core/log.js';
import type { Backend } from '../backend.js';
import { type Asker, type ChangeOptions, confirmChange } from '../confirm.js';
import { CliError, EXIT } from '../errors.js';
import { type Output, wrap } from '../format.js';
import { requireCluster } from './cluster.js';

/**
 * Fresh join material of both kinds now: a control-plane token and certificate key, and a worker token,
 * each into its own secret, registered (and the certificates uploaded) on a joined master.
 */
export async function rotate(options: { clusterName: string } & ChangeOptions, backend: Backend, out: Output, asker: Asker): Promise<number> {
  const { ports } = backend;
  const settings = await requireCluster(options.clusterName, backend);
  const masters = (await ports.ec2.findClusterInstances(options.clusterName)).filter((instance) => instance.role === 'master' && instance.ec2State === 'running' && (instance.nodeState === 'joined' || instance.nodeState === 'initialized'));
  const online = await ports.ssm.onlineInstanceIds(masters.map((master) => master.instanceId));
  const master = masters.find((candidate) => online.has(candidate.instanceId));
  if (!master) throw new CliError('No joined master is running with an online SSM agent to register the new material on.', EXIT.failed);
  const plan = [
    `Mint a new bootstrap token and certificate key and store them as a new version of ${joinSecretName(options.clusterName, 'control-plane')}, and a new worker token in ${joinSecretName(options.clusterName, 'worker')}`,
    `Register both tokens (valid 30 minutes) and re-upload the control-plane certificates on master ${master.instanceId}`,
  ];
  if (!(await confirmChange({ verb: `Rotation of the join material of ${options.clusterName}`, plan, cluster: options.clusterName }, options, out, asker))) return EXIT.ok;
  const log = createLogger({ cluster: options.clusterName });
  const versions: Record<string, string> = {};
  for (const kind of ['control-plane', 'worker'] as const) {
    const joinMaterial = await storeFreshJoinMaterial(options.clusterName, kind, ports);
    versions[kind] = joinMaterial.versionId;
    const command = await sendStep({ step: 'refresh-join-material', instanceIds: [master.instanceId], cluster: settings.cluster, joinMaterial }, ports, backend.environment);
    do await ports.clock.sleep(2000);
    while ((await awaitStep(command, ports, log)).status !== 'Success');
  }
  if (out.json) out.write(`${JSON.stringify({ cluster: options.clusterName, secretVersionId: versions['control-plane'], workerSecretVersionId: versions.worker, registeredOn: master.instanceId, tokenValidMinutes: 30 }, null, 2)}\n`);
  else out.write(`${wrap(`Fresh join material is stored as secret version ${versions['control-plane']} (control plane) and ${versions.worker} (workers). Both tokens are registered for 30 minutes and the certificates were re-uploaded on ${master.instanceId}.`, out.columns)}\n`);
  return EXIT.ok;
}
