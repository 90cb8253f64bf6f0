// Warm standbys: prepared, stopped instances that a heal starts instead of launching a new one, as EC2
// Auto Scaling's warm pools keep "pre-initialized EC2 instances" stopped, costing only their volumes
// (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html). A launched
// replacement boots, waits for its SSM agent to register (≈ 85 s) and installs (≈ 95 s); a started
// standby boots with its agent registered (≈ 45 s), has its prerequisites installed and kubeadm's images
// pulled, so its join is the prepared image's.
//
// A standby carries the cluster tag and STANDBY_FOR_TAG, never kubeha:role: everything that finds the
// cluster's members by role (load-balancer upstreams, quorum, preflight, node proxies, healing, launch
// records) never sees it. Reconcile keeps the wanted number of each role ready (planStandbys), master
// standbys one per zone of the masters (standbyLayout); a heal claims one (claimStandby) with a
// create-only write keyed by the standby, so two heals never take the same one, and reconcile claims one
// the same way before it terminates it.
import { createHash } from 'node:crypto';
import { type ClusterInstance, ROLE_TAG, STANDBY_FOR_TAG, byLaunchThenId, clusterTagKey } from './cluster.js';
import type { ClusterSettings } from './bootstrap.js';
import { type CommandEnvironment, buildCommand, isInFlight } from './commands.js';
import { InsufficientCapacityError, LaunchFailedError } from './errors.js';
import { type LaunchRecord, replacementSpec } from './launch-records.js';
import { preparedImageFor } from './node-image.js';
import type { InvocationStatus, Ports } from './ports.js';

export { STANDBY_FOR_TAG };
export const STANDBY_STATE_TAG = 'kubeha:standby-state';
/** The Kubernetes version a standby was prepared for: one prepared for another is replaced. */
export const STANDBY_VERSION_TAG = 'kubeha:standby-version';
export const STANDBY_TAGS = [STANDBY_FOR_TAG, STANDBY_STATE_TAG, STANDBY_VERSION_TAG] as const;
/** State-table items `standby-claim#<standby>`: who took the standby (a dead instance, or reconcile to retire it). */
export const STANDBY_CLAIM_PREFIX = 'standby-claim#';
/** State-table items `standby-launches#<role>`: how many standbys of a role were launched, the client token's counter. */
export const STANDBY_LAUNCHES_PREFIX = 'standby-launches#';
/** An agent that has not registered this long after launch never will: the standby is replaced. */
export const STANDBY_AGENT_DEADLINE_MS = 15 * 60_000;

export type StandbyRole = 'master' | 'worker';
export const STANDBY_ROLES: readonly StandbyRole[] = ['master', 'worker'];

export interface Standby {
  readonly instanceId: string;
  readonly role: StandbyRole;
  readonly ec2State: string;
  readonly readiness: 'preparing' | 'ready';
  readonly kubernetesVersion: string | undefined;
  readonly availabilityZone: string | undefined;
  readonly subnetId: string | undefined;
  readonly privateIp: string | undefined;
  readonly launchTime: string | undefined;
}

export interface StandbyClaim {
  readonly standbyId: string;
  /** The dead instance it replaces, or `reconcile` when reconcile took it to terminate it. */
  readonly by: string;
  readonly claimedAt: string;
}

export const standbyClaimKey = (standbyId: string): string => `${STANDBY_CLAIM_PREFIX}${standbyId}`;

/** The cluster's standbys that are not members (no kubeha:role), alive, in launch order. */
export function standbysOf(instances: readonly ClusterInstance[]): Standby[] {
  return instances
    .filter((instance) => !instance.tags?.[ROLE_TAG] && (instance.tags?.[STANDBY_FOR_TAG] === 'master' || instance.tags?.[STANDBY_FOR_TAG] === 'worker'))
    .filter((instance) => instance.ec2State !== 'terminated' && instance.ec2State !== 'shutting-down')
    .sort(byLaunchThenId)
    .map((instance) => ({
      instanceId: instance.instanceId,
      role: instance.tags?.[STANDBY_FOR_TAG] as StandbyRole,
      ec2State: instance.ec2State,
      readiness: instance.tags?.[STANDBY_STATE_TAG] === 'ready' ? 'ready' : 'preparing',
      kubernetesVersion: instance.tags?.[STANDBY_VERSION_TAG],
      availabilityZone: instance.availabilityZone,
      subnetId: instance.subnetId,
      privateIp: instance.privateIp,
      launchTime: instance.launchTime,
    }));
}

