// Failure drills: the runbook's "stop master2 and watch", automated and measured. A drill picks a
// target, refuses anything that could do real harm, probes the API and a test application while it
// breaks the target, waits for kubeha to heal it, and reports what users would have seen.
import { readClusterSettings } from './bootstrap.js';
import { type ClusterInstance, type Role, groupFleet } from './cluster.js';
import type { ClusterContext } from './commands.js';
import { DrillFailedError, DrillRefusedError } from './errors.js';
import { readLock } from './cluster-lock.js';
import { HEALING_MACHINES } from './healing-decisions.js';
import type { ClusterStatusReport, HealingEnvironment } from './healing-steps.js';
import type { ExecutionSummary, Ports } from './ports.js';

export const DRILL_ACTIONS = ['stop', 'terminate'] as const;
export type DrillAction = (typeof DRILL_ACTIONS)[number];

export interface DrillRequest {
  readonly clusterName: string;
  readonly target: Role;
  readonly instanceId?: string | undefined;
  readonly action: DrillAction;
}

export interface DrillPlan {
  readonly drillId: string;
  readonly clusterName: string;
  readonly action: DrillAction;
  readonly target: { instanceId: string; role: Role; privateIp: string };
  readonly cluster: ClusterContext;
  readonly masterIds: string[];
  readonly probeWorkerIds: string[];
  readonly startedAt: number;
}

const joined = (instance: { nodeState?: string | undefined }) => instance.nodeState === 'joined' || instance.nodeState === 'initialized';

/** Picks the target (or checks the one named) and the masters and worker the drill works through. */
export async function prepareDrill(request: DrillRequest, drillId: string, ports: Pick<Ports, 'ec2' | 'ssm' | 'state' | 'clock'>): Promise<DrillPlan> {
  const settings = await readClusterSettings(request.clusterName, ports);
  if (!settings) throw new DrillRefusedError(`cluster ${request.clusterName} has no recorded settings: bootstrap it with kubeha first`);
  if (await readLock(request.clusterName, ports)) {
    throw new DrillRefusedError(`a healing workflow holds the lock of ${request.clusterName}; drill once it has finished`);
  }
  const instances = await ports.ec2.findClusterInstances(request.clusterName);
  const running = instances.filter((instance) => instance.ec2State === 'running');
  const candidates = running.filter((instance) => instance.role === request.target && (request.target === 'lb' || joined(instance)));
  const address = await ports.ec2.findElasticIp(settings.cluster.elasticIpAllocationId);
  const target = request.instanceId
    ? candidates.find((instance) => instance.instanceId === request.instanceId)
    : // A load balancer drill means the one serving: the Elastic IP holder.
      (candidates.find((instance) => request.target === 'lb' && instance.instanceId === address?.instanceId) ?? candidates.at(-1));
  if (!target) {
    throw new DrillRefusedError(request.instanceId ? `${request.instanceId} is not a running, joined ${request.target} of ${request.clusterName}` : `${request.clusterName} has no running ${request.target} to drill`);
  }
  const fleet = groupFleet(running);
  const masterIds = fleet.masters.filter((master) => master.instanceId !== target.instanceId && joined(master)).map((master) => master.instanceId);
  const probeWorkerIds = fleet.workers.filter((worker) => worker.instanceId !== target.instanceId && joined(worker)).map((worker) => worker.instanceId);
  if (masterIds.length === 0) throw new DrillRefusedError('no other joined master would be left to watch the drill from');
  if (probeWorkerIds.length === 0) throw new DrillRefusedError('no other joined worker would be left to run the probe on');
  return {
    drillId,
    clusterName: request.clusterName,
    action: request.action,
    target: { instanceId: target.instanceId, role: request.target, privateIp: target.privateIp ?? '' },
    cluster: settings.cluster,
    masterIds: masterIds.slice(0, 1),
    probeWorkerIds: probeWorkerIds.slice(0, 1),
    startedAt: ports.clock.now(),
  };
}

/** Refuses a drill the cluster cannot take now: one that could break quorum, or leave nothing to fail over to. */
export function assessDrill(plan: DrillPlan, status: ClusterStatusReport, instances: readonly ClusterInstance[]): { safe: true } {
  const unhealthy = status.members.filter((member) => !member.healthy || member.isLearner);
  if (unhealthy.length > 0) throw new DrillRefusedError(`etcd member ${unhealthy.map((member) => member.name).join(', ')} is unhealthy: a ${plan.target.role} drill now could break quorum`);
  const notReady = status.nodes.filter((node) => !node.ready);
  if (notReady.length > 0) throw new DrillRefusedError(`node ${notReady.map((node) => node.name).join(', ')} is NotReady; drill a healthy cluster`);
  const running = instances.filter((instance) => instance.ec2State === 'running');
  if (plan.target.role === 'master' && status.members.length < 3) throw new DrillRefusedError(`a master drill needs 3 or more etcd members, the cluster has ${status.members.length}`);
  if (plan.target.role === 'lb' && running.filter((instance) => instance.role === 'lb').length < 2) throw new DrillRefusedError('a load balancer drill needs a running standby');
  return { safe: true };
}

