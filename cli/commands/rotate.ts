import { awaitStep, sendStep, storeFreshJoinMaterial } from '../../functions/core/bootstrap.js';
import { joinSecretName } from '../../functions/core/join-material.js';
import { createLogger } from '../../functions/core/log.js';
import type { Backend } from '../backend.js';
import { type Asker, type ChangeOptions, confirmChange } from '../confirm.js';
import { CliError, EXIT } from '../errors.js';
import { type Output, wrap } from '../format.js';
import { requireCluster } from './cluster.js';

/** Fresh join material now: a new token and certificate key, registered and uploaded on a joined master. */
export async function rotate(options: { clusterName: string } & ChangeOptions, backend: Backend, out: Output, asker: Asker): Promise<number> {
  const { ports } = backend;
  const settings = await requireCluster(options.clusterName, backend);
  const masters = (await ports.ec2.findClusterInstances(options.clusterName)).filter((instance) => instance.role === 'master' && instance.ec2State === 'running' && (instance.nodeState === 'joined' || instance.nodeState === 'initialized'));
  const online = await ports.ssm.onlineInstanceIds(masters.map((master) => master.instanceId));
  const master = masters.find((candidate) => online.has(candidate.instanceId));
  if (!master) throw new CliError('No joined master is running with an online SSM agent to register the new material on.', EXIT.failed);
  const plan = [
    `Mint a new bootstrap token and certificate key and store them as a new version of ${joinSecretName(options.clusterName)}`,
    `Register the token (valid 30 minutes) and re-upload the control-plane certificates on master ${master.instanceId}`,
  ];
  if (!(await confirmChange({ verb: `Rotation of the join material of ${options.clusterName}`, plan, cluster: options.clusterName }, options, out, asker))) return EXIT.ok;
  const joinMaterial = await storeFreshJoinMaterial(options.clusterName, ports);
  const command = await sendStep({ step: 'refresh-join-material', instanceIds: [master.instanceId], cluster: settings.cluster, joinMaterial }, ports, backend.environment);
  const log = createLogger({ cluster: options.clusterName });
  do await ports.clock.sleep(2000);
  while ((await awaitStep(command, ports, log)).status !== 'Success');
  if (out.json) out.write(`${JSON.stringify({ cluster: options.clusterName, secretVersionId: joinMaterial.versionId, registeredOn: master.instanceId, tokenValidMinutes: 30 }, null, 2)}\n`);
  else out.write(`${wrap(`Fresh join material is stored as secret version ${joinMaterial.versionId}. Its token is registered for 30 minutes and the certificates were re-uploaded on ${master.instanceId}.`, out.columns)}\n`);
  return EXIT.ok;
}
