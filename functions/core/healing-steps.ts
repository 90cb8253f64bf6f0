// The healing steps: one use case per state-machine Task (and the EventBridge entry point), each
// reading and changing AWS through the ports. The decisions they apply are pure, in healing-decisions.ts.
import { createHash } from 'node:crypto';
import type { CertificateExpiry } from './certificates.js';
import { type ClusterInstance, type Role, UPSTREAMS_TAG, byLaunchThenId, chunk, clusterTagKey, groupFleet, toMember } from './cluster.js';
import { preparedImageFor } from './node-image.js';
import { type ClusterSettings, placeElasticIp, readClusterSettings } from './bootstrap.js';
import { type ClusterContext, type CommandEnvironment, buildCommand, isInFlight } from './commands.js';
import { BOOT_SLOW_POLL_SECONDS, type BootKind, type PollShare, nextBootPollSeconds, onPollSlot, secondsUntilPollSlot, sharePolls } from './command-timing.js';
import { ClusterStateError, InstanceGoneError, InsufficientCapacityError, LaunchFailedError, NodeNotReadyError, QuorumLostError, readableCause } from './errors.js';
import {
  type EtcdMemberView,
  type InstanceStateChange,
  type QuorumVerdict,
  HEALING_MACHINES,
  assessQuorum,
  clusterOfTags,
  healsUnderWay,
  healthyStandby,
  loadBalancerOrder,
  triageEvent,
} from './healing-decisions.js';
import { type HealingOutcome, startHealing } from './incidents.js';
import { type LaunchRecord, readLaunchRecord, recordLaunchFacts, replacementSpec } from './launch-records.js';
import { STANDBY_FOR_TAG, claimStandby } from './standbys.js';
import type { Logger } from './log.js';
import type { LaunchSpec, Ports, SendCommandRequest } from './ports.js';

export interface HealingEnvironment {
  /** The cluster names this stack serves (its `clusters` parameter). */
  readonly clusters: readonly string[];
  /** `arn:aws:states:<region>:<account>:stateMachine:kubeha-<stage>-`; the machine's name follows. */
  readonly stateMachineArnPrefix: string;
}

export interface HealingInput {
  readonly clusterName: string;
  readonly instanceId: string;
  readonly role: Role;
  readonly state: string;
  readonly trigger: string;
}

// ---- the EventBridge entry point -----------------------------------------------------------------

export type EventOutcome =
  | { readonly action: 'ignored'; readonly reason: string }
  | { readonly action: 'recorded'; readonly instanceId: string }
  | { readonly action: 'healing'; readonly elasticIpMovedTo?: string; readonly execution?: HealingOutcome };

/**
 * Handles one EC2 state-change event. A new instance that starts running gets its launch facts
 * recorded. A failing one: ignored unless kubeha manages it; for a load balancer holding the Elastic
 * IP, the address moves to the healthy standby first; then healing starts, keyed by the instance, so
 * a duplicate, late or out-of-order event starts nothing new. An instance EC2 has already forgotten
 * is recognised by its launch record.
 */
export async function handleInstanceEvent(
  event: InstanceStateChange,
  ports: Pick<Ports, 'ec2' | 'ssm' | 'state' | 'workflows' | 'notifier' | 'clock'>,
  environment: HealingEnvironment,
  log: Logger,
): Promise<EventOutcome> {
  const instance = await ports.ec2.describeInstance(event.instanceId);
  if (event.state === 'running' || event.state === 'pending') return recordNewInstance(event, instance, ports, environment, log);

  const record = await findLaunchRecord(event.instanceId, environment.clusters, ports);
  const tags = instance ? (instance.tags ?? {}) : record?.tags;
  const verdict = triageEvent(event, tags ? { tags } : undefined, environment.clusters);
  if (verdict.action === 'ignore') {
    log.info('ignored event', { instanceId: event.instanceId, state: event.state, reason: verdict.reason });
    return { action: 'ignored', reason: verdict.reason };
  }
  if (record?.replacedBy) {
    log.info('ignored event', { instanceId: event.instanceId, state: event.state, reason: `already replaced by ${record.replacedBy}` });
    return { action: 'ignored', reason: `already replaced by ${record.replacedBy}` };
  }

  let elasticIpMovedTo: string | undefined;
  if (verdict.failOverElasticIp) elasticIpMovedTo = await failOverElasticIp(verdict.clusterName, event.instanceId, ports, log);

  if (!verdict.machine) return { action: 'healing', ...(elasticIpMovedTo ? { elasticIpMovedTo } : {}) };
  const execution = await startHealing(
    {
      clusterName: verdict.clusterName,
      instanceId: event.instanceId,
      role: verdict.role,
      state: event.state,
      trigger: `event ${event.id}`,
      kind: 'event',
      observedAt: Date.parse(event.time) || ports.clock.now(),
    },
    ports,
    environment,
    log,
  );
  return { action: 'healing', ...(elasticIpMovedTo ? { elasticIpMovedTo } : {}), execution };
}

