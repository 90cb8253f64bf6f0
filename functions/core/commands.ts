// Which SSM document each step runs, with which parameters, and how its outcome is read.
// Parameters carry references to secrets (ARN + version), never their values.
import { z } from 'zod';
import type { NodeState, Role } from './cluster.js';
import { CommandFailedError, CommandTimedOutError } from './errors.js';
import { encryptionSecretName } from './encryption.js';
import { kubeconfigSecretName } from './join-material.js';
import type { LedgerKey } from './command-ledger.js';
import { BOOT_DEADLINE_MS, nextPollSeconds, onPollSlot } from './command-timing.js';
import { mask } from './log.js';
import { checkedParameter, endpointsParameter, externalServicesSchema, mountsParameter, nodeProfilesSchema } from './node-profile.js';
import { documentParameter, documentParameterList, parameterPattern } from './parameter-patterns.js';
import type { CommandInvocation, Ports, SendCommandRequest } from './ports.js';

export const DOCUMENTS = {
  'install-prerequisites': 'InstallPrerequisites',
  'configure-load-balancer': 'ConfigureLoadBalancer',
  'configure-node-proxy': 'ConfigureNodeProxy',
  'init-first-master': 'InitFirstMaster',
  'install-cni': 'InstallCni',
  'refresh-join-material': 'RefreshJoinMaterial',
  'join-control-plane': 'JoinControlPlane',
  'join-worker': 'JoinWorker',
  'verify-cluster': 'VerifyCluster',
  'cluster-status': 'ClusterStatus',
  'remove-etcd-member': 'RemoveEtcdMember',
  'snapshot-etcd': 'SnapshotEtcd',
  'reset-node': 'ResetNode',
  'check-load-balancer': 'CheckLoadBalancer',
  'probe-load-balancer': 'ProbeLoadBalancer',
  'deploy-test-app': 'DeployTestApp',
  'start-probe': 'StartProbe',
  'stop-probe': 'StopProbe',
  'apply-node-profile': 'ApplyNodeProfile',
  'check-external-services': 'CheckExternalServices',
  'grant-user-access': 'GrantUserAccess',
  'revoke-user-access': 'RevokeUserAccess',
  'apply-encryption-config': 'ApplyEncryptionConfig',
  'rewrite-secrets': 'RewriteSecrets',
  'prepare-node-image': 'PrepareNodeImage',
  'renew-certificates': 'RenewCertificates',
} as const;

export type StepName = keyof typeof DOCUMENTS;
export const STEP_NAMES = Object.keys(DOCUMENTS) as [StepName, ...StepName[]];

/** A reference to the join secret: each field becomes a document parameter, so each obeys its pattern. */
export const secretRefSchema = z.strictObject({
  secretArn: documentParameter('JoinSecretArn'),
  versionId: documentParameter('JoinSecretVersionId'),
});

/**
 * The cluster facts that travel through the bootstrap payload: settings and addresses only. Every
 * field that reaches a document parameter is held to that parameter's pattern here too.
 */
export const clusterContextSchema = z.object({
  clusterName: documentParameter('ClusterName'),
  kubernetesVersion: documentParameter('KubernetesVersion'),
  podCidr: documentParameter('PodCidr'),
  serviceCidr: documentParameter('ServiceCidr'),
  cniVersion: documentParameter('CniVersion'),
  loadBalancerPort: z.number().int().min(1024).max(65535),
  elasticIpAllocationId: documentParameter('ElasticIpAllocationId'),
  stepTimeoutMinutes: z.number().int().min(1).max(1440),
  endpoint: documentParameter('ControlPlaneEndpoint'),
  certSans: documentParameterList('CertSans'),
  masterIps: documentParameterList('MasterAddresses'),
  loadBalancerIps: documentParameterList('LoadBalancerAddresses'),
  workerCount: z.number().int().min(0),
  /** Recorded with the settings, so every replacement gets the same profile (node-profile.ts). */
  nodeProfiles: nodeProfilesSchema.optional(),
  externalServices: externalServicesSchema.optional(),
});
export type ClusterContext = z.infer<typeof clusterContextSchema>;