// ---- keeping them ready (reconcile) ------------------------------------------------------------------

/** What reconcile learnt about a preparing standby this run: is its agent online, how did its preparation go? */
export interface StandbyProgress {
  readonly online: boolean;
  readonly preparation?: { readonly commandId: string; readonly status: InvocationStatus } | undefined;
}

export type StandbyAction =
  | { readonly kind: 'launch-standby'; readonly role: StandbyRole; readonly sourceInstanceId: string; readonly subnetId: string }
  | { readonly kind: 'prepare-standby'; readonly instanceId: string }
  | { readonly kind: 'finish-standby'; readonly instanceId: string }
  | { readonly kind: 'retire-standby'; readonly instanceId: string; readonly reason: string }
  | { readonly kind: 'forget-standby-claim'; readonly standbyId: string };

/** A claim outlives its instance by this much before reconcile deletes it (a retried heal may still look for it). */
export const CLAIM_KEPT_AFTER_INSTANCE_MS = 60 * 60_000;

export interface StandbyView {
  readonly settings: Pick<ClusterSettings, 'cluster' | 'launchTemplates'> & { readonly policy?: Partial<ClusterSettings['policy']> | undefined };
  readonly instances: readonly ClusterInstance[];
  readonly records: readonly LaunchRecord[];
  /** Standbys some heal (or an earlier run) has claimed: theirs, not this plan's. */
  readonly claimed: ReadonlySet<string>;
  /** The claims themselves, so that those of instances long gone are deleted (absent: none looked at). */
  readonly claims?: readonly StandbyClaim[] | undefined;
  readonly progress: Readonly<Record<string, StandbyProgress>>;
  readonly now: number;
}

/**
 * Pure: what to do so that each role has the wanted number of ready, stopped standbys of the cluster's
 * version. Retires the failed, the outdated and the surplus (standbyLayout); prepares and stops those on
 * their way; launches what is missing where standbyLayout puts it, copying a running member of that zone.
 */
export function planStandbys(view: StandbyView): { actions: StandbyAction[]; findings: string[] } {
  const actions: StandbyAction[] = [];
  const findings: string[] = [];
  const wanted = { master: 0, worker: 0, ...(view.settings.policy?.standbys ?? {}) };
  const version = view.settings.cluster.kubernetesVersion;
  const standbys = standbysOf(view.instances).filter((standby) => !view.claimed.has(standby.instanceId));
  for (const role of STANDBY_ROLES) {
    const kept: Standby[] = [];
    for (const standby of standbys.filter((candidate) => candidate.role === role)) {
      const verdict = standbyVerdict(standby, view.progress[standby.instanceId], version, view.now);
      if (verdict.kind === 'retire-standby') {
        actions.push(verdict);
        findings.push(`${role} standby ${standby.instanceId} replaced: ${verdict.reason}`);
        continue;
      }
      if (verdict.kind !== 'keep') actions.push(verdict);
      kept.push(standby);
    }
    const layout = standbyLayout(role, wanted[role], kept, view.instances, view.records);
    for (const { standby, reason } of layout.surplus) {
      // Its preparation or stop, planned above, is moot.
      const at = actions.findIndex((action) => 'instanceId' in action && action.instanceId === standby.instanceId);
      if (at >= 0) actions.splice(at, 1);
      actions.push({ kind: 'retire-standby', instanceId: standby.instanceId, reason });
    }
    if (layout.unplaced > 0) findings.push(unplacedFinding(layout.unplaced, wanted[role], masterZones(view.instances, view.records)));
    const placed = layout.kept.map((standby) => standby.availabilityZone);
    const sourceless: string[] = [];
    for (const zone of layout.missing) {
      const source = standbySource(role, view, placed, zone);
      if (!source) {
        if (zone !== undefined) sourceless.push(zone);
        else {
          findings.push(`no ${role} standby can be launched: no running ${role} has a launch record${view.settings.launchTemplates?.[role] ? ' or a subnet' : ` and the settings name no launchTemplates.${role}`}`);
          break;
        }
        continue;
      }
      placed.push(source.availabilityZone);
      actions.push({ kind: 'launch-standby', role, sourceInstanceId: source.instanceId, subnetId: source.subnetId });
    }
    // A zone whose master is being replaced has none running to copy until its replacement runs: a later run launches.
    const running = new Set(view.instances.filter((instance) => instance.role === role && instance.ec2State === 'running').map((instance) => instance.availabilityZone));
    const empty = sourceless.filter((zone) => !running.has(zone));
    const unrecorded = sourceless.filter((zone) => running.has(zone));
    if (empty.length > 0) findings.push(`no ${role} standby can be launched in ${empty.join(', ')} yet: no ${role} runs there to copy`);
    if (unrecorded.length > 0) {
      findings.push(`no ${role} standby can be launched in ${unrecorded.join(', ')}: no running ${role} there has a launch record${view.settings.launchTemplates?.[role] ? ' or a subnet' : ` and the settings name no launchTemplates.${role}`}`);
    }
  }
  // A claim keeps a heal idempotent while its instance lives; once EC2 no longer lists it, it only takes room.
  const live = new Set(view.instances.map((instance) => instance.instanceId));
  for (const claim of view.claims ?? []) {
    if (!live.has(claim.standbyId) && view.now - Date.parse(claim.claimedAt) > CLAIM_KEPT_AFTER_INSTANCE_MS) actions.push({ kind: 'forget-standby-claim', standbyId: claim.standbyId });
  }
  return { actions, findings };
}

