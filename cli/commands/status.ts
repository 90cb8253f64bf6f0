import { readClusterSettings } from '../../functions/core/bootstrap.js';
import { readLock } from '../../functions/core/cluster-lock.js';
import { HEALING_MACHINES } from '../../functions/core/healing-decisions.js';
import { readClusterStatus } from '../../functions/core/reconcile.js';
import { type Backend, CliError, EXIT } from '../backend.js';
import { type Output, table } from '../format.js';

export async function status(options: { clusterName: string }, backend: Backend, out: Output): Promise<number> {
  await backend.ensureBootstrapped(options.clusterName);
  const { ports } = backend;
  const settings = await readClusterSettings(options.clusterName, ports);
  if (!settings) throw new CliError(`Cluster ${options.clusterName} has no recorded settings: bootstrap it with \`kubeha bootstrap\` first.`, EXIT.notFound);
  const [instances, address, lock] = await Promise.all([
    ports.ec2.findClusterInstances(options.clusterName),
    ports.ec2.findElasticIp(settings.cluster.elasticIpAllocationId),
    readLock(options.clusterName, ports).then((lock) => lock && JSON.stringify(lock.value)),
  ]);
  const report = await readClusterStatus(settings, instances, ports, backend.environment, { statusTimeoutSeconds: 40 });
  const machines = ['bootstrap-cluster', 'drill-cluster', ...new Set(Object.values(HEALING_MACHINES))];
  const ids = new Set(instances.map((instance) => instance.instanceId));
  const executions = (await Promise.all(machines.map(async (machine) => (await ports.workflows.listExecutions(`${backend.environment.stateMachineArnPrefix}${machine}`)).map((execution) => ({ machine, ...execution })))))
    .flat()
    .filter((execution) => execution.name.startsWith(options.clusterName) || [...ids].some((id) => execution.name.includes(id)))
    .sort((a, b) => b.startDate - a.startDate)
    .slice(0, 10);

  const members = instances.map((instance) => {
    const node = report?.nodes.find((candidate) => candidate.internalIp === instance.privateIp);
    const member = report?.members.find((candidate) => candidate.peerIp === instance.privateIp);
    return {
      role: instance.role ?? '?',
      instanceId: instance.instanceId,
      state: instance.ec2State,
      privateIp: instance.privateIp ?? '',
      zone: instance.availabilityZone ?? '',
      nodeReady: instance.role === 'lb' ? '-' : node ? (node.ready ? 'Ready' : 'NotReady') : report ? 'absent' : 'unknown',
      etcd: instance.role !== 'master' ? '-' : member ? (member.healthy ? 'healthy' : 'unhealthy') : report ? 'absent' : 'unknown',
      elasticIp: instance.instanceId === address?.instanceId ? address.publicIp : '',
    };
  });
  const lockHolder = lock ? (JSON.parse(lock) as { executionArn: string }).executionArn : undefined;
  if (out.json) {
    out.write(`${JSON.stringify({ cluster: options.clusterName, endpoint: settings.cluster.endpoint, members, elasticIpHolder: address?.instanceId, lockHolder, executions }, null, 2)}\n`);
    return EXIT.ok;
  }
  out.write(`Cluster ${options.clusterName}: endpoint https://${settings.cluster.endpoint}, Kubernetes ${settings.cluster.kubernetesVersion}\n\n`);
  out.write(`${table(['role', 'instance', 'state', 'private IP', 'zone', 'node', 'etcd', 'elastic IP'], members.map((member) => Object.values(member)))}\n\n`);
  out.write(`Elastic IP ${address?.publicIp ?? '?'} is on ${address?.instanceId ?? 'nothing'}. Healing lock: ${lockHolder ?? 'free'}.\n`);
  if (!report) out.write('The cluster did not answer a status check in time: node and etcd columns are unknown.\n');
  out.write(`\nRecent executions:\n${executions.length ? table(['workflow', 'name', 'status', 'started'], executions.map((execution) => [execution.machine, execution.name, execution.status, new Date(execution.startDate).toISOString()])) : '  none'}\n`);
  return EXIT.ok;
}