export interface StepRequest {
  readonly step: StepName;
  readonly instanceIds: readonly string[];
  readonly cluster: ClusterContext;
  readonly role?: Role | undefined;
  readonly joinMaterial?: { secretArn: string; versionId: string } | undefined;
  readonly caCertHash?: string | undefined;
  /** remove-etcd-member: the private IP of the node to remove. */
  readonly memberPeerIp?: string | undefined;
  /** cluster-status: `certificates` asks a master for its own certificates only (default full: members and Nodes too). */
  readonly statusScope?: 'full' | 'certificates' | undefined;
  /** renew-certificates: renew the master's certificates when they expire within this many days. */
  readonly renewWithinDays?: number | undefined;
  /** snapshot-etcd: the object name under the cluster's prefix. */
  readonly snapshotLabel?: string | undefined;
  /** start-probe, stop-probe: which drill's probe. */
  readonly drillId?: string | undefined;
  /** apply-encryption-config: the encryption secret version every master of this rotation step renders. */
  readonly encryptionKeysVersionId?: string | undefined;
  /** The targets boot from the prepared node image: the step is expected to end sooner (command-timing.ts). */
  readonly preparedImage?: boolean | undefined;
  /** prepare-node-image on a warm standby: the instance stays itself (no identity clean-up). */
  readonly keepIdentity?: boolean | undefined;
  /** init-first-master: kubeha recorded this cluster as initialized, so a partial state is reported, never reset. */
  readonly initializedBefore?: boolean | undefined;
  /** refresh-join-material: how long the token lives (default JOIN_TOKEN_TTL). */
  readonly tokenTtlMinutes?: number | undefined;
  /**
   * How often to look while the command is likely to finish, when the sender knows better than the step's
   * default (command-timing.ts): 1 s for the only command a healing waits for on its critical path (a
   * batch step otherwise polls every 2 s); more for bootstrap's prerequisite batches of a large fleet, so
   * that many Map iterations polling side by side stay inside SSM's request rate (plan.ts).
   */
  readonly pollEverySeconds?: number | undefined;
  /** With pollEverySeconds: the second of each period in which this command's polls land (command-timing.ts sharePolls). */
  readonly pollSlot?: number | undefined;
  /**
   * The node is a warm standby started at this time (ms) and may still be booting. Its agent registered long
   * ago, so SSM takes the command and holds it as Delayed until the agent reconnects (Systems Manager User
   * Guide, "Understanding command statuses"): sent at once, it runs the moment the node is up, without a
   * boot poll and a round trip before it. The first poll waits for the boot as well, and a node whose agent
   * has not connected by the boot deadline fails the step (command-timing.ts). A replacement launched rather
   * than started carries its launch time too: its first command goes out once its agent is online and its
   * prerequisites ran, after the 38 s from which a start is expected up, so its first look is not put off.
   */
  readonly bootingSince?: number | undefined;
  /**
   * cluster-status: only control-plane Nodes travel on. The report of a 5,000-node cluster is ≈ 450 KB,
   * far beyond a state's 256 KB; healing a master needs only the masters' Nodes and every etcd member.
   */
  readonly nodes?: 'control-plane' | undefined;
  /**
   * join-control-plane, join-worker: read the join's result, which carries what the cluster says of the
   * node (its Node; for a master every etcd member), so healing verifies a join without another command.
   * For a healing's one node only: each result costs a GetCommandInvocation, one per node of a batch.
   */
  readonly report?: boolean | undefined;
  /** grant-user-access, revoke-user-access: who, in which group, bound to which ClusterRole, for how long, stored where. */
  readonly access?: UserAccessRequest | undefined;
}

export interface UserAccessRequest {
  readonly user: string;
  readonly group?: string | undefined;
  readonly clusterRole?: string | undefined;
  readonly validityHours?: number | undefined;
  readonly secretName: string;
}

/** The NodePort of the drill's test application. */
export const DRILL_APP_PORT = '30080';

/** What buildCommand needs from the deployment. */
export interface CommandEnvironment {
  readonly documentPrefix: string;
  /** `-<digest>` of the document set the functions were built with (serverless.yml); none locally. */
  readonly documentSuffix?: string | undefined;
  readonly region: string;
  readonly snapshotBucket?: string | undefined;
}