/** Where a role's standbys belong: those kept, those to retire (and why), the zones the missing ones go to. */
export interface StandbyLayout {
  /** The standbys that stay, most advanced and oldest first. */
  readonly kept: readonly Standby[];
  readonly surplus: readonly { readonly standby: Standby; readonly reason: string }[];
  /** One entry per standby to launch: its zone, or undefined where no member of the role runs to copy. */
  readonly missing: readonly (string | undefined)[];
  /** Wanted standbys with no zone to wait in: master standbys beyond the masters' zones. */
  readonly unplaced: number;
}

/** States in which a master holds its zone: alive, or stopped and to be started again. */
const HOLDING_STATES = new Set(['pending', 'running', 'stopping', 'stopped']);

/**
 * The availability zones the masters hold, in the order their masters were launched: those of live masters,
 * and of dead ones that no replacement has taken over yet (EC2 lists a terminated instance for about an hour
 * at most, so their launch records tell): the heal launches the replacement in the dead one's zone, or is
 * about to claim that zone's standby, which must not be retired meanwhile.
 */
export function masterZones(instances: readonly ClusterInstance[], records: readonly LaunchRecord[]): string[] {
  const live = instances.filter((instance) => instance.role === 'master' && HOLDING_STATES.has(instance.ec2State)).sort(byLaunchThenId);
  const liveIds = new Set(live.map((instance) => instance.instanceId));
  const takenOver = new Set(instances.filter((instance) => HOLDING_STATES.has(instance.ec2State)).flatMap((instance) => instance.tags?.['kubeha:replaces'] ?? []));
  const awaiting = records.filter((record) => record.role === 'master' && !record.replacedBy && !liveIds.has(record.instanceId) && !takenOver.has(record.instanceId));
  return [...new Set([...live.map((instance) => instance.availabilityZone), ...awaiting.map((record) => record.availabilityZone)].filter((zone): zone is string => zone !== undefined && zone !== ''))];
}

/**
 * Pure: which of a role's standbys (those still worth keeping) stay, which go, and where the missing ones are
 * launched. Master standbys wait one per zone of the masters (masterZones), never two in one zone and never
 * in a zone without a master: a heal may take a master standby only in the dead master's zone or in a zone
 * no other master holds (claimStandby), so one per master zone is what lets every master's loss be healed
 * from a standby, and a second in the same zone would serve nobody the first cannot. Worker standbys go to
 * the zones of the running workers, the emptiest first. When there are more than wanted, the least advanced
 * go first, then the newest.
 */
