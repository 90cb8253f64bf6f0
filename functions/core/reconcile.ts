// Reconcile: the level-triggered half of healing. EC2 events only say that an instance changed
// state; a running master with a wedged kubelet, an Elastic IP moved by hand, or upstreams that no
// longer match the masters send nothing. Reconcile looks at each cluster every few minutes, fixes
// small drift itself, and starts a healing workflow for what needs one. When nothing is wrong it
// starts no workflow at all, so an idle cluster costs a few Lambda-seconds per run.
import { type ClusterInstance, type Role, UPSTREAMS_TAG, groupFleet, isStandby } from './cluster.js';
import { type ClusterSettings, placeElasticIp, readClusterSettings } from './bootstrap.js';
import { buildCommand, failDelayedOnStoppedNodes, isInFlight, parseResult } from './commands.js';
import type { CommandEnvironment } from './commands.js';
import { clearStaleLock, readLock } from './cluster-lock.js';
import { type LockRecord, decideOnLock, loadBalancerOrder } from './healing-decisions.js';
import { type ClusterStatusReport, type HealingEnvironment, pointNodeProxies, sendRecordingSuccesses, workersWithStaleProxies } from './healing-steps.js';
import { type ExternalCheckReport, checkExternalServices, externalFindings } from './external-services.js';
import { startHealing } from './incidents.js';
import { CA_TOLD_PREFIX, CERTIFICATES_STATE_KEY, type CertificateExpiry, type ExpiringMaster, type CertificateState, EMPTY_CERTIFICATE_STATE, certificateCheckDue, expiringAuthorities, expiringMasters, recordCertificates } from './certificates.js';
import { type LaunchRecord, launchRecordKey, readLaunchRecords, recordLaunchFacts } from './launch-records.js';
import type { Logger } from './log.js';
import type { Ports } from './ports.js';
import { STANDBY_CLAIM_PREFIX, type StandbyAction, type StandbyClaim, type StandbyProgress, applyStandbyAction, planStandbys, standbyProgress } from './standbys.js';

export interface ReconcileOptions {
  /** How long a node may be NotReady (or its member unhealthy) before a workflow heals it. */
  readonly graceMinutes: number;
  /** How long reconcile waits for the cluster-status command before leaving deep checks to the next run. */
  readonly statusTimeoutSeconds: number;
  /**
   * Above this share of running nodes of a role being sick at once, kubeha heals none of them and tells
   * a human: that many at once is a network or control-plane problem, not node failures (Cluster API's
   * MachineHealthCheck `maxUnhealthy` short-circuits remediation the same way).
   */
  readonly maxUnhealthyFraction?: number;
  /** Healings one run starts at most; the rest start on the next runs. */
  readonly maxHealsPerRun?: number;
}

export const DEFAULT_MAX_UNHEALTHY_FRACTION = 0.4;
/** Two sick nodes at once are still node failures, however small the cluster (2 of 3 workers is 67 %). */
const SICK_NODES_ALWAYS_HEALED = 2;
export const DEFAULT_MAX_HEALS_PER_RUN = 20;

export interface ReconcileState {
  /** instanceId -> epoch ms when reconcile first saw it unhealthy. */
  readonly unhealthySince: Record<string, number>;
  /** Since when healing of sick nodes is held back (too many at once), so a human is told once. */
  readonly heldBackSince?: number | undefined;
}

export type ReconcileAction =
  | { readonly kind: 'delete-stale-lock'; readonly holder: string; readonly version: number }
  | { readonly kind: 'move-elastic-ip'; readonly to: string; readonly from: string | undefined }
  | { readonly kind: 'reconfigure-load-balancers'; readonly instanceIds: string[]; readonly masterIps: string[] }
  | { readonly kind: 'reconfigure-node-proxies'; readonly instanceIds: string[]; readonly masterIps: string[] }
  | { readonly kind: 'start-healing'; readonly instanceId: string; readonly role: Role; readonly state: string; readonly reason: string }
  | { readonly kind: 'mark-replaced'; readonly deadInstanceId: string; readonly replacementId: string }
  | { readonly kind: 'report'; readonly finding: string }
  | { readonly kind: 'alert'; readonly subject: string; readonly message: string }
  | { readonly kind: 'renew-certificates'; readonly executionName: string; readonly masters: string[] }
  | StandbyAction;

/** probe-load-balancer.sh's answer: did a live API server answer /livez through this load balancer's nginx? */
export interface BalancerProbe {
  readonly healthy: boolean;
  readonly reason: string;
}

