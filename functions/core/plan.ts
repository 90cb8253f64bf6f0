// Turns a preflighted fleet into the bootstrap plan: who is initialized first, who still has to
// join, in which batches. Nodes already recorded as done are left out, which is what makes a
// re-run after a failure resume instead of start over.
import { BATCH_POLL_SECONDS, POLLS_PER_SECOND, SLOW_POLL_SECONDS, fastPollsAtMost } from './command-timing.js';
import { type ClusterInstance, type Fleet, type Member, type Role, allMembers, chunk, isKubernetesNodeDone } from './cluster.js';
import type { ClusterConfig } from './config.js';
import { ClusterStateError } from './errors.js';
import { STANDBY_ROLES, type StandbyRole, masterZones, standbyLayout, standbyVerdict, standbysOf } from './standbys.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly address: string;
}

export interface BootstrapPlan {
  readonly endpoint: Endpoint;
  readonly certSans: string[];
  readonly firstMaster: Member;
  /** kubeha recorded the first master as initialized (its node-state tag): its init script must never reset it. */
  readonly firstMasterInitialized: boolean;
  readonly mastersToJoin: Member[];
  readonly workerBatches: string[][];
  /** How long the workers' bootstrap token must live: every batch joins under it (kubeadm allows up to 24 h). */
  readonly workerTokenTtlMinutes: number;
  /**
   * The first master's and the load balancers' batches first (they lead to kubeadm init), each sent sendAfterSeconds after the
   * start and polled every pollEverySeconds while it is likely to finish.
   */
  readonly prerequisiteBatches: { role: Role; instanceIds: string[]; leadsToInit: boolean; sendAfterSeconds: number; pollEverySeconds: number }[];
  readonly loadBalancerIds: string[];
  readonly skipped: { prerequisites: number; masters: number; workers: number };
}

/** The stable address clients use for the API server: the DNS name if given, else the Elastic IP. */
export function controlPlaneEndpoint(config: ClusterConfig, elasticIpAddress: string): Endpoint {
  const host = config.controlPlaneDnsName ?? elasticIpAddress;
  return { host, port: config.loadBalancerPort, address: `${host}:${config.loadBalancerPort}` };
}

/**
 * How many prerequisite batches are sent in one second. Every batch's Map iteration starts at once; 20 batches
 * of a 1,000-worker fleet sent in the same second would exceed the SSM request rate kubeha budgets for
 * (10 a second, bench/rate-limits.ts RATE_LIMITS: SSM publishes no per-API default, so the floor is assumed).
 * Eight leaves room for the other sends of that second; the last worker batch waits ⌊N/50/8⌋ s, off the
 * critical path, which runs through the masters' and load balancers' batches, sent first.
 */
export const SEND_COMMANDS_PER_SECOND = 8;

/**
 * How many prerequisite batches' polls (ListCommandInvocations) kubeha lets land in one second
 * (command-timing.ts): every batch installs at once and polls while it is likely to finish, so 20 batches
 * polled every 2 s would ask 10 a second, the whole assumed SSM rate. Beyond 10 batches each polls less
 * often (every ⌈batches/5⌉ s), which delays only when a worker's install is seen done, long before the
 * workers' joins may start.
 */
export { POLLS_PER_SECOND };

export function planBootstrap(config: ClusterConfig, fleet: Fleet, elasticIpAddress: string): BootstrapPlan {
  const initialized = fleet.masters.find((master) => master.nodeState === 'initialized');
  const firstMaster = initialized ?? fleet.masters[0];
  if (!firstMaster) throw new ClusterStateError('the fleet has no master to initialize');

  const pendingMasters = fleet.masters.filter((master) => master !== firstMaster && !isKubernetesNodeDone(master));
  const pendingWorkers = fleet.workers.filter((worker) => !isKubernetesNodeDone(worker));
  const unprepared = (members: Member[]) => members.filter((member) => member.nodeState === undefined).map((member) => member.instanceId);

  // kubeadm init needs the first master's and the load balancers' installs only: the other masters install
  // beside the workers, in a batch of their own, so the slowest of them never holds init back.
  const leading: { role: Role; members: Member[]; leadsToInit: boolean }[] = [
    { role: 'master', members: [firstMaster], leadsToInit: true },
    { role: 'lb', members: fleet.loadBalancers, leadsToInit: true },
    { role: 'master', members: fleet.masters.filter((master) => master !== firstMaster), leadsToInit: false },
    { role: 'worker', members: fleet.workers, leadsToInit: false },
  ];
  const prerequisiteBatches = leading
    .flatMap(({ role, members, leadsToInit }) => chunk(unprepared(members), config.workerBatchSize).map((instanceIds) => ({ role, instanceIds, leadsToInit })))
    .map((batch, index, all) => ({ ...batch, sendAfterSeconds: Math.floor(index / SEND_COMMANDS_PER_SECOND), pollEverySeconds: Math.max(BATCH_POLL_SECONDS, Math.ceil(all.length / POLLS_PER_SECOND)) }));
  const preparedCount = allMembers(fleet).length - prerequisiteBatches.reduce((sum, batch) => sum + batch.instanceIds.length, 0);

  const workerBatches = chunk(pendingWorkers.map((worker) => worker.instanceId), config.workerBatchSize);
  const endpoint = controlPlaneEndpoint(config, elasticIpAddress);
  const certSans = apiServerCertSans(config, fleet, elasticIpAddress);

  return {
    endpoint,
    certSans,
    firstMaster,
    firstMasterInitialized: initialized !== undefined,
    mastersToJoin: pendingMasters,
    workerBatches,
    workerTokenTtlMinutes: workerTokenTtlMinutes(workerBatches.length),
    prerequisiteBatches,
    loadBalancerIds: fleet.loadBalancers.map((balancer) => balancer.instanceId),
    skipped: {
      prerequisites: preparedCount,
      masters: fleet.masters.length - 1 - pendingMasters.length,
      workers: fleet.workers.length - pendingWorkers.length,
    },
  };
}