export interface PendingCommand {
  readonly commandId: string;
  readonly step: StepName;
  readonly instanceIds: string[];
  readonly deadline: number;
  readonly sentAt: number;
  readonly markAs?: NodeState;
  /** More tags to record on success, e.g. the upstreams a load balancer was rendered with. */
  readonly recordTags?: Record<string, string>;
  /** Where the send was recorded (command-ledger.ts), to close it when the command ends. */
  readonly ledger?: LedgerKey;
  /** cluster-status: keep only control-plane Nodes in the result (see StepRequest.nodes). */
  readonly nodes?: 'control-plane';
  /** Seconds the state machine waits before its first poll (command-timing.ts). */
  readonly pollAfterSeconds?: number;
  /** The poll interval while it is likely to finish, when the sender set one (StepRequest.pollEverySeconds). */
  readonly pollEverySeconds?: number;
  /** Read the script's result on success although the step does not always need one (StepRequest.report). */
  readonly report?: true;
  /** The second of each period its polls land in (StepRequest.pollSlot). */
  readonly pollSlot?: number;
  /** Sent to a node still booting (StepRequest.bootingSince): when it started. */
  readonly bootingSince?: number;
  /**
   * Sent to a node still booting: when that boot would be late (command-timing.ts secondsUntilBootIsLate). The
   * step's own timing counts from here rather than from sentAt, so it is not polled slowly behind a usual boot.
   */
  readonly timedFrom?: number;
}

const MARKS: Partial<Record<StepName, NodeState>> = {
  'install-prerequisites': 'prepared',
  'configure-load-balancer': 'configured',
  'init-first-master': 'initialized',
  'join-control-plane': 'joined',
  'join-worker': 'joined',
};

/** Token lifetime registered by refresh-join-material: long enough for one join, short enough to be useless after. */
export const JOIN_TOKEN_TTL = '30m';

export function documentName(prefix: string, step: StepName, suffix = ''): string {
  return `${prefix}${DOCUMENTS[step]}${suffix}`;
}

export function markFor(step: StepName): NodeState | undefined {
  return MARKS[step];
}

/**
 * Steps whose output is a line or two and that run every minute: reconcile's probes. Their output always fits
 * under SSM's 24,000-character inline cut, so the S3 copy (two PUTs per target per run, most of an idle
 * cluster's S3 bill) buys nothing.
 */
const INLINE_OUTPUT_ONLY: ReadonlySet<StepName> = new Set(['probe-load-balancer']);

export function buildCommand(request: StepRequest, environment: CommandEnvironment): SendCommandRequest {
  const { cluster } = request;
  return {
    documentName: documentName(environment.documentPrefix, request.step, environment.documentSuffix),
    // A digest-named document has exactly one version, the one these functions were built for.
    ...(environment.documentSuffix ? { documentVersion: '1' } : {}),
    instanceIds: request.instanceIds,
    parameters: stepParameters(request, environment),
    comment: `kubeha ${cluster.clusterName} ${request.step}`.slice(0, 100),
    timeoutSeconds: 600,
    ...(INLINE_OUTPUT_ONLY.has(request.step) ? { outputToS3: false } : {}),
  };
}