export interface ClusterView {
  readonly settings: ClusterSettings;
  readonly instances: readonly ClusterInstance[];
  readonly elasticIpHolder: string | undefined;
  readonly lock: { record: LockRecord; version: number; holderStatus: string | undefined } | undefined;
  readonly status: ClusterStatusReport | undefined;
  readonly state: ReconcileState;
  /** Launch records: instances kubeha manages, including those EC2 has forgotten. */
  readonly records: readonly LaunchRecord[];
  /** What ProbeLoadBalancer saw on each running load balancer this run (absent: not probed). */
  readonly balancerProbes?: Readonly<Record<string, BalancerProbe>> | undefined;
  /** Warm standbys: those already claimed, and how each preparing one is doing (standbys.ts). */
  readonly standbys?: { readonly claimed: ReadonlySet<string>; readonly claims?: readonly StandbyClaim[]; readonly progress: Readonly<Record<string, StandbyProgress>> } | undefined;
  readonly now: number;
}

/** Pure: what is wrong with a cluster and what to do about it, plus the state to remember. */
export function planReconcile(view: ClusterView, options: ReconcileOptions): { actions: ReconcileAction[]; state: ReconcileState } {
  const actions: ReconcileAction[] = [];
  const running = view.instances.filter((instance) => instance.ec2State === 'running');
  const fleet = groupFleet(running);

  const staleLock = view.lock !== undefined && decideOnLock(view.lock.record, '', view.lock.holderStatus, view.now).verdict === 'take-over';
  if (view.lock && staleLock) actions.push({ kind: 'delete-stale-lock', holder: view.lock.record.executionArn, version: view.lock.version });
  const healingUnderway = view.lock !== undefined && !staleLock;

  const runningBalancers = running.filter((instance) => instance.role === 'lb');
  if (!runningBalancers.some((balancer) => balancer.instanceId === view.elasticIpHolder) && runningBalancers[0]) {
    actions.push({ kind: 'move-elastic-ip', to: runningBalancers[0].instanceId, from: view.elasticIpHolder });
  }

  const masterIps = fleet.masters.map((master) => master.privateIp).sort();
  const stale = runningBalancers.filter((balancer) => (balancer.tags?.[UPSTREAMS_TAG] ?? '').split(' ').filter(Boolean).sort().join(' ') !== masterIps.join(' '));
  if (stale.length > 0 && masterIps.length > 0 && !healingUnderway) {
    actions.push({ kind: 'reconfigure-load-balancers', instanceIds: runningBalancers.map((balancer) => balancer.instanceId), masterIps });
  }

  const staleProxies = workersWithStaleProxies(running, masterIps);
  if (staleProxies.length > 0 && masterIps.length > 0 && !healingUnderway) {
    actions.push({ kind: 'reconfigure-node-proxies', instanceIds: staleProxies, masterIps });
  }

  // The Elastic IP's holder is running, but does the API answer through it? A hung nginx passes every
  // EC2 and keepalived-state check. Move only to a standby through which the API does answer (when it
  // answers through neither, the masters are the problem and a move would not help), through the load
  // balancer healing path: keyed by the holder, so runs that overlap start it once.
  const holder = runningBalancers.find((balancer) => balancer.instanceId === view.elasticIpHolder);
  const holderProbe = holder ? view.balancerProbes?.[holder.instanceId] : undefined;
  const healthyStandby = runningBalancers.find((balancer) => balancer !== holder && view.balancerProbes?.[balancer.instanceId]?.healthy === true);
  if (holder && holderProbe?.healthy === false && healthyStandby && !healingUnderway) {
    actions.push({ kind: 'start-healing', instanceId: holder.instanceId, role: 'lb', state: 'running', reason: `load balancer ${holder.instanceId} holds the Elastic IP but ${holderProbe.reason}` });
  }

  const unhealthySince: Record<string, number> = {};
  const heals: Extract<ReconcileAction, { kind: 'start-healing' }>[] = [];
  let heldBackSince: number | undefined;
  if (view.status) {
    const sick: Extract<ReconcileAction, { kind: 'start-healing' }>[] = [];
    const nodes = running.filter((candidate) => (candidate.role === 'master' || candidate.role === 'worker') && (candidate.nodeState === 'joined' || candidate.nodeState === 'initialized'));
    for (const instance of nodes) {
      const problem = nodeProblem(view.status, instance);
      if (!problem) continue;
      const since = view.state.unhealthySince[instance.instanceId] ?? view.now;
      unhealthySince[instance.instanceId] = since;
      if (view.now - since >= options.graceMinutes * 60_000 && instance.role) {
        sick.push({ kind: 'start-healing', instanceId: instance.instanceId, role: instance.role, state: 'running', reason: problem });
      }
    }
    const maxFraction = options.maxUnhealthyFraction ?? DEFAULT_MAX_UNHEALTHY_FRACTION;
    const overwhelmed = (['master', 'worker'] as const).filter((role) => {
      const total = nodes.filter((instance) => instance.role === role).length;
      const count = sick.filter((action) => action.role === role).length;
      return count > Math.max(SICK_NODES_ALWAYS_HEALED, maxFraction * total);
    });
    if (overwhelmed.length > 0) {
      heldBackSince = view.state.heldBackSince ?? view.now;
      if (view.state.heldBackSince === undefined) {
        const counts = overwhelmed.map((role) => `${sick.filter((action) => action.role === role).length} of ${nodes.filter((instance) => instance.role === role).length} ${role}s`).join(' and ');
        actions.push({
          kind: 'alert',
          subject: `kubeha ${view.settings.cluster.clusterName}: ${counts} are unhealthy at once; healing held back`,
          message: `${counts} have been unhealthy for more than ${options.graceMinutes} minutes. So many at once points to the network, DNS, the control plane or the CNI rather than to the nodes, and replacing them would not help. kubeha heals none of them until fewer than ${Math.round(maxFraction * 100)} % are unhealthy; look at the cluster, or heal single nodes with kubeha heal.`,
        });
      }
      for (const role of overwhelmed) actions.push({ kind: 'report', finding: `healing of ${role}s held back: more than ${Math.round(maxFraction * 100)} % are unhealthy at once` });
    }
    heals.push(...sick.filter((action) => !overwhelmed.includes(action.role as 'master' | 'worker')));
    const orphans = view.status.members.filter((member) => !fleet.masters.some((master) => master.privateIp === member.peerIp));
    for (const orphan of orphans) actions.push({ kind: 'report', finding: `etcd member ${orphan.name} (${orphan.peerIp}) belongs to no running master` });
  } else {
    Object.assign(unhealthySince, view.state.unhealthySince);
  }

  // Dead instances that no event may have reported: launch records whose instance is gone or stopped.
  const byId = new Map(view.instances.map((instance) => [instance.instanceId, instance]));
  for (const record of view.records) {
    if (record.replacedBy) continue;
    const replacement = view.records.find((candidate) => candidate.replaces === record.instanceId);
    const replacementInstance = replacement ? byId.get(replacement.instanceId) : undefined;
    if (replacementInstance?.ec2State === 'running' && replacementInstance.nodeState !== undefined && replacementInstance.nodeState !== 'prepared') {
      actions.push({ kind: 'mark-replaced', deadInstanceId: record.instanceId, replacementId: replacementInstance.instanceId });
      continue;
    }
    const instance = byId.get(record.instanceId);
    const state = !instance || instance.ec2State === 'terminated' || instance.ec2State === 'shutting-down' ? 'terminated' : instance.ec2State === 'stopped' ? 'stopped' : undefined;
    if (!state || (state === 'stopped' && !view.settings.policy.startStoppedInstances)) continue;
    const since = view.state.unhealthySince[record.instanceId] ?? view.now;
    unhealthySince[record.instanceId] = since;
    if (view.now - since >= options.graceMinutes * 60_000) {
      heals.push({ kind: 'start-healing', instanceId: record.instanceId, role: record.role, state, reason: `${record.role} ${record.instanceId} is ${state}${instance ? '' : ' and forgotten by EC2'}` });
    }
  }
  // Dead instances first (they serve nobody), then the sick; the rest wait for the next runs.
  heals.sort((a, b) => Number(a.state === 'running') - Number(b.state === 'running'));
  actions.push(...heals.slice(0, options.maxHealsPerRun ?? DEFAULT_MAX_HEALS_PER_RUN));

  // Warm standbys after the heals: a heal started now claims a ready one before any is retired or replaced.
  if (view.standbys) {
    const standbys = planStandbys({ settings: view.settings, instances: view.instances, records: view.records, claimed: view.standbys.claimed, claims: view.standbys.claims, progress: view.standbys.progress, now: view.now });
    actions.push(...standbys.actions, ...standbys.findings.map((finding) => ({ kind: 'report' as const, finding })));
  }
  return { actions, state: { unhealthySince, ...(heldBackSince !== undefined ? { heldBackSince } : {}) } };
}