/** One warm standby the cluster wants or has: `missing` ones reconcile launches, `retiring` ones it terminates. */
export interface StandbyRow {
  readonly role: StandbyRole;
  /** Where it waits or will wait; undefined for a wanted one with no zone to go to. */
  readonly zone: string | undefined;
  readonly state: 'ready' | 'preparing' | 'missing' | 'retiring';
  readonly instanceId?: string | undefined;
  /** Why it is retired, or why a missing one cannot be placed. */
  readonly note?: string | undefined;
}

/**
 * The warm standbys `healing.standbys` asks for and those the cluster has, per role and zone, laid out as
 * reconcile keeps them (standbys.ts). From EC2's view alone: a standby a heal has just claimed, or one whose
 * preparation failed, shows as it is tagged until the next reconcile; a dead master's zone counts only once
 * a replacement runs there (its launch record is not read).
 */
export function standbyRows(wanted: Readonly<Record<StandbyRole, number>>, instances: readonly ClusterInstance[], kubernetesVersion: string, now: number): StandbyRow[] {
  const rows: StandbyRow[] = [];
  for (const role of STANDBY_ROLES) {
    const kept = [];
    for (const standby of standbysOf(instances).filter((candidate) => candidate.role === role)) {
      // No SSM is read here: a preparing standby counts as on its way (reconcile judges its agent and preparation).
      const verdict = standbyVerdict(standby, { online: true }, kubernetesVersion, now);
      if (verdict.kind === 'retire-standby') rows.push({ role, zone: standby.availabilityZone, state: 'retiring', instanceId: standby.instanceId, note: verdict.reason });
      else kept.push(standby);
    }
    const layout = standbyLayout(role, wanted[role], kept, instances, []);
    for (const standby of layout.kept) rows.push({ role, zone: standby.availabilityZone, state: standby.readiness, instanceId: standby.instanceId });
    for (const { standby, reason } of layout.surplus) rows.push({ role, zone: standby.availabilityZone, state: 'retiring', instanceId: standby.instanceId, note: reason });
    for (const zone of layout.missing) rows.push({ role, zone, state: 'missing', note: zone ? 'reconcile launches it' : `no running ${role} to copy` });
    for (let index = 0; index < layout.unplaced; index += 1) rows.push({ role, zone: undefined, state: 'missing', note: `no zone left: the masters hold ${masterZones(instances, []).length}, one standby in each` });
  }
  const order = { ready: 0, preparing: 1, missing: 2, retiring: 3 };
  // Per role, by zone (a wanted one with none last), then ready, preparing, missing, retiring.
  const byZone = (a: StandbyRow, b: StandbyRow) => Number(a.zone === undefined) - Number(b.zone === undefined) || (a.zone ?? '').localeCompare(b.zone ?? '');
  return rows.sort((a, b) => a.role.localeCompare(b.role) || byZone(a, b) || order[a.state] - order[b.state]);
}

/**
 * The names and addresses the API server certificate must hold beyond what kubeadm adds itself. kubeadm's
 * GetAPIServerAltNames (cmd/kubeadm/app/util/pkiutil/pki_helpers.go) adds the node name, kubernetes,
 * kubernetes.default, kubernetes.default.svc, kubernetes.default.svc.<dnsDomain>, the first address of the
 * service network, the node's advertise address and the controlPlaneEndpoint host, then apiServer.certSANs.
 * Clients here dial: the Elastic IP and its DNS name (users; the endpoint is one of them, listed anyway so
 * changing the endpoint later keeps the other), the load balancers' private addresses (reached from inside
 * the VPC without the Elastic IP), and 127.0.0.1 / localhost (every worker's kubelet and kube-proxy through
 * its local proxy, and a master's own clients). kubespray lists the same (127.0.0.1, localhost, the load
 * balancer's address and name: roles/kubernetes/control-plane/tasks/kubeadm-setup.yml).
 */