async function recordNewInstance(
  event: InstanceStateChange,
  instance: ClusterInstance | undefined,
  ports: Pick<Ports, 'ec2' | 'state' | 'clock'>,
  environment: HealingEnvironment,
  log: Logger,
): Promise<EventOutcome> {
  const clusterName = instance?.tags ? clusterOfTags(instance.tags) : undefined;
  if (!instance?.role || !clusterName || !environment.clusters.includes(clusterName)) {
    return { action: 'ignored', reason: 'not a kubeha instance of a cluster this stack serves' };
  }
  const { written } = await recordLaunchFacts(clusterName, [instance], ports);
  if (written.length > 0) log.info('recorded launch facts', { clusterName, instanceId: event.instanceId });
  return { action: 'recorded', instanceId: event.instanceId };
}

/** The launch record of an instance in any served cluster (an event names only the instance). */
async function findLaunchRecord(instanceId: string, clusters: readonly string[], ports: Pick<Ports, 'state'>): Promise<LaunchRecord | undefined> {
  for (const clusterName of clusters) {
    const record = await readLaunchRecord(clusterName, instanceId, ports);
    if (record) return record;
  }
  return undefined;
}

/** Moves the Elastic IP off a failing load balancer onto the running standby, if the failing one holds it. */
export async function failOverElasticIp(clusterName: string, failedId: string, ports: Pick<Ports, 'ec2' | 'ssm'>, log: Logger): Promise<string | undefined> {
  const settings = await readClusterSettings(clusterName, ports);
  if (!settings) return undefined;
  const address = await ports.ec2.findElasticIp(settings.cluster.elasticIpAllocationId);
  if (!address || (address.instanceId && address.instanceId !== failedId)) return undefined;
  const instances = await ports.ec2.findClusterInstances(clusterName);
  const standby = healthyStandby(instances.filter((instance) => instance.role === 'lb'), failedId);
  if (!standby) {
    log.error('no healthy standby load balancer for the Elastic IP', { clusterName, failedId });
    return undefined;
  }
  await placeElasticIp(settings.cluster.elasticIpAllocationId, standby.instanceId, ports);
  log.info('moved the Elastic IP to the standby', { from: failedId, to: standby.instanceId });
  return standby.instanceId;
}

// ---- inspecting the cluster around a failed instance ------------------------------------------------

export interface HealScope {
  readonly cluster: ClusterContext;
  readonly caCertHash: string;
  readonly target: { instanceId: string; role: Role; ec2State: string; privateIp: string };
  /** Single-element lists, because the state machines run commands through a Map over instances. */
  readonly targetIds: string[];
  readonly healthyMasterIds: string[];
  readonly loadBalancerIds: string[];
  readonly elasticIpHolderId: string | undefined;
  readonly standbyIds: string[];
  readonly policy: { startStoppedInstances: boolean; recoveryTimeoutMinutes: number };
  /** What a replacement of the target is launched with, read here once so that launchReplacement need not read the settings again. */
  readonly launch: LaunchSettings;
  readonly snapshotLabel: string;
  /**
   * This heal's share of the cluster's polling rate among the heals under way (healsUnderWay): an
   * Availability Zone's workers lost at once heal side by side and would otherwise each poll every second.
   */
  readonly polls: PollShare & {
    /** How long to wait before the heal's first command so that it lands in its slot (secondsUntilPollSlot). */
    readonly firstSendAfterSeconds: number;
  };
}

export async function inspectForHealing(
  input: { clusterName: string; instanceId: string },
  ports: Pick<Ports, 'ec2' | 'ssm' | 'state' | 'clock'>,
): Promise<HealScope> {
  const settings = await readClusterSettings(input.clusterName, ports);
  if (!settings) throw new ClusterStateError(`cluster ${input.clusterName} has no recorded settings: bootstrap it with kubeha first`);
  const [everyInstance, described, record, address] = await Promise.all([
    ports.ec2.findClusterInstances(input.clusterName, { terminated: true }),
    ports.ec2.describeInstance(input.instanceId),
    readLaunchRecord(input.clusterName, input.instanceId, ports),
    ports.ec2.findElasticIp(settings.cluster.elasticIpAllocationId),
  ]);
  const instances = everyInstance.filter((instance) => instance.ec2State !== 'terminated');
  const target = deadOrAliveTarget(input.instanceId, described, record);
  if (!target) throw new InstanceGoneError(input.instanceId, 'is unknown to EC2 and has no launch record');
  if (!target.privateIp && target.ec2State !== 'running') {
    throw new ClusterStateError(
      `kubeha holds no launch record for ${input.instanceId} and EC2 no longer reports its address, so its Node${target.role === 'master' ? ' and etcd member' : ''} cannot be found and no replacement can be built from it: ` +
        `remove them by hand (kubectl delete node; etcdctl member remove), add launchTemplates.${target.role} to the bootstrap input and run bootstrap-cluster again, which records every running node`,
    );
  }

  const fleet = groupFleet(instances.filter((instance) => instance.instanceId !== input.instanceId || instance.ec2State === 'running'));
  const healthyMasters = fleet.masters.filter((master) => master.instanceId !== input.instanceId && master.nodeState !== undefined && master.nodeState !== 'prepared');
  if (target.role !== 'lb' && healthyMasters.length === 0) {
    throw new QuorumLostError(`no other running, joined master is left in ${input.clusterName} to heal ${input.instanceId} from`);
  }
  const runningBalancers = instances.filter((instance) => instance.role === 'lb' && instance.ec2State === 'running').map(toMember);
  const holderId = address?.instanceId;
  return {
    cluster: { ...settings.cluster, ...currentAddresses(instances, holderId, input.instanceId) },
    caCertHash: settings.caCertHash,
    target: { instanceId: target.instanceId, role: target.role, ec2State: target.ec2State, privateIp: target.privateIp },
    targetIds: [target.instanceId],
    healthyMasterIds: healthyMasters.slice(0, 1).map((master) => master.instanceId),
    loadBalancerIds: runningBalancers.map((balancer) => balancer.instanceId),
    elasticIpHolderId: holderId,
    standbyIds: runningBalancers.filter((balancer) => balancer.instanceId !== input.instanceId).slice(0, 1).map((balancer) => balancer.instanceId),
    policy: settings.policy,
    launch: launchSettingsFor(settings, target.role),
    polls: shareOfPolls(input.instanceId, everyInstance, settings.policy.startStoppedInstances, ports.clock.now()),
    snapshotLabel: `heal-${input.instanceId}-${new Date(ports.clock.now()).toISOString().replace(/[-:.]/g, '').slice(0, 15)}Z`,
  };
}