function nodeProblem(status: ClusterStatusReport, instance: ClusterInstance): string | undefined {
  const node = status.nodes.find((candidate) => candidate.internalIp === instance.privateIp);
  if (!node) return 'has no Node object';
  if (!node.ready) return `node ${node.name} is NotReady`;
  if (instance.role === 'master') {
    const member = status.members.find((candidate) => candidate.peerIp === instance.privateIp);
    if (!member) return 'has no etcd member';
    if (!member.healthy) return `etcd member ${member.name} is unhealthy`;
  }
  return undefined;
}

export interface ReconcileReport {
  readonly clusterName: string;
  readonly actions: ReconcileAction[];
  readonly deepChecks: boolean;
  /** Each configured external service as one worker saw it (absent when none is configured). */
  readonly externalServices?: ExternalCheckReport;
}

/** Looks at one cluster, applies the plan, remembers what it saw. */
export async function reconcileCluster(
  clusterName: string,
  ports: Pick<Ports, 'ec2' | 'ssm' | 'state' | 'workflows' | 'notifier' | 'clock'>,
  environment: HealingEnvironment & CommandEnvironment,
  options: ReconcileOptions,
  log: Logger,
): Promise<ReconcileReport | undefined> {
  const settings = await readClusterSettings(clusterName, ports);
  if (!settings) return undefined;
  const [instances, address, storedLock, storedState, storedRecords, storedCertificates] = await Promise.all([
    ports.ec2.findClusterInstances(clusterName),
    ports.ec2.findElasticIp(settings.cluster.elasticIpAllocationId),
    readLock(clusterName, ports),
    ports.state.get<ReconcileState>(clusterName, RECONCILE_STATE_KEY),
    readLaunchRecords(clusterName, ports),
    ports.state.get<CertificateState>(clusterName, CERTIFICATES_STATE_KEY),
  ]);
  const certificateState = storedCertificates?.value ?? EMPTY_CERTIFICATE_STATE;
  // Launch facts are recorded while instances live, so that a replacement never depends on the corpse.
  const { records } = await recordLaunchFacts(clusterName, instances, ports, storedRecords);
  const lock = storedLock ? { record: storedLock.value, version: storedLock.version, holderStatus: await ports.workflows.executionStatus(storedLock.value.executionArn) } : undefined;
  const state: ReconcileState = storedState?.value ?? { unhealthySince: {} };
  const probing = await sendBalancerProbes(settings, instances, address?.instanceId, ports, environment);
  const [{ status, certificates, asked }, external] = await Promise.all([
    readClusterStatusAndCertificates(settings, instances, ports, environment, options, (instanceId) => certificateCheckDue(certificateState, instanceId, ports.clock.now(), settings.policy.certificateRenewalDays, settings.policy.renewCertificates)),
    // A service that does not answer is a finding for a human, never a reason to heal or to stop.
    checkExternalServices(settings.cluster, instances, ports, environment, { timeoutSeconds: options.statusTimeoutSeconds }).catch((error: unknown) => ({
      unknown: `the check could not be sent: ${error instanceof Error ? error.message : String(error)}`,
      endpoints: settings.cluster.externalServices ?? [],
    })),
  ]);
  const balancerProbes = probing ? await readBalancerProbes(probing, ports, options) : undefined;
  const standbys = await readStandbys(settings, instances, ports);

  const plan = planReconcile({ settings, instances, elasticIpHolder: address?.instanceId, lock, status, state, records, balancerProbes, standbys, now: ports.clock.now() }, options);
  plan.actions.push(...externalFindings(external).map((finding) => ({ kind: 'report' as const, finding })));
  const masters = joinedMasters(instances);
  const certificatePlan = planCertificates({
    clusterName,
    masters,
    state: recordCertificates(certificateState, masters, asked, certificates, ports.clock.now()),
    thresholdDays: settings.policy.certificateRenewalDays,
    renew: settings.policy.renewCertificates,
    now: ports.clock.now(),
  });
  plan.actions.push(...certificatePlan.actions);
  for (const action of plan.actions) await apply(action, { settings, instances, records, elasticIpHolder: address?.instanceId }, ports, environment, log);
  // Conditional: a reconcile that overlapped this one and saved first keeps its view.
  if (JSON.stringify(plan.state) !== JSON.stringify(state)) await ports.state.put(clusterName, RECONCILE_STATE_KEY, plan.state, storedState?.version ?? 'absent');
  if (JSON.stringify(certificatePlan.state) !== JSON.stringify(certificateState)) await ports.state.put(clusterName, CERTIFICATES_STATE_KEY, certificatePlan.state, storedCertificates?.version ?? 'absent');
  if (plan.actions.length > 0) log.info('reconciled drift', { clusterName, actions: plan.actions.map((action) => action.kind) });
  return { clusterName, actions: plan.actions, deepChecks: status !== undefined, ...(external ? { externalServices: external } : {}) };
}