export function apiServerCertSans(config: Pick<ClusterConfig, 'controlPlaneDnsName'>, fleet: Pick<Fleet, 'loadBalancers'>, elasticIpAddress: string): string[] {
  return unique([
    elasticIpAddress,
    ...(config.controlPlaneDnsName ? [config.controlPlaneDnsName] : []),
    ...fleet.loadBalancers.map((balancer) => balancer.privateIp),
    '127.0.0.1',
    'localhost',
  ]);
}

/** Worker batches joined side by side (the Map's MaxConcurrency in bootstrap-cluster). */
export const WORKER_JOIN_CONCURRENCY = 4;
/** A worker join takes about a minute; three leave room for a slow one in each round. */
const MINUTES_PER_JOIN_ROUND = 3;

export function workerTokenTtlMinutes(batches: number): number {
  const rounds = Math.ceil(batches / WORKER_JOIN_CONCURRENCY);
  return Math.min(24 * 60, Math.max(30, rounds * MINUTES_PER_JOIN_ROUND + 15));
}

/** History events a Standard execution may hold (Step Functions quotas). kubeha plans to stay under 80 % of it. */
export const HISTORY_EVENT_LIMIT = 25_000;
export const HISTORY_EVENT_BUDGET = 20_000;

/** History events one Wait → poll → Choice turn writes (Wait 2, Task 5, Choice 2). */
const EVENTS_PER_POLL = 9;
/** A batch that finishes without a retry: send, the Map iteration, the closing Pass, besides its polls. */
const EVENTS_PER_BATCH = 40;

/** The node profile's send before a batch joins (Task 5, Wait 2, Choice 2, and the Task's retries' room). */
const EVENTS_PER_PROFILE_SEND = 10;

/** History events one batch of workers can write: its prerequisites, its node profile and its join, each polled until it is late. */
export const HISTORY_EVENTS_PER_WORKER_BATCH =
  2 * EVENTS_PER_BATCH + EVENTS_PER_PROFILE_SEND + EVENTS_PER_POLL * (fastPollsAtMost('install-prerequisites') + fastPollsAtMost('apply-node-profile') + fastPollsAtMost('join-worker'));

/**
 * The most history events a bootstrap of this plan can write, counted as the service does: a batch
 * writes about 40 besides its polls, and polls every 2 s from the fast end of its typical run until it
 * is late (command-timing.ts); for the steps still running when one hangs, a turn every 15 s until its
 * deadline. Inline Map iterations count toward the parent.
 */
export function worstCaseHistoryEvents(plan: Pick<BootstrapPlan, 'workerBatches' | 'prerequisiteBatches' | 'mastersToJoin'>, stepTimeoutMinutes: number): number {
  const fixed = 400;
  // A batch sent after its turn (SEND_COMMANDS_PER_SECOND) enters and leaves one Wait more; the batches that
  // lead to init poll at the step's own interval, the others at the plan's (pollEverySeconds).
  const prerequisiteEvents = plan.prerequisiteBatches.reduce(
    (sum, batch) => sum + EVENTS_PER_BATCH + (batch.sendAfterSeconds > 0 ? 2 : 0) + EVENTS_PER_POLL * fastPollsAtMost('install-prerequisites', batch.leadsToInit ? undefined : batch.pollEverySeconds),
    0,
  );
  // Each worker batch applies its node profile (a short command and its polls) before it joins.
  const perWorkerBatch = EVENTS_PER_BATCH + EVENTS_PER_PROFILE_SEND + EVENTS_PER_POLL * (fastPollsAtMost('apply-node-profile') + fastPollsAtMost('join-worker'));
  const perMaster = 150 + EVENTS_PER_POLL * (fastPollsAtMost('refresh-join-material') + fastPollsAtMost('join-control-plane'));
  const stuckTurns = stepTimeoutMinutes * (60 / SLOW_POLL_SECONDS) * WORKER_JOIN_CONCURRENCY;
  return (
    fixed +
    prerequisiteEvents +
    plan.workerBatches.length * perWorkerBatch +
    plan.mastersToJoin.length * perMaster +
    stuckTurns * EVENTS_PER_POLL
  );
}

function unique(values: string[]): string[] {
  return [...new Set(values.filter((value) => value.length > 0))];
}