export function standbyLayout(role: StandbyRole, wanted: number, standbys: readonly Standby[], instances: readonly ClusterInstance[], records: readonly LaunchRecord[]): StandbyLayout {
  const preference = [...standbys].sort((a, b) => Number(b.readiness === 'ready') - Number(a.readiness === 'ready') || (a.launchTime ?? '').localeCompare(b.launchTime ?? '') || a.instanceId.localeCompare(b.instanceId));
  const surplus: { standby: Standby; reason: string }[] = [];
  let kept: Standby[] = [];
  const zones = role === 'master' ? masterZones(instances, records) : [];
  for (const standby of preference) {
    const zone = standby.availabilityZone;
    if (role === 'master' && (zone === undefined || !zones.includes(zone))) surplus.push({ standby, reason: `no master runs in ${zone ?? 'its zone'}: a master standby waits in a zone of the masters` });
    else if (role === 'master' && kept.some((other) => other.availabilityZone === zone)) surplus.push({ standby, reason: `a second master standby in ${zone}: one waits in each zone of the masters` });
    else kept.push(standby);
  }
  for (const standby of kept.slice(wanted).reverse()) surplus.push({ standby, reason: `more ${role} standbys than the ${wanted} wanted` });
  kept = kept.slice(0, wanted);
  const count = wanted - kept.length;
  if (count <= 0) return { kept, surplus, missing: [], unplaced: 0 };
  if (role === 'master') {
    const free = zones.filter((zone) => !kept.some((standby) => standby.availabilityZone === zone));
    return { kept, surplus, missing: free.slice(0, count), unplaced: Math.max(0, count - free.length) };
  }
  const workerZones = [...new Set(instances.filter((instance) => instance.role === role && instance.ec2State === 'running').sort(byLaunchThenId).map((instance) => instance.availabilityZone))];
  const placed = kept.map((standby) => standby.availabilityZone);
  const missing: (string | undefined)[] = [];
  for (let index = 0; index < count; index += 1) {
    const emptiest = [...workerZones].sort((a, b) => placed.filter((zone) => zone === a).length - placed.filter((zone) => zone === b).length)[0];
    placed.push(emptiest);
    missing.push(emptiest);
  }
  return { kept, surplus, missing, unplaced: 0 };
}

/** Why some master standbys wanted are not launched: the setting asks for more than the masters have zones. */
function unplacedFinding(unplaced: number, wanted: number, zones: readonly string[]): string {
  return `${unplaced} of the ${wanted} master standbys wanted (healing.standbys.master) ${unplaced === 1 ? 'has' : 'have'} no zone to wait in: the masters hold ${zones.length} zone(s)${zones.length ? ` (${zones.join(', ')})` : ''}, and a master standby waits only in a master's zone, one per zone`;
}

export type StandbyVerdict = StandbyAction | { readonly kind: 'keep' };

/** What one standby needs this run, from its tags and what reconcile learnt of its preparation (none: as far as tags tell). */
export function standbyVerdict(standby: Standby, progress: StandbyProgress | undefined, version: string, now: number): StandbyVerdict {
  const { instanceId } = standby;
  if (standby.readiness === 'ready') {
    if (standby.kubernetesVersion !== version) return { kind: 'retire-standby', instanceId, reason: `prepared for Kubernetes ${standby.kubernetesVersion ?? 'unknown'}, the cluster runs ${version}` };
    // Prepared, but the stop did not happen (or someone started it): stop it again once it runs (a pending
    // instance cannot be stopped yet).
    return standby.ec2State === 'running' ? { kind: 'finish-standby', instanceId } : { kind: 'keep' };
  }
  // Launched for a version the cluster has since left: preparing it would install the wrong one.
  if (standby.kubernetesVersion !== undefined && standby.kubernetesVersion !== version) return { kind: 'retire-standby', instanceId, reason: `launched for Kubernetes ${standby.kubernetesVersion}, the cluster runs ${version}` };
  if (standby.ec2State === 'pending') return { kind: 'keep' };
  if (standby.ec2State !== 'running') return { kind: 'retire-standby', instanceId, reason: `it is ${standby.ec2State} before it was prepared` };
  const preparation = progress?.preparation;
  if (preparation) {
    if (preparation.status === 'Success') return { kind: 'finish-standby', instanceId };
    if (isInFlight(preparation.status)) return { kind: 'keep' };
    return { kind: 'retire-standby', instanceId, reason: `its preparation ended ${preparation.status} (command ${preparation.commandId})` };
  }
  if (progress?.online) return { kind: 'prepare-standby', instanceId };
  const launchedAt = Date.parse(standby.launchTime ?? '');
  if (Number.isFinite(launchedAt) && now - launchedAt > STANDBY_AGENT_DEADLINE_MS) return { kind: 'retire-standby', instanceId, reason: 'its SSM agent never registered' };
  return { kind: 'keep' };
}

/**
 * The running member of the role whose launch record a new standby copies. A master standby copies a master
 * of the zone standbyLayout chose, or none (it must wait in that zone). A worker standby prefers that zone,
 * else the zone with the fewest standbys, so a heal in any zone finds one nearby.
 */