/** This heal's rank among the heals under way (itself included, last when EC2 does not show it as one), and so its share. */
function shareOfPolls(instanceId: string, instances: readonly ClusterInstance[], startsStoppedInstances: boolean, now: number): HealScope['polls'] {
  const underWay = healsUnderWay(instances, startsStoppedInstances);
  const rank = underWay.indexOf(instanceId);
  const share = rank >= 0 ? sharePolls(underWay.length, rank) : sharePolls(underWay.length + 1, underWay.length);
  return { ...share, firstSendAfterSeconds: secondsUntilPollSlot(now, share) };
}

/**
 * The instance being healed as kubeha knows it: EC2's answer where it still has one, with the address
 * from the launch record where EC2 has forgotten it (terminated: no address; aged out: no instance).
 */
function deadOrAliveTarget(instanceId: string, described: ClusterInstance | undefined, record: LaunchRecord | undefined): { instanceId: string; role: Role; ec2State: string; privateIp: string } | undefined {
  const role = described?.role ?? record?.role;
  if (!role) return undefined;
  return { instanceId, role, ec2State: described?.ec2State ?? 'terminated', privateIp: described?.privateIp ?? record?.privateIp ?? '' };
}

/** Master and LB addresses as the cluster is now: upstreams and keepalived peers are rendered from these. */
function currentAddresses(instances: readonly ClusterInstance[], holderId: string | undefined, excludeId?: string): Pick<ClusterContext, 'masterIps' | 'loadBalancerIps' | 'workerCount'> {
  const live = instances.filter((instance) => instance.ec2State === 'running' || instance.ec2State === 'pending' || (instance.ec2State === 'stopped' && instance.instanceId !== excludeId));
  const fleet = groupFleet(live.map((instance) => ({ ...instance, ec2State: 'running' })));
  return {
    masterIps: fleet.masters.map((master) => master.privateIp),
    loadBalancerIps: loadBalancerOrder(fleet.loadBalancers, holderId),
    workerCount: fleet.workers.length,
  };
}

/**
 * Re-reads the fleet for steps that must see a replacement (LB upstreams after a master moved address).
 * `including` is the instance the heal launched a moment ago: EC2's API is eventually consistent, and
 * DescribeInstances may not list an instance for seconds after RunInstances returned it ("its ID might not
 * have propagated throughout the system", https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html),
 * so a read that misses it would point the load balancers at the masters without it.
 */
export async function refreshAddresses(
  input: { cluster: ClusterContext; including?: { instanceId: string; privateIp: string; role: 'master' | 'lb' } | undefined },
  ports: Pick<Ports, 'ec2'>,
): Promise<ClusterContext> {
  const [instances, address] = await Promise.all([
    ports.ec2.findClusterInstances(input.cluster.clusterName),
    ports.ec2.findElasticIp(input.cluster.elasticIpAllocationId),
  ]);
  const live = instances.filter((instance) => instance.ec2State === 'running' || instance.ec2State === 'pending');
  const { including } = input;
  const notListedYet = including && !instances.some((instance) => instance.instanceId === including.instanceId);
  const withLaunched = notListedYet ? [...live, { instanceId: including.instanceId, privateIp: including.privateIp, role: including.role, ec2State: 'pending' as const }] : live;
  return { ...input.cluster, ...currentAddresses(withLaunched, address?.instanceId) };
}

// ---- the workers' local API proxies ---------------------------------------------------------------------