/**
 * The claims on standbys and each preparing standby's progress, read only when the cluster wants standbys
 * or has some (a setting lowered to zero still retires them): an idle cluster without any pays nothing.
 */
async function readStandbys(
  settings: ClusterSettings,
  instances: readonly ClusterInstance[],
  ports: Pick<Ports, 'ssm' | 'state'>,
): Promise<ClusterView['standbys']> {
  const wanted = settings.policy.standbys ?? { master: 0, worker: 0 };
  const any = instances.some(isStandby);
  if (wanted.master + wanted.worker === 0 && !any) return undefined;
  const claims = await ports.state.list<StandbyClaim>(settings.cluster.clusterName, STANDBY_CLAIM_PREFIX);
  const claimed = new Set(claims.map((claim) => claim.value.standbyId));
  return { claimed, claims: claims.map((claim) => claim.value), progress: await standbyProgress(instances, claimed, ports) };
}

/** What reconcile remembers between runs, in the state table: an item holds 400 KB, enough for any cluster. */
export const RECONCILE_STATE_KEY = 'reconcile';

/**
 * Asks a joined master for the cluster's view (etcd members, nodes). This Lambda polls for a few
 * seconds on purpose: a state machine would cost transitions on every healthy run.
 */
export async function readClusterStatus(
  settings: ClusterSettings,
  instances: readonly ClusterInstance[],
  ports: Pick<Ports, 'ssm' | 'ec2' | 'clock'>,
  environment: CommandEnvironment,
  options: Pick<ReconcileOptions, 'statusTimeoutSeconds'>,
): Promise<ClusterStatusReport | undefined> {
  return (await readClusterStatusAndCertificates(settings, instances, ports, environment, options, () => false)).status;
}