function standbySource(role: StandbyRole, view: StandbyView, placed: readonly (string | undefined)[], zone: string | undefined): { instanceId: string; subnetId: string; availabilityZone: string | undefined } | undefined {
  const records = new Map(view.records.map((record) => [record.instanceId, record]));
  const template = view.settings.launchTemplates?.[role];
  const members = view.instances
    .filter((instance) => instance.role === role && instance.ec2State === 'running' && instance.subnetId && (records.has(instance.instanceId) || template))
    .filter((instance) => role === 'worker' || instance.availabilityZone === zone)
    .sort(byLaunchThenId);
  const count = (candidate: string | undefined) => (candidate === zone ? -1 : placed.filter((other) => other === candidate).length);
  const best = [...members].sort((a, b) => count(a.availabilityZone) - count(b.availabilityZone))[0];
  return best ? { instanceId: best.instanceId, subnetId: best.subnetId as string, availabilityZone: best.availabilityZone } : undefined;
}

/** The comment token that finds a standby's preparation command again (SsmPort.findCommand). */
export const preparationToken = (instanceId: string): string => `standby-${instanceId}`;

/** Reads what the plan needs about each preparing standby: its agent, and the preparation sent to it. */
export async function standbyProgress(instances: readonly ClusterInstance[], claimed: ReadonlySet<string>, ports: Pick<Ports, 'ssm'>): Promise<Record<string, StandbyProgress>> {
  const preparing = standbysOf(instances).filter((standby) => standby.readiness === 'preparing' && standby.ec2State === 'running' && !claimed.has(standby.instanceId));
  if (preparing.length === 0) return {};
  const online = await ports.ssm.onlineInstanceIds(preparing.map((standby) => standby.instanceId));
  const progress: Record<string, StandbyProgress> = {};
  for (const standby of preparing) {
    const since = Date.parse(standby.launchTime ?? '') || 0;
    const commandId = online.has(standby.instanceId) ? await ports.ssm.findCommand(standby.instanceId, preparationToken(standby.instanceId), since) : undefined;
    const [invocation] = commandId ? await ports.ssm.commandInvocations(commandId) : [];
    progress[standby.instanceId] = {
      online: online.has(standby.instanceId),
      // A command SSM lists without an invocation yet is one still starting.
      ...(commandId ? { preparation: { commandId, status: invocation?.status ?? 'Pending' } } : {}),
    };
  }
  return progress;
}

/** Applies one standby action. Each is idempotent: a run that repeats it (or overlaps another) changes nothing twice. */
export async function applyStandbyAction(
  action: StandbyAction,
  view: { settings: ClusterSettings; instances: readonly ClusterInstance[]; records: readonly LaunchRecord[] },
  ports: Pick<Ports, 'ec2' | 'ssm' | 'state' | 'clock'>,
  environment: CommandEnvironment,
): Promise<void> {
  const clusterName = view.settings.cluster.clusterName;
  switch (action.kind) {
    case 'launch-standby': {
      await launchStandby(action, view, ports);
      return;
    }
    case 'prepare-standby': {
      // PrepareNodeImage without the identity clean-up: the prerequisites, then kubeadm's images pulled.
      const request = buildCommand({ step: 'prepare-node-image', instanceIds: [action.instanceId], cluster: view.settings.cluster, keepIdentity: true }, environment);
      await ports.ssm.sendCommand({ ...request, comment: `${request.comment} ${preparationToken(action.instanceId)}`.slice(0, 100), timeoutSeconds: 600 });
      return;
    }
    case 'finish-standby': {
      await ports.ec2.tagInstances([action.instanceId], { [STANDBY_STATE_TAG]: 'ready', [STANDBY_VERSION_TAG]: view.settings.cluster.kubernetesVersion });
      await ports.ec2.stopInstance(action.instanceId);
      return;
    }
    case 'retire-standby': {
      // Claimed first, as a heal would: a heal that claimed it a moment ago keeps it.
      const taken = await ports.state.put<StandbyClaim>(clusterName, standbyClaimKey(action.instanceId), { standbyId: action.instanceId, by: 'reconcile', claimedAt: new Date(ports.clock.now()).toISOString() }, 'absent');
      const claim = taken ? undefined : await ports.state.get<StandbyClaim>(clusterName, standbyClaimKey(action.instanceId));
      if (taken || claim?.value.by === 'reconcile') await ports.ec2.terminateTaggedInstances([action.instanceId], STANDBY_FOR_TAG);
      return;
    }
    case 'forget-standby-claim': {
      await ports.state.remove(clusterName, standbyClaimKey(action.standbyId));
      return;
    }
  }
}