function stepParameters(request: StepRequest, environment: CommandEnvironment): Record<string, string> {
  const { cluster } = request;
  const { region } = environment;
  const executionTimeout = String(cluster.stepTimeoutMinutes * 60);
  const join = () => requireJoinMaterial(request);
  switch (request.step) {
    case 'install-prerequisites':
      return { KubernetesVersion: cluster.kubernetesVersion, Role: request.role ?? 'worker', ExecutionTimeout: executionTimeout };
    case 'configure-load-balancer':
      return {
        ClusterName: cluster.clusterName,
        MasterAddresses: cluster.masterIps.join(','),
        LoadBalancerAddresses: cluster.loadBalancerIps.join(','),
        ListenPort: String(cluster.loadBalancerPort),
        ElasticIpAllocationId: cluster.elasticIpAllocationId,
        Region: region,
        ExecutionTimeout: executionTimeout,
      };
    case 'init-first-master':
      return {
        ClusterName: cluster.clusterName,
        KubernetesVersion: cluster.kubernetesVersion,
        ControlPlaneEndpoint: cluster.endpoint,
        CertSans: cluster.certSans.join(','),
        PodCidr: cluster.podCidr,
        ServiceCidr: cluster.serviceCidr,
        JoinSecretArn: join().secretArn,
        JoinSecretVersionId: join().versionId,
        KubeconfigSecretId: kubeconfigSecretName(cluster.clusterName),
        EncryptionSecretId: encryptionSecretName(cluster.clusterName),
        InitializedBefore: request.initializedBefore === true ? 'true' : 'false',
        Region: region,
        ExecutionTimeout: executionTimeout,
      };
    case 'install-cni':
      return { CniVersion: cluster.cniVersion, PodCidr: cluster.podCidr, ExecutionTimeout: executionTimeout };
    case 'refresh-join-material':
      return {
        JoinSecretArn: join().secretArn,
        JoinSecretVersionId: join().versionId,
        TokenTtl: request.tokenTtlMinutes ? `${request.tokenTtlMinutes}m` : JOIN_TOKEN_TTL,
        Region: region,
        ExecutionTimeout: executionTimeout,
      };
    case 'configure-node-proxy':
      return { MasterAddresses: cluster.masterIps.join(','), ExecutionTimeout: executionTimeout };
    case 'join-worker':
      return {
        ControlPlaneEndpoint: cluster.endpoint,
        MasterAddresses: cluster.masterIps.join(','),
        CaCertHash: requireCaCertHash(request),
        JoinSecretArn: join().secretArn,
        JoinSecretVersionId: join().versionId,
        Region: region,
        ExecutionTimeout: executionTimeout,
      };
    case 'join-control-plane':
      return {
        ControlPlaneEndpoint: cluster.endpoint,
        CaCertHash: requireCaCertHash(request),
        JoinSecretArn: join().secretArn,
        JoinSecretVersionId: join().versionId,
        // Masters only: the worker role may not read the encryption secret, and its document has no such parameter.
        ...(request.step === 'join-control-plane' ? { EncryptionSecretId: encryptionSecretName(cluster.clusterName) } : {}),
        Region: region,
        ExecutionTimeout: executionTimeout,
      };
    case 'apply-encryption-config':
      return {
        EncryptionSecretId: encryptionSecretName(cluster.clusterName),
        EncryptionSecretVersionId: required(request, 'encryptionKeysVersionId', request.encryptionKeysVersionId),
        Region: region,
        ExecutionTimeout: executionTimeout,
      };
    case 'rewrite-secrets':
      return { ExecutionTimeout: executionTimeout };
    case 'verify-cluster':
      return {
        ExpectedControlPlaneNodes: String(cluster.masterIps.length),
        ExpectedWorkerNodes: String(cluster.workerCount),
        ExecutionTimeout: executionTimeout,
      };
    case 'cluster-status':
      return { StatusScope: request.statusScope ?? 'full', ExecutionTimeout: executionTimeout };
    case 'reset-node':
      return { ExecutionTimeout: executionTimeout };
    case 'remove-etcd-member':
      return { MemberPeerIp: required(request, 'memberPeerIp', request.memberPeerIp), ExecutionTimeout: executionTimeout };
    case 'snapshot-etcd':
      return {
        SnapshotBucket: required(request, 'snapshot bucket (KUBEHA_SNAPSHOT_BUCKET)', environment.snapshotBucket),
        ClusterName: cluster.clusterName,
        SnapshotLabel: required(request, 'snapshotLabel', request.snapshotLabel),
        Region: region,
        ExecutionTimeout: executionTimeout,
      };
    case 'check-load-balancer':
    case 'probe-load-balancer':
      return { ListenPort: String(cluster.loadBalancerPort), ExecutionTimeout: executionTimeout };
    case 'deploy-test-app':
      return { AppPort: DRILL_APP_PORT, ExecutionTimeout: executionTimeout };
    case 'start-probe':
      return { DrillId: required(request, 'drillId', request.drillId), ControlPlaneEndpoint: cluster.endpoint, AppPort: DRILL_APP_PORT, ExecutionTimeout: executionTimeout };
    case 'stop-probe':
      return { DrillId: required(request, 'drillId', request.drillId), ExecutionTimeout: executionTimeout };
    case 'apply-node-profile':
      return { Mounts: checkedParameter('Mounts', mountsParameter(request.role === 'worker' ? cluster.nodeProfiles?.worker : undefined)), ExecutionTimeout: executionTimeout };
    case 'check-external-services':
      return { Endpoints: checkedParameter('Endpoints', endpointsParameter(cluster.externalServices)), ExecutionTimeout: executionTimeout };
    case 'grant-user-access': {
      const access = requireAccess(request);
      return {
        UserName: access.user,
        UserGroup: required(request, 'group', access.group),
        ClusterRole: required(request, 'clusterRole', access.clusterRole),
        ValidityHours: String(access.validityHours ?? 24),
        UserSecretId: access.secretName,
        ClusterName: cluster.clusterName,
        Region: region,
        ExecutionTimeout: executionTimeout,
      };
    }
    case 'revoke-user-access': {
      const access = requireAccess(request);
      return { UserName: access.user, UserSecretId: access.secretName, Region: region, ExecutionTimeout: executionTimeout };
    }
    case 'renew-certificates': {
      const days = String(request.renewWithinDays ?? '');
      if (!parameterPattern('RenewWithinDays').test(days)) throw new CommandFailedError(request.step, [{ instanceId: '-', status: 'NotSent', reason: `renewWithinDays must be a whole number of days, not "${days}"` }]);
      return { RenewWithinDays: days, KubeconfigSecretId: kubeconfigSecretName(cluster.clusterName), Region: region, ExecutionTimeout: executionTimeout };
    }
    case 'prepare-node-image':
      return { KubernetesVersion: cluster.kubernetesVersion, CleanIdentity: String(request.keepIdentity !== true), ExecutionTimeout: executionTimeout };
  }
}