/** SendCommand takes at most 50 instance ids per call (SSM API reference, InstanceIds). */
export const SEND_COMMAND_MAX_TARGETS = 50;

const sameAddresses = (a: readonly string[], b: readonly string[]) => [...a].sort().join(' ') === [...b].sort().join(' ');

/**
 * Running, joined workers whose local API proxy was last pointed at other masters than these (the
 * UPSTREAMS_TAG records what each was sent), or never by kubeha: a worker joined before the proxy existed.
 */
export function workersWithStaleProxies(instances: readonly ClusterInstance[], masterIps: readonly string[]): string[] {
  return instances
    .filter((instance) => instance.role === 'worker' && instance.ec2State === 'running' && instance.nodeState === 'joined')
    .filter((instance) => !sameAddresses((instance.tags?.[UPSTREAMS_TAG] ?? '').split(' ').filter(Boolean), masterIps))
    .map((instance) => instance.instanceId);
}

/**
 * Points the local API proxy of every worker whose proxy names other masters at these masters:
 * ConfigureNodeProxy to at most 50 workers per SendCommand. Only workers whose command succeeded are
 * tagged with what they were sent, so a command that failed, or had not finished in time, leaves its
 * workers stale and reconcile sends it again (the script changes nothing where the proxy is right).
 * Workers already pointed there are left out, so a retried Task sends nothing twice.
 */
export async function pointNodeProxies(
  input: { cluster: ClusterContext; instanceIds?: readonly string[] | undefined },
  ports: Pick<Ports, 'ec2' | 'ssm' | 'clock'>,
  environment: CommandEnvironment,
): Promise<{ workers: number; commands: number; pointed: number }> {
  const masterIps = input.cluster.masterIps;
  if (masterIps.length === 0) throw new ClusterStateError(`no master address is known for ${input.cluster.clusterName}; the workers' proxies were left as they are`);
  const stale = input.instanceIds ?? workersWithStaleProxies(await ports.ec2.findClusterInstances(input.cluster.clusterName), masterIps);
  const requests = chunk(stale, SEND_COMMAND_MAX_TARGETS).map((batch) => buildCommand({ step: 'configure-node-proxy', instanceIds: batch, cluster: input.cluster }, environment));
  const pointed = await sendRecordingSuccesses(requests, { [UPSTREAMS_TAG]: masterIps.join(' ') }, ports);
  return { workers: stale.length, commands: requests.length, pointed: pointed.length };
}

/**
 * How long a step that records what it sent waits for its commands: ConfigureNodeProxy and
 * ConfigureLoadBalancer take seconds (command-timing.ts). What has not finished by then is not recorded.
 */
export const RECORD_WITHIN_SECONDS = 15;
const RECORD_POLL_MS = 1000;

/**
 * Sends each request, waits for the commands (at most RECORD_WITHIN_SECONDS, well inside the functions' 30 s timeout), and tags the instances on
 * which the command succeeded: a tag that says what an instance was sent is a promise the next reconcile
 * believes, so it is written only once the instance has done it. Returns the instances tagged.
 */
export async function sendRecordingSuccesses(
  requests: readonly SendCommandRequest[],
  tags: Readonly<Record<string, string>>,
  ports: Pick<Ports, 'ec2' | 'ssm' | 'clock'>,
): Promise<string[]> {
  const pending = new Map<string, number>();
  for (const request of requests) pending.set(await ports.ssm.sendCommand(request), request.instanceIds.length);
  const deadline = ports.clock.now() + RECORD_WITHIN_SECONDS * 1000;
  const succeeded: string[] = [];
  while (pending.size > 0) {
    await ports.clock.sleep(RECORD_POLL_MS);
    const lastLook = ports.clock.now() >= deadline;
    for (const [commandId, targets] of pending) {
      const invocations = await ports.ssm.commandInvocations(commandId);
      // Invocations appear a moment after SendCommand: an empty or short list is a command still starting.
      if (!lastLook && (invocations.length < targets || invocations.some((invocation) => isInFlight(invocation.status)))) continue;
      const done = invocations.filter((invocation) => invocation.status === 'Success').map((invocation) => invocation.instanceId);
      if (done.length > 0) await ports.ec2.tagInstances(done, tags);
      succeeded.push(...done);
      pending.delete(commandId);
    }
  }
  return succeeded;
}

// ---- deciding from the cluster's own view -------------------------------------------------------------

export interface ClusterStatusReport {
  readonly members: EtcdMemberView[];
  readonly nodes: { name: string; internalIp: string; ready: boolean; controlPlane: boolean }[];
  /** The asked master's own certificates (cluster-status.sh, certificates.ts); null when kubeadm could not tell. */
  readonly certificates?: CertificateExpiry | null | undefined;
}

export function assessMemberRemoval(report: ClusterStatusReport, targetIp: string): QuorumVerdict {
  return assessQuorum(report.members, targetIp);
}

export type HealthVerdict = { readonly healthy: true } | { readonly healthy: false; readonly reason: string };