export type HealingProgress =
  | { readonly status: 'InProgress'; readonly executions: ExecutionSummary[] }
  | { readonly status: 'Finished'; readonly executions: ExecutionSummary[]; readonly healedAt: number; readonly succeeded: boolean };

/** Finds the healing executions about the target since the drill began; Finished once none runs any more. */
export async function awaitHealing(
  input: { clusterName: string; instanceId: string; since: number; deadline: number },
  ports: Pick<Ports, 'workflows' | 'clock'>,
  environment: HealingEnvironment,
): Promise<HealingProgress> {
  const machines = [...new Set(Object.values(HEALING_MACHINES))];
  const lists = await Promise.all(machines.map((machine) => ports.workflows.listExecutions(`${environment.stateMachineArnPrefix}${machine}`)));
  const executions = lists
    .flat()
    .filter((execution) => execution.startDate >= input.since && (execution.name.startsWith(`${input.instanceId}-`) || execution.name.startsWith(`reconcile-${input.instanceId}-`)))
    .sort((a, b) => a.startDate - b.startDate);
  const running = executions.some((execution) => execution.status === 'RUNNING');
  if (executions.length === 0 || running) {
    if (ports.clock.now() > input.deadline) {
      throw new DrillFailedError(executions.length === 0 ? `no healing workflow started for ${input.instanceId}` : `healing of ${input.instanceId} did not finish in time`);
    }
    return { status: 'InProgress', executions };
  }
  return {
    status: 'Finished',
    executions,
    healedAt: Math.max(...executions.map((execution) => execution.stopDate ?? 0)),
    succeeded: executions.every((execution) => execution.status === 'SUCCEEDED'),
  };
}

export interface ProbeSummary {
  readonly samples: number;
  readonly apiOk: number;
  readonly appOk: number;
  readonly longestApiOutageSeconds: number;
  readonly longestAppOutageSeconds: number;
  /** Through the probe worker's local API proxy: what the kubelet and kube-proxy saw (absent from older probes). */
  readonly inClusterOk?: number | undefined;
  readonly longestInClusterOutageSeconds?: number | undefined;
}

export interface DrillReport {
  readonly drillId: string;
  readonly clusterName: string;
  readonly target: string;
  readonly action: DrillAction;
  readonly healed: boolean;
  readonly timeToHealSeconds: number;
  readonly api: { successRatio: number; longestOutageSeconds: number };
  readonly app: { successRatio: number; longestOutageSeconds: number };
  /** The API as in-cluster clients reach it (each worker's local proxy to the masters), apart from the Elastic IP. */
  readonly inCluster: { successRatio: number; longestOutageSeconds: number };
  readonly samples: number;
  readonly workflows: { name: string; status: string; seconds: number }[];
}

export function reportDrill(plan: DrillPlan, injectedAt: number, healing: Extract<HealingProgress, { status: 'Finished' }>, probe: ProbeSummary): DrillReport {
  const ratio = (ok: number) => (probe.samples === 0 ? 0 : Math.round((ok / probe.samples) * 10_000) / 10_000);
  return {
    drillId: plan.drillId,
    clusterName: plan.clusterName,
    target: `${plan.target.role} ${plan.target.instanceId}`,
    action: plan.action,
    healed: healing.succeeded,
    timeToHealSeconds: Math.round((healing.healedAt - injectedAt) / 1000),
    api: { successRatio: ratio(probe.apiOk), longestOutageSeconds: probe.longestApiOutageSeconds },
    app: { successRatio: ratio(probe.appOk), longestOutageSeconds: probe.longestAppOutageSeconds },
    inCluster: { successRatio: ratio(probe.inClusterOk ?? 0), longestOutageSeconds: probe.longestInClusterOutageSeconds ?? probe.samples },
    samples: probe.samples,
    workflows: healing.executions.map((execution) => ({ name: execution.name, status: execution.status, seconds: Math.round(((execution.stopDate ?? execution.startDate) - execution.startDate) / 1000) })),
  };
}