/**
 * The cluster's view from one master (the asker), and each master's certificate expiry: the same
 * ClusterStatus command goes to the asker and to every other master whose certificates are due a check
 * (certificateDue), as one SendCommand. Certificates live on each master's disk, so each must be asked;
 * they change only when renewed, so the others are asked a few times a day, not on every run.
 * `asked`: the masters the command went to, answered or not.
 */
export async function readClusterStatusAndCertificates(
  settings: ClusterSettings,
  instances: readonly ClusterInstance[],
  ports: Pick<Ports, 'ssm' | 'ec2' | 'clock'>,
  environment: CommandEnvironment,
  options: Pick<ReconcileOptions, 'statusTimeoutSeconds'>,
  certificateDue: (instanceId: string) => boolean,
): Promise<{ status: ClusterStatusReport | undefined; certificates: Record<string, CertificateExpiry | null>; asked: string[] }> {
  const candidates = joinedMasters(instances);
  const online = await ports.ssm.onlineInstanceIds(candidates.map((candidate) => candidate.instanceId));
  const asker = candidates.find((candidate) => online.has(candidate.instanceId));
  if (!asker) return { status: undefined, certificates: {}, asked: [] };
  const others = candidates.filter((candidate) => candidate !== asker && online.has(candidate.instanceId) && certificateDue(candidate.instanceId)).map((candidate) => candidate.instanceId);
  const asked = [asker.instanceId, ...others];
  // The asker reports the whole view (members, every Node: large on a big cluster); the others their
  // certificates only (StatusScope certificates).
  const commands = [
    { commandId: await ports.ssm.sendCommand({ ...buildCommand({ step: 'cluster-status', instanceIds: [asker.instanceId], cluster: settings.cluster }, environment), timeoutSeconds: 60 }), instanceIds: [asker.instanceId] },
    ...(others.length > 0
      ? [{ commandId: await ports.ssm.sendCommand({ ...buildCommand({ step: 'cluster-status', instanceIds: others, cluster: settings.cluster, statusScope: 'certificates' }, environment), timeoutSeconds: 60 }), instanceIds: others }]
      : []),
  ];
  const deadline = ports.clock.now() + options.statusTimeoutSeconds * 1000;
  const finished = new Map<string, Awaited<ReturnType<typeof failDelayedOnStoppedNodes>>>();
  while (ports.clock.now() <= deadline && finished.size < commands.length) {
    await ports.clock.sleep(2000);
    for (const command of commands) {
      if (finished.has(command.commandId)) continue;
      // Delayed on a master that stopped since it answered as online: given up on (and cancelled there) now,
      // as a workflow's step does (bootstrap.ts), not held until this loop's deadline.
      const invocations = await failDelayedOnStoppedNodes({ commandId: command.commandId }, await ports.ssm.commandInvocations(command.commandId), ports);
      if (invocations.length >= command.instanceIds.length && !invocations.some((invocation) => isInFlight(invocation.status))) finished.set(command.commandId, invocations);
    }
  }
  let status: ClusterStatusReport | undefined;
  const certificates: Record<string, CertificateExpiry | null> = {};
  for (const command of commands) {
    const invocations = finished.get(command.commandId);
    // Deep checks wait for the next run; this command must not linger beside that run's.
    if (!invocations) {
      await ports.ssm.cancelCommand(command.commandId);
      continue;
    }
    for (const invocation of invocations.filter((candidate) => candidate.status === 'Success')) {
      const report = parseResult((await ports.ssm.invocationOutput(command.commandId, invocation.instanceId)).stdout) as Partial<ClusterStatusReport>;
      certificates[invocation.instanceId] = report.certificates ?? null;
      if (invocation.instanceId === asker.instanceId && Array.isArray(report.members) && Array.isArray(report.nodes)) status = report as ClusterStatusReport;
    }
  }
  return { status, certificates, asked };
}