/** Is the node at `ip` Ready, and (for a master) its etcd member present and healthy? Past the deadline: NodeNotReadyError. */
export function evaluateNodeHealth(report: ClusterStatusReport, ip: string, expectMember: boolean, deadline: number, now: number): HealthVerdict {
  const node = report.nodes.find((candidate) => candidate.internalIp === ip);
  const member = report.members.find((candidate) => candidate.peerIp === ip);
  const reason = !node ? `no node has address ${ip}` : !node.ready ? `node ${node.name} is not Ready` : expectMember && !member ? `no etcd member has address ${ip}` : expectMember && !member?.healthy ? `etcd member ${member?.name} is not healthy` : undefined;
  if (!reason) return { healthy: true };
  if (now > deadline) throw new NodeNotReadyError(`${reason} after waiting until ${new Date(deadline).toISOString()}`);
  return { healthy: false, reason };
}

// ---- instances --------------------------------------------------------------------------------------

/**
 * Starts a stopped instance. One that is still `stopping` cannot be started yet (StartInstances
 * answers IncorrectInstanceState): `started: false` tells the workflow to wait and ask again.
 */
export async function startStoppedInstance(instanceId: string, ports: Pick<Ports, 'ec2'>): Promise<{ ec2State: string; started: boolean }> {
  const instance = await ports.ec2.describeInstance(instanceId);
  if (!instance || instance.ec2State === 'terminated' || instance.ec2State === 'shutting-down') throw new InstanceGoneError(instanceId, 'was terminated');
  if (instance.ec2State === 'stopping') return { ec2State: instance.ec2State, started: false };
  if (instance.ec2State === 'stopped') await ports.ec2.startInstance(instanceId);
  return { ec2State: instance.ec2State, started: true };
}

/**
 * Escalation, as Cluster API's MachineHealthCheck remediates: a node that stayed unhealthy after a
 * re-join is terminated and replaced like a dead one. A no-op once it is gone.
 */
export async function retireSickInstance(instanceId: string, ports: Pick<Ports, 'ec2'>): Promise<{ ec2State: string }> {
  const instance = await ports.ec2.describeInstance(instanceId);
  if (!instance || instance.ec2State === 'terminated' || instance.ec2State === 'shutting-down') return { ec2State: instance?.ec2State ?? 'terminated' };
  await ports.ec2.retireInstance(instanceId);
  return { ec2State: 'shutting-down' };
}

export type InstanceReadiness =
  | { readonly status: 'Waiting'; readonly ec2State: string; readonly pollAfterSeconds: number }
  | { readonly status: 'Ready'; readonly privateIp: string };

/**
 * Running with an online SSM agent, or still waiting (with when to look again, command-timing.ts);
 * gone or out of time is an error. `bootingSince` is when the start or launch was asked for.
 */
export async function awaitInstance(
  input: { instanceId: string; deadline: number; boot?: BootKind | undefined; bootingSince?: number | undefined; pollEverySeconds?: number | undefined; pollSlot?: number | undefined },
  ports: Pick<Ports, 'ec2' | 'ssm' | 'clock'>,
): Promise<InstanceReadiness> {
  const instance = await ports.ec2.describeInstance(input.instanceId);
  const now = ports.clock.now();
  // EC2's API is eventually consistent: an instance RunInstances returned may be unknown to DescribeInstances
  // for a while, from "a couple of seconds" up to "a few minutes" (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).
  // Not found then means not yet, not gone.
  const propagating = !instance && input.boot === 'launch' && input.bootingSince !== undefined && now - input.bootingSince < LAUNCH_PROPAGATION_MS;
  if (!propagating && (!instance || instance.ec2State === 'terminated' || instance.ec2State === 'shutting-down')) throw new InstanceGoneError(input.instanceId, 'vanished while kubeha waited for it');
  if (instance?.ec2State === 'running' && (await ports.ssm.onlineInstanceIds([input.instanceId])).has(input.instanceId)) {
    return { status: 'Ready', privateIp: instance.privateIp ?? '' };
  }
  const ec2State = instance?.ec2State ?? 'pending';
  if (now > input.deadline) throw new NodeNotReadyError(`${input.instanceId} is ${ec2State} without an online SSM agent past its deadline`);
  const pollAfterSeconds = input.boot && input.bootingSince !== undefined ? onPollSlot(nextBootPollSeconds(input.boot, (now - input.bootingSince) / 1000, input.pollEverySeconds), now, input) : BOOT_SLOW_POLL_SECONDS;
  return { status: 'Waiting', ec2State, pollAfterSeconds };
}

/** How long after its launch an instance DescribeInstances does not know is taken as not yet listed, not gone. */
export const LAUNCH_PROPAGATION_MS = 5 * 60_000;

/** What launching a replacement of a role needs from the cluster settings. */
export interface LaunchSettings {
  readonly kubernetesVersion: string;
  /** healing.standbys for the role (0 for load balancers). */
  readonly standbysWanted: number;
  readonly launchTemplate?: { launchTemplateId: string; version: string } | undefined;
  /** The prepared node image recorded for the cluster's version, if any (preparedImageFor). */
  readonly preparedImageId?: string | undefined;
}