/**
 * RunInstances of one standby, copying a live member's launch record (or the role's launch template) in
 * the chosen subnet, from the prepared image when one is recorded. The client token counts the role's
 * standby launches (a state-table counter): a run retried before it counted finds the same instance.
 */
async function launchStandby(
  action: Extract<StandbyAction, { kind: 'launch-standby' }>,
  view: { settings: ClusterSettings; records: readonly LaunchRecord[] },
  ports: Pick<Ports, 'ec2' | 'state'>,
): Promise<string> {
  const clusterName = view.settings.cluster.clusterName;
  const record = view.records.find((candidate) => candidate.instanceId === action.sourceInstanceId);
  const spec = replacementSpec({
    deadInstanceId: action.sourceInstanceId,
    role: action.role,
    clusterTags: { [clusterTagKey(clusterName)]: 'owned' },
    record: record ? { ...record, subnetId: action.subnetId } : undefined,
    template: view.settings.launchTemplates?.[action.role],
    preparedImageId: preparedImageFor(view.settings, action.role),
    fallbackSubnetId: action.subnetId,
  });
  const { [ROLE_TAG]: _role, 'kubeha:replaces': _replaces, ...inherited } = spec.tags;
  const tags = {
    ...inherited,
    Name: `${clusterName}-${action.role}-standby`,
    [STANDBY_FOR_TAG]: action.role,
    [STANDBY_STATE_TAG]: 'preparing',
    [STANDBY_VERSION_TAG]: view.settings.cluster.kubernetesVersion,
  };
  const key = `${STANDBY_LAUNCHES_PREFIX}${action.role}`;
  const counter = await ports.state.get<{ launched: number }>(clusterName, key);
  const launched = counter?.value.launched ?? 0;
  const clientToken = createHash('sha256').update(`${clusterName}|standby|${action.role}|${launched}`).digest('hex').slice(0, 64);
  const instance = await ports.ec2.runInstance({ ...spec, subnetId: action.subnetId, tags }, { clientToken });
  if (instance === 'addressInUse') throw new LaunchFailedError('EC2 reported an address conflict for a standby launched without an address');
  // Conditional: a run that overlapped and counted first used the same token, hence the same instance.
  await ports.state.put(clusterName, key, { launched: launched + 1 }, counter?.version ?? 'absent');
  return instance.instanceId;
}

// ---- using one (heal) --------------------------------------------------------------------------------

export interface ClaimedStandby {
  readonly instanceId: string;
  readonly privateIp: string;
  /** It was already starting or running when this call found it (a retried Task). */
  readonly alreadyBooting: boolean;
}

/**
 * Takes a ready, stopped standby of the role for the dead instance, retags it as a member and starts it.
 * Masters take a standby in the dead master's availability zone, or in a zone where no other master
 * runs, never one beside a live master: etcd members are spread one per zone so that a zone outage costs
 * one vote, and a replacement beside another master would make that zone's outage cost two, quorum with
 * three. A master standby therefore serves the master of its own zone only: reconcile keeps one per zone of
 * the masters (healing.standbys.master up to 3, standbyLayout), and a master lost in a zone without one is
 * launched as before. Workers take the dead one's zone first, then any: pods reschedule
 * across zones, and capacity back sooner matters more than placement.
 *
 * Safe under concurrency: the claim is a create-only write keyed by the standby, so two heals never take
 * the same one (the loser tries the next, or launches). Idempotent per dead instance: a retried Task finds
 * its claim, finishes the retagging and starts it if it is still stopped.
 */
