import { awaitStep, readClusterSettings, sendStep, storeFreshJoinMaterial } from '../../functions/core/bootstrap.js';
import { createLogger } from '../../functions/core/log.js';
import { type Backend, CliError, EXIT } from '../backend.js';
import type { Output } from '../format.js';

/** Fresh join material now: a new token and certificate key, registered and uploaded on a joined master. */
export async function rotate(options: { clusterName: string }, backend: Backend, out: Output): Promise<number> {
  await backend.ensureBootstrapped(options.clusterName);
  const { ports } = backend;
  const settings = await readClusterSettings(options.clusterName, ports);
  if (!settings) throw new CliError(`Cluster ${options.clusterName} has no recorded settings: bootstrap it first.`, EXIT.notFound);
  const masters = (await ports.ec2.findClusterInstances(options.clusterName)).filter((instance) => instance.role === 'master' && instance.ec2State === 'running' && (instance.nodeState === 'joined' || instance.nodeState === 'initialized'));
  const online = await ports.ssm.onlineInstanceIds(masters.map((master) => master.instanceId));
  const master = masters.find((candidate) => online.has(candidate.instanceId));
  if (!master) throw new CliError('No joined master is running with an online SSM agent to register the new material on.', EXIT.failed);
  const joinMaterial = await storeFreshJoinMaterial(options.clusterName, ports);
  const command = await sendStep({ step: 'refresh-join-material', instanceIds: [master.instanceId], cluster: settings.cluster, joinMaterial }, ports, backend.environment);
  const log = createLogger({ cluster: options.clusterName });
  do await ports.clock.sleep(2000);
  while ((await awaitStep(command, ports, log)).status !== 'Success');
  out.write(`Fresh join material is stored (secret version ${joinMaterial.versionId}); its token is registered for 30 minutes and the certificates were re-uploaded on ${master.instanceId}.\n`);
  return EXIT.ok;
}