function required(request: StepRequest, what: string, value: string | undefined): string {
  if (!value) throw new CommandFailedError(request.step, [{ instanceId: '-', status: 'NotSent', reason: `no ${what} was given` }]);
  return value;
}

function requireAccess(request: StepRequest): UserAccessRequest {
  if (!request.access) throw new CommandFailedError(request.step, [{ instanceId: '-', status: 'NotSent', reason: 'no user was given' }]);
  return request.access;
}

function requireJoinMaterial(request: StepRequest): { secretArn: string; versionId: string } {
  if (!request.joinMaterial) throw new CommandFailedError(request.step, [{ instanceId: '-', status: 'NotSent', reason: 'no join material was minted before this step' }]);
  return request.joinMaterial;
}

function requireCaCertHash(request: StepRequest): string {
  if (!request.caCertHash) throw new CommandFailedError(request.step, [{ instanceId: '-', status: 'NotSent', reason: 'the CA certificate hash is unknown; init-first-master must run first' }]);
  return request.caCertHash;
}

const IN_FLIGHT = new Set(['Pending', 'InProgress', 'Delayed', 'Cancelling']);
/** Steps whose scripts report a machine-readable result that later states use. */
const STEPS_WITH_RESULTS = new Set<StepName>(['init-first-master', 'verify-cluster', 'cluster-status', 'remove-etcd-member', 'snapshot-etcd', 'stop-probe', 'check-external-services', 'grant-user-access', 'revoke-user-access', 'probe-load-balancer', 'renew-certificates']);

export function isInFlight(status: string): boolean {
  return IN_FLIGHT.has(status);
}

/** Steps whose result is read only when the sender asks for it (StepRequest.report). */
export const STEPS_THAT_REPORT = new Set<StepName>(['join-control-plane', 'join-worker']);

function readsResults(command: Pick<PendingCommand, 'step' | 'report'>): boolean {
  return STEPS_WITH_RESULTS.has(command.step) || command.report === true;
}

/** Whether the output of this invocation must be fetched to interpret it. */
export function needsOutput(command: Pick<PendingCommand, 'step' | 'report'>, invocation: CommandInvocation): boolean {
  if (invocation.status === 'Success') return readsResults(command);
  return !IN_FLIGHT.has(invocation.status);
}
const RESULT_PREFIX = 'KUBEHA_RESULT ';
const REASON_LIMIT = 600;

export type StepResult = Record<string, unknown> & { readonly instanceId: string };

export type CommandProgress =
  | { readonly status: 'InProgress'; readonly pending: string[]; readonly pollAfterSeconds: number }
  | { readonly status: 'Success'; readonly finishedAt: number; readonly results: StepResult[] };