export async function claimStandby(
  input: { clusterName: string; deadInstanceId: string; role: StandbyRole; availabilityZone: string | undefined; kubernetesVersion: string },
  instances: readonly ClusterInstance[],
  ports: Pick<Ports, 'ec2' | 'state' | 'clock'>,
): Promise<ClaimedStandby | undefined> {
  const claims = await ports.state.list<StandbyClaim>(input.clusterName, STANDBY_CLAIM_PREFIX);
  const mine = claims.find((claim) => claim.value.by === input.deadInstanceId);
  // Standbys EC2 would not start in this call: not tried twice.
  const refused = new Set<string>();
  if (mine) {
    const standby = await ports.ec2.describeInstance(mine.value.standbyId);
    const outcome = await startOrGiveBack(standby, input, ports);
    if (outcome !== 'refused') return outcome;
    refused.add(mine.value.standbyId);
  }

  const taken = new Set([...claims.filter((claim) => claim !== mine).map((claim) => claim.value.standbyId), ...refused]);
  const masterZones = new Set(instances.filter((instance) => instance.role === 'master' && instance.instanceId !== input.deadInstanceId && ['pending', 'running', 'stopping', 'stopped'].includes(instance.ec2State)).map((instance) => instance.availabilityZone));
  const candidates = standbysOf(instances)
    .filter((standby) => standby.role === input.role && standby.readiness === 'ready' && standby.ec2State === 'stopped')
    .filter((standby) => standby.kubernetesVersion === input.kubernetesVersion && !taken.has(standby.instanceId))
    .filter((standby) => input.role === 'worker' || (standby.availabilityZone !== undefined && (standby.availabilityZone === input.availabilityZone || !masterZones.has(standby.availabilityZone))))
    .sort((a, b) => Number(b.availabilityZone === input.availabilityZone) - Number(a.availabilityZone === input.availabilityZone));
  for (const standby of candidates) {
    const claim: StandbyClaim = { standbyId: standby.instanceId, by: input.deadInstanceId, claimedAt: new Date(ports.clock.now()).toISOString() };
    // Just listed as stopped: no second look before the start (a standby terminated meanwhile fails the start).
    if (!(await ports.state.put(input.clusterName, standbyClaimKey(standby.instanceId), claim, 'absent'))) continue;
    const outcome = await startOrGiveBack(instances.find((instance) => instance.instanceId === standby.instanceId), input, ports);
    if (outcome !== 'refused') return outcome;
  }
  return undefined;
}

/**
 * Takes a claimed standby over, or gives it back when EC2 has no capacity to start it in its zone now
 * (InsufficientCapacityError): it stays a stopped standby, its member tags and the claim go (its standby tags
 * were never removed), and the heal takes the next one (a worker's, in another zone) or launches. Waiting on
 * the zone would hold the heal up.
 */
async function startOrGiveBack(
  standby: ClusterInstance | undefined,
  input: { clusterName: string; deadInstanceId: string; role: StandbyRole },
  ports: Pick<Ports, 'ec2' | 'state'>,
): Promise<ClaimedStandby | undefined | 'refused'> {
  try {
    return await takeOver(standby, input, ports);
  } catch (error: unknown) {
    if (!(error instanceof InsufficientCapacityError) || !standby) throw error;
    await ports.ec2.untagInstances([standby.instanceId], [ROLE_TAG, 'kubeha:replaces']);
    await ports.state.remove(input.clusterName, standbyClaimKey(standby.instanceId));
    return 'refused';
  }
}

/**
 * Retags a claimed standby as the dead instance's replacement and starts it; each step is skipped once done.
 * The member tags first: from then on reconcile no longer counts it as a standby. The standby tags go after
 * the start, off the heal's critical path (and the start is allowed by the standby tag, infra/iam.cjs).
 */
async function takeOver(standby: ClusterInstance | undefined, input: { deadInstanceId: string; role: StandbyRole }, ports: Pick<Ports, 'ec2'>): Promise<ClaimedStandby | undefined> {
  // Gone since (terminated by hand): the heal launches instead.
  if (!standby || standby.ec2State === 'terminated' || standby.ec2State === 'shutting-down') return undefined;
  const standbyId = standby.instanceId;
  if (standby.tags?.[ROLE_TAG] !== input.role || standby.tags['kubeha:replaces'] !== input.deadInstanceId) {
    await ports.ec2.tagInstances([standbyId], { [ROLE_TAG]: input.role, 'kubeha:replaces': input.deadInstanceId });
  }
  if (standby.ec2State === 'stopped') await ports.ec2.startInstance(standbyId);
  const left = STANDBY_TAGS.filter((key) => standby.tags?.[key] !== undefined);
  if (left.length > 0) await ports.ec2.untagInstances([standbyId], left);
  return { instanceId: standbyId, privateIp: standby.privateIp ?? '', alreadyBooting: standby.ec2State !== 'stopped' };
}