/**
 * `<cluster>-certs-<earliest expiry, 20271201T051912Z>-<day of the attempt, 20271130>`: one attempt per
 * day (a failed execution's name stays taken for 90 days, so a name keyed by the expiry alone would never
 * be tried again); at most 32 + 23 + 9 = 64 of the 80 characters a name may have.
 */
export function renewalExecutionName(clusterName: string, expiresAt: string, now: number): string {
  return `${clusterName}-certs-${expiresAt.replace(/[-:]/g, '').replace(/\.\d+/, '')}-${utcDay(now)}`;
}

/** The UTC day of a moment, YYYYMMDD. */
function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10).replace(/-/g, '');
}

/** Days left at or under which a human is told every day, renewal or not. */
export const CERTIFICATE_URGENT_DAYS = 7;

function joinedMasters(instances: readonly ClusterInstance[]): ClusterInstance[] {
  return instances.filter((instance) => instance.role === 'master' && instance.ec2State === 'running' && (instance.nodeState === 'joined' || instance.nodeState === 'initialized'));
}

/**
 * What to do about certificates close to expiry: a finding for every run, and a human told once per
 * master and certificate period. Pure.
 */
export function planCertificates(input: {
  readonly clusterName: string;
  readonly masters: readonly ClusterInstance[];
  readonly state: CertificateState;
  readonly thresholdDays: number;
  /** healing.renewCertificates: start renew-certificates (else only tell a human). */
  readonly renew: boolean;
  readonly now: number;
}): { actions: ReconcileAction[]; state: CertificateState } {
  const { clusterName, masters, thresholdDays, now } = input;
  const actions: ReconcileAction[] = [];
  const told = { ...input.state.told };
  const expiring = expiringMasters(input.state, masters, thresholdDays, now);
  for (const master of expiring) {
    actions.push({ kind: 'report', finding: `the certificates of master ${master.instanceId} (${master.privateIp}) expire at ${master.expiresAt} (${master.name}), within ${thresholdDays} days` });
  }
  // Renewal: one execution per day, named after the earliest expiry it renews and the day, so runs that
  // overlap or repeat start it once a day (StartExecution refuses a second execution of that name). A
  // renewal that fails tells a human itself; it is tried again the next day. renewing[instanceId] is
  // `<expiry>@<day>` of the last attempt (a bare expiry: an attempt on an earlier day).
  const renewing = { ...(input.state.renewing ?? {}) };
  // With one or two masters (etcd voters) a restart stops etcd (assessRestartQuorum): no renewal is started,
  // and a human is told once per certificate period that it needs downtime.
  const renew = input.renew && masters.length >= 3;
  const today = utcDay(now);
  const lastAttempt = (master: ExpiringMaster) => {
    const [expiresAt, day] = (renewing[master.instanceId] ?? '').split('@');
    return expiresAt === master.expiresAt ? (day ?? '') : undefined;
  };
  // Still within the window after an attempt on an earlier day: that attempt did not renew it.
  const failedBefore = renew ? expiring.filter((master) => { const day = lastAttempt(master); return day !== undefined && day !== today; }) : [];
  const unattempted = expiring.filter((master) => lastAttempt(master) !== today);
  if (renew && unattempted.length > 0) {
    actions.push({ kind: 'renew-certificates', executionName: renewalExecutionName(clusterName, unattempted[0]!.expiresAt, now), masters: unattempted.map((master) => master.instanceId) });
    for (const master of unattempted) renewing[master.instanceId] = `${master.expiresAt}@${today}`;
  }
  // A human is told, at most once a day per master, when an attempt did not renew a master or when a
  // master has CERTIFICATE_URGENT_DAYS or fewer left, whatever kubeha is doing about it.
  const warned = { ...(input.state.warned ?? {}) };
  const urgent = expiring.filter((master) => warned[master.instanceId] !== today && (failedBefore.includes(master) || master.daysLeft <= CERTIFICATE_URGENT_DAYS));
  if (urgent.length > 0) {
    const failing = urgent.filter((master) => failedBefore.includes(master));
    actions.push({
      kind: 'alert',
      subject: failing.length > 0 ? `kubeha ${clusterName}: certificates of ${urgent.length} master${urgent.length === 1 ? '' : 's'} still expire after a renewal attempt` : `kubeha ${clusterName}: certificates of ${urgent.length} master${urgent.length === 1 ? '' : 's'} expire within ${CERTIFICATE_URGENT_DAYS} days`,
      message: `${urgent.map((master) => `${master.instanceId} (${master.privateIp}): ${master.name} expires at ${master.expiresAt}, ${master.daysLeft} days left${failedBefore.includes(master) ? `, not renewed by the attempt of ${lastAttempt(master) || 'an earlier day'}` : ''}`).join('; ')}. ${renew ? 'kubeha tries renew-certificates once a day; see its failed executions for why it stopped. ' : ''}Once they expire that master's API server and etcd member stop: renew them by hand (kubeha renew-certificates, or kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-certs/#manual-certificate-renewal).`,
    });
    for (const master of urgent) warned[master.instanceId] = today;
  }
  const untold = renew ? [] : expiring.filter((master) => told[master.instanceId] !== master.expiresAt);
  if (untold.length > 0) {
    actions.push({
      kind: 'alert',
      subject: `kubeha ${clusterName}: certificates of ${untold.length} master${untold.length === 1 ? '' : 's'} expire within ${thresholdDays} days`,
      message: `${untold.map((master) => `${master.instanceId} (${master.privateIp}): ${master.name} expires at ${master.expiresAt}`).join('; ')}. kubeadm's certificates last one year and only \`kubeadm certs renew all\` (or an upgrade) renews them; once they expire that master's API server and etcd member stop. Renew them on one master at a time, then restart its static pods (kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-certs/#manual-certificate-renewal).${input.renew && !renew ? ` kubeha does not renew them itself: with ${masters.length} master${masters.length === 1 ? '' : 's'}, etcd stops while any one restarts, so the renewal needs downtime a human decides on.` : ''}`,
    });
    for (const master of untold) told[master.instanceId] = master.expiresAt;
  }
  const authorities = expiringAuthorities(input.state, masters, thresholdDays, now).filter((ca) => told[`${CA_TOLD_PREFIX}${ca.name}`] !== ca.expiresAt);
  const firstOfEach = [...new Map(authorities.map((ca) => [ca.name, ca])).values()];
  if (firstOfEach.length > 0) {
    actions.push({
      kind: 'alert',
      subject: `kubeha ${clusterName}: a certificate authority expires within ${thresholdDays} days`,
      message: `${firstOfEach.map((ca) => `${ca.name} expires at ${ca.expiresAt}`).join('; ')}. kubeha does not rotate certificate authorities: see kubernetes.io/docs/tasks/tls/manual-rotation-of-ca-certificates/.`,
    });
    for (const ca of firstOfEach) told[`${CA_TOLD_PREFIX}${ca.name}`] = ca.expiresAt;
  }
  return { actions, state: { ...input.state, told, renewing, warned } };
}

