import { isStandby } from '../../functions/core/cluster.js';
import { readLock } from '../../functions/core/cluster-lock.js';
import { HEALING_MACHINES } from '../../functions/core/healing-decisions.js';
import { checkExternalServices } from '../../functions/core/external-services.js';
import { readClusterStatus } from '../../functions/core/reconcile.js';
import type { Backend } from '../backend.js';
import { type Output, fit, table, wrap } from '../format.js';
import { EXIT } from '../errors.js';
import { LiveRegion } from '../progress.js';
import { requireCluster } from './cluster.js';

/** What `status` reports, as --json prints it. */
async function readStatus(clusterName: string, backend: Backend) {
  const { ports } = backend;
  const settings = await requireCluster(clusterName, backend);
  const [instances, address, lock] = await Promise.all([
    ports.ec2.findClusterInstances(clusterName),
    ports.ec2.findElasticIp(settings.cluster.elasticIpAllocationId),
    readLock(clusterName, ports).then((lock) => lock && JSON.stringify(lock.value)),
  ]);
  const [report, externalServices] = await Promise.all([
    readClusterStatus(settings, instances, ports, backend.environment, { statusTimeoutSeconds: 40 }),
    checkExternalServices(settings.cluster, instances, ports, backend.environment, { timeoutSeconds: 40 }),
  ]);
  const machines = ['bootstrap-cluster', 'drill-cluster', ...new Set(Object.values(HEALING_MACHINES))];
  const ids = new Set(instances.map((instance) => instance.instanceId));
  const listed = (await Promise.all(machines.map(async (machine) => (await ports.workflows.listExecutions(`${backend.environment.stateMachineArnPrefix}${machine}`)).map((execution) => ({ machine, ...execution }))))).flat();
  // A heal is named after its instance, which a replacement may have terminated since: EC2 still
  // describes a terminated instance for a while, tags included, so its heals stay on the list.
  const gone = [...new Set(listed.map((execution) => /^(i-[0-9a-f]{8,17})-/.exec(execution.name)?.[1]).filter((id): id is string => Boolean(id) && !ids.has(id!)))].slice(0, 10);
  for (const instance of await Promise.all(gone.map((id) => ports.ec2.describeInstance(id).catch(() => undefined)))) {
    if (instance?.tags?.[`kubernetes.io/cluster/${clusterName}`] === 'owned') ids.add(instance.instanceId);
  }
  const executions = listed
    .filter((execution) => execution.name.startsWith(clusterName) || [...ids].some((id) => execution.name.startsWith(`${id}-`)))
    .sort((a, b) => b.startDate - a.startDate)
    .slice(0, 10);
  const members = instances.map((instance) => {
    const node = report?.nodes.find((candidate) => candidate.internalIp === instance.privateIp);
    const member = report?.members.find((candidate) => candidate.peerIp === instance.privateIp);
    // A warm standby is no node: it is shown as one, with nothing to report about a Node or an etcd member.
    const standby = isStandby(instance);
    return {
      role: instance.role ?? (standby ? 'standby' : '?'),
      instanceId: instance.instanceId,
      state: instance.ec2State,
      privateIp: instance.privateIp ?? '',
      zone: instance.availabilityZone ?? '',
      nodeReady: instance.role === 'lb' || standby ? '-' : node ? (node.ready ? 'Ready' : 'NotReady') : report ? 'absent' : 'unknown',
      etcd: instance.role !== 'master' ? '-' : member ? (member.healthy ? 'healthy' : 'unhealthy') : report ? 'absent' : 'unknown',
      elasticIp: instance.instanceId === address?.instanceId ? address.publicIp : '',
    };
  });
  const lockHolder = lock ? (JSON.parse(lock) as { executionArn: string }).executionArn : undefined;
  return {
    cluster: clusterName,
    endpoint: settings.cluster.endpoint,
    kubernetesVersion: settings.cluster.kubernetesVersion,
    members,
    elasticIp: address?.publicIp,
    elasticIpHolder: address?.instanceId,
    lockHolder,
    answered: Boolean(report),
    ...(externalServices ? { externalServices } : {}),
    executions,
  };
}

function statusText(status: Awaited<ReturnType<typeof readStatus>>, width: number): string {
  const time = (at: number) => `${new Date(at).toISOString().slice(0, 16)}Z`;
  return [
    `Cluster ${status.cluster}: https://${status.endpoint}, Kubernetes ${status.kubernetesVersion}`,
    '',
    table(
      ['role', 'instance', 'state', 'private IP', 'zone', 'node', 'etcd'],
      status.members.map((member) => [member.role, member.instanceId, member.state, member.privateIp, member.zone, member.nodeReady, member.etcd]),
      { width, optional: ['zone'] },
    ),
    '',
    `Elastic IP ${status.elasticIp ?? '?'} is on ${status.elasticIpHolder ?? 'nothing'}.`,
    `Healing lock: ${status.lockHolder ? fit(status.lockHolder, width - 14) : 'free'}.`,
    ...(status.answered ? [] : ['The cluster did not answer a status check in time: node and etcd are unknown.']),
    ...externalText(status.externalServices, width),
    '',
    'Recent executions:',
    status.executions.length
      ? table(['workflow', 'name', 'status', 'started (UTC)'], status.executions.map((execution) => [execution.machine, execution.name, execution.status, time(execution.startDate)]), { width, optional: ['started (UTC)', 'workflow'] })
      : '  none',
  ].join('\n');
}

function externalText(report: Awaited<ReturnType<typeof checkExternalServices>>, width: number): string[] {
  if (!report) return [];
  if ('unknown' in report) return ['', `External services: not checked, ${report.unknown}.`];
  return [
    '',
    `External services, from worker ${report.checkedFrom}:`,
    table(
      ['name', 'kind', 'answers', 'endpoint'],
      report.endpoints.map((endpoint) => [endpoint.name, endpoint.kind, endpoint.reachable ? 'yes' : 'NO', `${endpoint.host}:${endpoint.port}`]),
      { width, optional: ['endpoint'] },
    ),
    ...report.endpoints.filter((endpoint) => !endpoint.reachable).map((endpoint) => wrap(`${endpoint.name} ${endpoint.host}:${endpoint.port}: ${endpoint.reason ?? 'unreachable'}`, width, 2)),
  ];
}

/**
 * `kubeha status`, once or (--watch) every `intervalSeconds` until Ctrl-C. Each look opens the account
 * afresh, so a simulated account is free for other commands between looks.
 */
export async function status(options: { clusterName: string; watch: boolean; intervalSeconds: number; stopped: () => boolean }, open: () => Promise<Backend>, out: Output): Promise<number> {
  const live = options.watch && out.isTTY && out.terminal ? new LiveRegion(out, out.terminal) : undefined;
  for (let look = 0; ; look += 1) {
    const backend = await open();
    let current;
    try {
      current = await readStatus(options.clusterName, backend);
    } finally {
      await backend.close();
    }
    if (out.json) out.write(options.watch ? `${JSON.stringify(current)}\n` : `${JSON.stringify(current, null, 2)}\n`);
    else if (live) live.draw(`${statusText(current, out.terminal!.columns() - 1)}\n\nEvery ${options.intervalSeconds} s; Ctrl-C to stop. Last look ${new Date().toISOString().slice(11, 19)} UTC.`.split('\n'));
    else out.write(`${look > 0 ? '\n' : ''}${statusText(current, out.columns)}\n`);
    if (!options.watch || options.stopped()) return EXIT.ok;
    await new Promise((resolve) => setTimeout(resolve, options.intervalSeconds * 1000));
  }
}