export function launchSettingsFor(settings: ClusterSettings, role: Role): LaunchSettings {
  const template = settings.launchTemplates?.[role];
  const image = preparedImageFor(settings, role);
  return {
    kubernetesVersion: settings.cluster.kubernetesVersion,
    standbysWanted: role === 'lb' ? 0 : (settings.policy.standbys?.[role] ?? 0),
    ...(template ? { launchTemplate: template } : {}),
    ...(image ? { preparedImageId: image } : {}),
  };
}

export interface Replacement {
  readonly instanceId: string;
  readonly privateIp: string;
  readonly sameAddress: boolean;
  /** It boots from the cluster's prepared node image, or is a warm standby prepared the same way. */
  readonly preparedImage: boolean;
  /** `start`: a warm standby was started (its agent registered long ago); `launch`: a new instance. */
  readonly boot: BootKind;
  /** The instance was already booting when this call found it (a retried Task): look at it at once. */
  readonly alreadyBooting: boolean;
  /**
   * Its prerequisites are installed at the cluster's version: a warm standby, whose version tag is written
   * only after its preparation succeeded and was checked when it was claimed. The workflow skips the
   * prerequisites command (a check that would take a command's round trip) and goes on to the join.
   */
  readonly prerequisitesInstalled: boolean;
  /**
   * The heal sends its first command (a master's join, a worker's mounts) at once, not after a boot poll: a
   * started standby's agent registered when it was prepared, so SSM holds the command as Delayed and delivers
   * it when the agent reconnects. The workflows' Choices read this and nothing else (sendsWhileBooting).
   */
  readonly sendWhileBooting: boolean;
}

/** Whether SSM can hold a replacement's first command until it is up: a started warm standby that is prepared. */
export function sendsWhileBooting(replacement: Pick<Replacement, 'boot' | 'prerequisitesInstalled'>): boolean {
  return replacement.boot === 'start' && replacement.prerequisitesInstalled;
}

function replacementOf(found: Omit<Replacement, 'sendWhileBooting'>): Replacement {
  return { ...found, sendWhileBooting: sendsWhileBooting(found) };
}

/**
 * Launches the replacement of a dead instance from its launch record (or the cluster's launch template
 * for its role), asking for its private IP first so upstreams, etcd peer URLs and certificates stay
 * valid. Idempotent per dead instance: a replacement already launched for it (by a retried Task or an
 * earlier attempt) is used again, and the client token makes a retried call return its instance.
 */