/** Reads the invocations of a command: done, still running, failed (throws) or out of time (throws). */
export function interpretInvocations(command: PendingCommand, invocations: readonly CommandInvocation[], now: number): CommandProgress {
  const byInstance = new Map(invocations.map((invocation) => [invocation.instanceId, invocation]));
  const failures = invocations
    .filter((invocation) => !IN_FLIGHT.has(invocation.status) && invocation.status !== 'Success')
    .map((invocation) => ({ instanceId: invocation.instanceId, status: invocation.status, reason: failureReason(invocation) }));
  const pending = command.instanceIds.filter((instanceId) => {
    const invocation = byInstance.get(instanceId);
    return !invocation || IN_FLIGHT.has(invocation.status);
  });
  // A failure is reported once the rest of the batch has ended: the successes get recorded (a re-run
  // skips them) and nothing is left running unwatched. Polls stop as usual at the deadline.
  if (failures.length > 0 && (pending.length === 0 || now > command.deadline)) throw new CommandFailedError(command.step, failures);
  if (pending.length > 0) {
    if (now > command.deadline) throw new CommandTimedOutError(command.step, pending);
    return { status: 'InProgress', pending, pollAfterSeconds: onPollSlot(nextPollSeconds(command.step, (now - Math.max(command.sentAt, command.timedFrom ?? 0)) / 1000, command.pollEverySeconds), now, command) };
  }
  const results = readsResults(command)
    ? command.instanceIds.map((instanceId) => trimResult(command, { ...parseResult(byInstance.get(instanceId)?.stdout ?? ''), instanceId }))
    : [];
  return { status: 'Success', finishedAt: now, results };
}

function trimResult(command: PendingCommand, result: StepResult): StepResult {
  if (command.nodes !== 'control-plane' || !Array.isArray(result.nodes)) return result;
  return { ...result, nodes: (result.nodes as { controlPlane?: boolean }[]).filter((node) => node.controlPlane === true) };
}

/** The machine-readable line a kubeha script prints last: `KUBEHA_RESULT {"json":true}`. */
export function parseResult(stdout: string): Record<string, unknown> {
  const line = stdout
    .split('\n')
    .reverse()
    .find((candidate) => candidate.startsWith(RESULT_PREFIX));
  if (!line) return {};
  try {
    const parsed: unknown = JSON.parse(line.slice(RESULT_PREFIX.length));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function failureReason(invocation: CommandInvocation): string {
  const text = (invocation.stderr?.trim() || invocation.stdout?.trim() || `SSM reported ${invocation.status}`).replace(/\s+/g, ' ');
  return mask(text.length > REASON_LIMIT ? `…${text.slice(-REASON_LIMIT)}` : text);
}

/**
 * SSM holds a command for a node that is not connected as Delayed and delivers it once the node is back, for
 * up to the delivery timeout plus the execution timeout (Systems Manager User Guide, "Understanding command
 * statuses"): a node that stopped or went away would keep the step waiting that long, and a restart would run
 * the command late. Such an invocation counts as undeliverable now, and is cancelled on that node.
 */
export async function failDelayedOnStoppedNodes(command: Pick<PendingCommand, 'commandId' | 'bootingSince'>, statuses: readonly CommandInvocation[], ports: Pick<Ports, 'ssm' | 'ec2' | 'clock'>): Promise<CommandInvocation[]> {
  const delayed = statuses.filter((invocation) => invocation.status === 'Delayed');
  if (delayed.length === 0) return [...statuses];
  // A node started for this command (a warm standby) that is still not connected past the boot deadline
  // will not be: its agent is broken, or it never finished booting. awaitInstance gives up at the same point.
  const bootOverdue = command.bootingSince !== undefined && ports.clock.now() > command.bootingSince + BOOT_DEADLINE_MS;
  const states = new Map(await Promise.all(delayed.map(async (invocation) => [invocation.instanceId, (await ports.ec2.describeInstance(invocation.instanceId))?.ec2State ?? 'gone'] as const)));
  const reasonFor = (state: string | undefined): string | undefined =>
    ['stopping', 'stopped', 'shutting-down', 'terminated', 'gone'].includes(state ?? '')
      ? `the instance is ${state}: SSM held the command as Delayed; cancelled there`
      : bootOverdue
        ? `the instance is ${state} but its SSM agent has not connected ${BOOT_DEADLINE_MS / 60_000} minutes after it was started: cancelled there`
        : undefined;
  const gone = delayed.filter((invocation) => reasonFor(states.get(invocation.instanceId)) !== undefined);
  if (gone.length === 0) return [...statuses];
  await ports.ssm.cancelCommand(command.commandId, gone.map((invocation) => invocation.instanceId));
  return statuses.map((invocation) => (gone.includes(invocation) ? { ...invocation, status: 'Undeliverable' as const, stderr: reasonFor(states.get(invocation.instanceId)) } : invocation));
}