/**
 * Sends ProbeLoadBalancer to the running load balancers when one of them holds the Elastic IP and
 * another could take it over; read after the cluster status, so both commands run side by side.
 */
async function sendBalancerProbes(
  settings: ClusterSettings,
  instances: readonly ClusterInstance[],
  holderId: string | undefined,
  ports: Pick<Ports, 'ssm'>,
  environment: CommandEnvironment,
): Promise<{ commandId: string; instanceIds: string[] } | undefined> {
  const balancers = instances.filter((instance) => instance.role === 'lb' && instance.ec2State === 'running');
  if (balancers.length < 2 || !balancers.some((balancer) => balancer.instanceId === holderId)) return undefined;
  const online = await ports.ssm.onlineInstanceIds(balancers.map((balancer) => balancer.instanceId));
  const instanceIds = balancers.filter((balancer) => online.has(balancer.instanceId)).map((balancer) => balancer.instanceId);
  if (!instanceIds.includes(holderId ?? '')) return undefined;
  const request = buildCommand({ step: 'probe-load-balancer', instanceIds, cluster: settings.cluster }, environment);
  return { commandId: await ports.ssm.sendCommand({ ...request, timeoutSeconds: 60 }), instanceIds };
}

/** Each load balancer's probe result; a probe that did not finish in time reports nothing about it. */
export async function readBalancerProbes(
  probing: { commandId: string; instanceIds: string[] },
  ports: Pick<Ports, 'ssm' | 'ec2' | 'clock'>,
  options: Pick<ReconcileOptions, 'statusTimeoutSeconds'>,
): Promise<Record<string, BalancerProbe>> {
  const deadline = ports.clock.now() + options.statusTimeoutSeconds * 1000;
  // A probe Delayed on a load balancer that stopped since it answered as online ends now (cancelled there,
  // bootstrap.ts), so the other's probe is read without waiting for the deadline.
  const poll = async () => failDelayedOnStoppedNodes({ commandId: probing.commandId }, await ports.ssm.commandInvocations(probing.commandId), ports);
  let invocations = await poll();
  while (invocations.some((invocation) => isInFlight(invocation.status)) && ports.clock.now() <= deadline) {
    await ports.clock.sleep(2000);
    invocations = await poll();
  }
  if (invocations.some((invocation) => isInFlight(invocation.status))) await ports.ssm.cancelCommand(probing.commandId);
  const probes: Record<string, BalancerProbe> = {};
  for (const invocation of invocations.filter((candidate) => candidate.status === 'Success')) {
    const result = parseResult((await ports.ssm.invocationOutput(probing.commandId, invocation.instanceId)).stdout);
    if (typeof result.healthy === 'boolean') probes[invocation.instanceId] = { healthy: result.healthy, reason: typeof result.reason === 'string' ? result.reason.slice(0, 200) : '' };
  }
  return probes;
}