export async function launchReplacement(
  input: { clusterName: string; deadInstanceId: string; role?: Role | undefined; executionArn: string; settings?: LaunchSettings | undefined },
  ports: Pick<Ports, 'ec2' | 'ssm' | 'state' | 'clock'>,
): Promise<Replacement> {
  // The heal's inspection read the settings seconds ago and passes what a launch needs: one Parameter Store
  // read per heal, not two (an Availability Zone's heals otherwise read 2 × its lost nodes in a few seconds,
  // against GetParameter's 40 a second). Without it (a caller that did not inspect), they are read here.
  const [record, read, instances, intent] = await Promise.all([
    readLaunchRecord(input.clusterName, input.deadInstanceId, ports),
    input.settings ? undefined : readClusterSettings(input.clusterName, ports),
    ports.ec2.findClusterInstances(input.clusterName),
    ports.state.get<LaunchIntent>(input.clusterName, launchIntentKey(input.deadInstanceId)),
  ]);
  const role = record?.role ?? input.role;
  if (!role) throw new LaunchFailedError(`the role of ${input.deadInstanceId} is unknown: EC2 forgot it and kubeha holds no launch record`);
  const settings = input.settings ?? (read ? launchSettingsFor(read, role) : undefined);
  const deadIp = record?.privateIp;
  // Whether the replacement boots from the prepared node image: its prerequisites and joins then take a
  // fraction of their usual time, and the workflow looks at them that much sooner (command-timing.ts).
  const preparedImage = settings?.preparedImageId !== undefined;
  // A warm standby first (standbys.ts): claimed for this dead instance, or found claimed by a retried Task.
  // Asked only where the cluster wants standbys or has (or had) one: without, a heal makes the calls it always made.
  const standbysInPlay = (wanted: number) => wanted > 0 || instances.some((instance) => instance.tags?.[STANDBY_FOR_TAG] !== undefined || instance.tags?.['kubeha:replaces'] === input.deadInstanceId);
  if (role !== 'lb' && settings && standbysInPlay(settings.standbysWanted)) {
    const standby = await claimStandby(
      { clusterName: input.clusterName, deadInstanceId: input.deadInstanceId, role, availabilityZone: record?.availabilityZone, kubernetesVersion: settings.kubernetesVersion },
      instances,
      ports,
    );
    // Its address is its own: sameAddress false sends heal-master down the path that re-points the load balancers.
    if (standby) return replacementOf({ instanceId: standby.instanceId, privateIp: standby.privateIp, sameAddress: false, preparedImage: true, boot: 'start', alreadyBooting: standby.alreadyBooting, prerequisitesInstalled: true });
  }
  const earlier = instances.find((instance) => instance.tags?.['kubeha:replaces'] === input.deadInstanceId && (instance.ec2State === 'pending' || instance.ec2State === 'running'));
  if (earlier) return replacementOf({ instanceId: earlier.instanceId, privateIp: earlier.privateIp ?? '', sameAddress: earlier.privateIp === deadIp, preparedImage, boot: 'launch', alreadyBooting: false, prerequisitesInstalled: false });

  const spec = replacementSpec({
    deadInstanceId: input.deadInstanceId,
    role,
    clusterTags: { [clusterTagKey(input.clusterName)]: 'owned' },
    record,
    template: settings?.launchTemplate,
    preparedImageId: settings?.preparedImageId,
    fallbackSubnetId: instances.find((instance) => instance.role === role && instance.ec2State === 'running')?.subnetId,
  });
  const token = (suffix: string) => createHash('sha256').update(`${input.executionArn}|${input.deadInstanceId}|${suffix}`).digest('hex').slice(0, 64);
  // Each RunInstances is written down before it is made. A retried Task (the function timed out after EC2
  // launched) repeats the last one first, with its client token, and so gets the instance it made: the
  // lookup above may not list an instance launched seconds ago (EC2's API is eventually consistent), and
  // the dead master's address may have come free since, so starting over could launch a second replacement.
  const run: RunInstance = async (call) => {
    await ports.state.put<LaunchIntent>(input.clusterName, launchIntentKey(input.deadInstanceId), { executionArn: input.executionArn, ...call }, 'any');
    return ports.ec2.runInstance({ ...spec, subnetId: call.subnetId }, { ...(call.privateIp ? { privateIp: call.privateIp } : {}), clientToken: token(call.suffix) });
  };
  const last = intent?.value.executionArn === input.executionArn ? intent.value : undefined;
  let launched: { instanceId: string; privateIp: string } | 'addressInUse' | undefined = last ? await repeatLaunch(spec, last, token, ports) : undefined;
  if (!launched) {
    try {
      const preferred = deadIp ? await run({ suffix: 'same-address', subnetId: spec.subnetId, privateIp: deadIp }) : 'addressInUse';
      launched = preferred === 'addressInUse' ? await run({ suffix: 'any-address', subnetId: spec.subnetId }) : preferred;
    } catch (error: unknown) {
      if (!(error instanceof LaunchFailedError && error.insufficientCapacity)) throw error;
      const shortZone = record?.availabilityZone ?? instances.find((instance) => instance.subnetId === spec.subnetId)?.availabilityZone;
      // A master and a load balancer wait for their own zone (the heal's capacity wait); a worker tries the others first.
      if (role !== 'worker') throw InsufficientCapacityError.toLaunch(input.deadInstanceId, role, shortZone ? [shortZone] : [], error);
      launched = await launchInAnotherZone(spec, shortZone, error, instances, run, input.deadInstanceId);
    }
  }
  if (launched === 'addressInUse') throw new LaunchFailedError('EC2 reported an address conflict without asking for an address');
  return replacementOf({ instanceId: launched.instanceId, privateIp: launched.privateIp, sameAddress: launched.privateIp === deadIp, preparedImage, boot: 'launch', alreadyBooting: false, prerequisitesInstalled: false });
}

/** The last RunInstances a heal made for a dead instance, written before the call (launchReplacement). */
export interface LaunchIntent {
  readonly executionArn: string;
  /** Names the client token: `same-address`, `any-address` or `subnet <id>`. */
  readonly suffix: string;
  readonly subnetId: string;
  readonly privateIp?: string | undefined;
}
export const LAUNCH_INTENT_PREFIX = 'launch-intent#';
export const launchIntentKey = (deadInstanceId: string): string => `${LAUNCH_INTENT_PREFIX}${deadInstanceId}`;

type RunInstance = (call: Omit<LaunchIntent, 'executionArn'>) => Promise<{ instanceId: string; privateIp: string } | 'addressInUse'>;

/**
 * The last call again, same client token and parameters: a retry of a request that completed "succeeds
 * without performing any additional actions" and returns its instance (Ensuring idempotency in Amazon EC2 API
 * requests, https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html). A call that had failed
 * (address in use, no capacity) may fail again; undefined then, and the usual order follows.
 */
async function repeatLaunch(
  spec: LaunchSpec,
  last: LaunchIntent,
  token: (suffix: string) => string,
  ports: Pick<Ports, 'ec2'>,
): Promise<{ instanceId: string; privateIp: string } | undefined> {
  try {
    const again = await ports.ec2.runInstance({ ...spec, subnetId: last.subnetId }, { ...(last.privateIp ? { privateIp: last.privateIp } : {}), clientToken: token(last.suffix) });
    return again === 'addressInUse' ? undefined : again;
  } catch (error: unknown) {
    if (error instanceof LaunchFailedError && error.insufficientCapacity) return undefined;
    throw error;
  }
}

/**
 * A worker whose zone is short of capacity is launched in the subnet of a running worker in another zone, one
 * zone after another, as an Auto Scaling group spreads over its zones: pods reschedule across zones, and a
 * worker back sooner matters more than its placement. A master is not: its zone keeps etcd's members one per
 * zone, so it waits for capacity there (InsufficientCapacityError, which heal-master waits out). Each zone has
 * its own client token, so a retried call returns the instance that zone gave. With every zone refused, the
 * error names them all and heal-worker waits, trying them all again each round.
 */
async function launchInAnotherZone(
  spec: LaunchSpec,
  shortZone: string | undefined,
  shortage: LaunchFailedError,
  instances: readonly ClusterInstance[],
  run: RunInstance,
  deadInstanceId: string,
): Promise<{ instanceId: string; privateIp: string } | 'addressInUse'> {
  const elsewhere = new Map<string, string>();
  for (const worker of [...instances].sort(byLaunchThenId)) {
    if (worker.role !== 'worker' || worker.ec2State !== 'running' || !worker.subnetId || !worker.availabilityZone) continue;
    if (worker.subnetId === spec.subnetId || worker.availabilityZone === shortZone || elsewhere.has(worker.availabilityZone)) continue;
    elsewhere.set(worker.availabilityZone, worker.subnetId);
  }
  for (const subnetId of elsewhere.values()) {
    try {
      return await run({ suffix: `subnet ${subnetId}`, subnetId });
    } catch (error: unknown) {
      if (!(error instanceof LaunchFailedError && error.insufficientCapacity)) throw error;
    }
  }
  throw InsufficientCapacityError.toLaunch(deadInstanceId, 'worker', [...(shortZone ? [shortZone] : []), ...elsewhere.keys()], shortage);
}

// ---- telling a human ----------------------------------------------------------------------------------

/**
 * Told once, when EC2 refuses a heal again after its first 5-minute wait for capacity (a brief shortage pages
 * nobody): the heal waits in its own execution (state-machines/heal-*),
 * which neither fails nor pages while it waits; the human hears again only if the wait ends without capacity.
 * `until` is when the last try is due: the cap's rounds of `retryEverySeconds` from now.
 */
export async function notifyCapacityWait(
  input: { clusterName: string; instanceId: string; cause?: string | undefined; retryEverySeconds: number; rounds: number; executionArn?: string | undefined },
  ports: Pick<Ports, 'notifier' | 'clock'>,
): Promise<{ notified: true; until: string }> {
  const until = new Date(ports.clock.now() + input.rounds * input.retryEverySeconds * 1000).toISOString();
  const every = input.retryEverySeconds % 60 === 0 ? `${input.retryEverySeconds / 60} minutes` : `${input.retryEverySeconds} seconds`;
  const subject = `kubeha ${input.clusterName}: healing of ${input.instanceId} waits for EC2 capacity`;
  const message = [
    subject,
    `Instance: ${input.instanceId}`,
    input.cause ? `EC2: ${readableCause(input.cause)}` : undefined,
    `kubeha tries again every ${every} until ${until}, in this same execution, and then stops and tells you. Nothing needs doing now;`,
    'you hear nothing more if capacity returns. If the shortage lasts, another instance type in the role\'s launch template may have capacity (README.md, "When EC2 has no capacity").',
    input.executionArn ? `Execution: ${input.executionArn}` : undefined,
  ]
    .filter(Boolean)
    .join('\n');
  await ports.notifier.publish(subject, message);
  return { notified: true, until };
}

export async function notifyHumans(
  input: { clusterName: string; workflow?: string | undefined; instanceId?: string | undefined; error?: string | undefined; cause?: string | undefined; executionArn?: string | undefined },
  ports: Pick<Ports, 'notifier'>,
): Promise<{ notified: true }> {
  const quorumLost = input.error === 'QuorumLostError';
  const subject = quorumLost ? `kubeha ${input.clusterName}: etcd quorum at risk, a human must act` : `kubeha ${input.clusterName}: ${input.workflow ?? 'healing'} failed (${input.error ?? 'unknown error'})`;
  const message = [
    subject,
    input.instanceId ? `Instance: ${input.instanceId}` : undefined,
    input.cause ? `Cause: ${readableCause(input.cause)}` : undefined,
    input.executionArn ? `Execution: ${input.executionArn}` : undefined,
    quorumLost
      ? 'kubeha changed nothing in etcd. Runbook: README.md, "When quorum is lost" (restore the latest snapshot from the snapshot bucket onto one master with etcdutl snapshot restore, then let kubeha re-join the others).'
      : input.error === 'InsufficientCapacityError'
        ? 'EC2 stayed short of capacity for as long as a heal waits (README.md, "When EC2 has no capacity"); reconcile tries again within the healing budget. Another instance type in the role\'s launch template may have capacity.'
        : 'Look at the execution history; fix the cause and start the workflow again with the same input.',
  ]
    .filter(Boolean)
    .join('\n');
  await ports.notifier.publish(subject, message);
  return { notified: true };
}

export { HEALING_MACHINES, type ClusterSettings };