async function apply(
  action: ReconcileAction,
  view: { settings: ClusterSettings; instances: readonly ClusterInstance[]; records: readonly LaunchRecord[]; elasticIpHolder: string | undefined },
  ports: Pick<Ports, 'ec2' | 'ssm' | 'state' | 'workflows' | 'notifier' | 'clock'>,
  environment: HealingEnvironment & CommandEnvironment,
  log: Logger,
): Promise<void> {
  const { settings } = view;
  const clusterName = settings.cluster.clusterName;
  switch (action.kind) {
    case 'delete-stale-lock': {
      const stale = await readLock(clusterName, ports);
      if (stale && stale.version === action.version) await clearStaleLock(clusterName, stale, ports);
      return;
    }
    case 'move-elastic-ip':
      await placeElasticIp(settings.cluster.elasticIpAllocationId, action.to, ports);
      return;
    case 'reconfigure-load-balancers': {
      // The holder of the Elastic IP first, so keepalived's priorities agree with where the address is.
      const balancers = groupFleet(view.instances).loadBalancers;
      const cluster = { ...settings.cluster, masterIps: action.masterIps, loadBalancerIps: loadBalancerOrder(balancers, view.elasticIpHolder) };
      const request = buildCommand({ step: 'configure-load-balancer', instanceIds: action.instanceIds, cluster }, environment);
      // The tag is what the next run compares with: written only where the command succeeded, so a
      // failed one is sent again next run (the script changes nothing where nginx is right already).
      await sendRecordingSuccesses([request], { [UPSTREAMS_TAG]: action.masterIps.join(' ') }, ports);
      return;
    }
    case 'reconfigure-node-proxies': {
      const cluster = { ...settings.cluster, masterIps: action.masterIps };
      const sent = await pointNodeProxies({ cluster, instanceIds: action.instanceIds }, ports, environment);
      log.info('pointed workers\' API proxies at the masters', { clusterName, workers: sent.workers, commands: sent.commands });
      return;
    }
    case 'start-healing':
      await startHealing(
        { clusterName, instanceId: action.instanceId, role: action.role, state: action.state, trigger: `reconcile: ${action.reason}`, kind: 'reconcile', observedAt: ports.clock.now() },
        ports,
        environment,
        log,
      );
      return;
    case 'mark-replaced': {
      const dead = await ports.state.get<LaunchRecord>(clusterName, launchRecordKey(action.deadInstanceId));
      if (dead && !dead.value.replacedBy) await ports.state.put(clusterName, launchRecordKey(action.deadInstanceId), { ...dead.value, replacedBy: action.replacementId }, dead.version);
      return;
    }
    case 'report':
      log.warn('drift that needs a human', { clusterName, finding: action.finding });
      return;
    case 'alert':
      await ports.notifier.publish(action.subject, action.message);
      return;
    case 'renew-certificates': {
      const started = await ports.workflows.startExecution(`${environment.stateMachineArnPrefix}renew-certificates`, action.executionName, { clusterName });
      if (started.started) log.info('started the renewal of certificates close to expiry', { clusterName, executionName: action.executionName, masters: action.masters });
      return;
    }
    case 'launch-standby':
    case 'prepare-standby':
    case 'finish-standby':
    case 'retire-standby':
    case 'forget-standby-claim':
      await applyStandbyAction(action, view, ports, environment);
      log.info('kept the warm standbys', { clusterName, action: action.kind, ...('instanceId' in action ? { instanceId: action.instanceId } : 'role' in action ? { role: action.role } : { standbyId: action.standbyId }) });
      return;
  }
}
