// The bootstrap use cases, one per state-machine Task. Each takes plain input and the ports it needs.
import { DEFAULT_CERTIFICATE_RENEWAL_DAYS } from './certificates.js';
import { type ClusterInstance, NODE_STATE_TAG, UPSTREAMS_TAG, groupFleet, isStandby } from './cluster.js';
import {
  type ClusterContext,
  type CommandEnvironment,
  type CommandProgress,
  type PendingCommand,
  type StepRequest,
  buildCommand,
  clusterContextSchema,
  failDelayedOnStoppedNodes,
  interpretInvocations,
  markFor,
  needsOutput,
} from './commands.js';
import { z } from 'zod';
import { type ClusterConfig, parseBootstrapInput } from './config.js';
import { closeLedger, ledgerKey, sendOnce } from './command-ledger.js';
import { firstPollSeconds, onPollSlot, secondsUntilBootIsLate, secondsUntilBooted } from './command-timing.js';
import { ClusterStateError, CommandTimedOutError, PreflightFailedError } from './errors.js';
import type { NodeImage } from './node-image.js';
import { type JoinKind, joinSecretName, kubeconfigSecretName, mintJoinMaterial, settingsParameterName } from './join-material.js';
import { JOIN_KINDS } from './names.js';
import type { Logger } from './log.js';
import { type BootstrapPlan, HISTORY_EVENT_BUDGET, HISTORY_EVENTS_PER_WORKER_BATCH, HISTORY_EVENT_LIMIT, planBootstrap, worstCaseHistoryEvents } from './plan.js';
import { recordLaunchFacts } from './launch-records.js';
import { documentParameter } from './parameter-patterns.js';
import type { CommandInvocation, Ports, SecretRef } from './ports.js';
import { type Finding, blockingFindings, preflightFindings } from './preflight.js';

export type { CommandEnvironment as Environment } from './commands.js';

export function validateBootstrapInput(raw: unknown, ports: Pick<Ports, 'clock'>): ClusterConfig {
  return parseBootstrapInput(raw, new Date(ports.clock.now()));
}

/** The cluster's members: its warm standbys carry the cluster tag too, but are kubeha's spares, not nodes to bootstrap or check. */
export async function discoverCluster(config: ClusterConfig, ports: Pick<Ports, 'ec2'>): Promise<ClusterInstance[]> {
  return (await ports.ec2.findClusterInstances(config.clusterName)).filter((instance) => !isStandby(instance));
}

export interface PreflightOutcome {
  readonly plan: BootstrapPlan;
  readonly cluster: ClusterContext;
  readonly warnings: Finding[];
}

export interface PreflightReport {
  readonly findings: Finding[];
  /** Present when nothing blocks: the plan and the cluster context bootstrap would use. */
  readonly outcome?: PreflightOutcome;
}

/** Runs every check against AWS without changing anything and reports every finding. */
export async function preflightReport(
  config: ClusterConfig,
  instances: readonly ClusterInstance[],
  ports: Pick<Ports, 'ec2' | 'ssm' | 'secrets'>,
): Promise<PreflightReport> {
  const subnetIds = unique(instances.map((instance) => instance.subnetId));
  const groupIds = unique(instances.flatMap((instance) => instance.securityGroupIds ?? []));
  const secretNames = [...JOIN_KINDS.map((kind) => joinSecretName(config.clusterName, kind)), kubeconfigSecretName(config.clusterName)];
  const [subnets, elasticIp, onlineAgents, secretArns, ingress] = await Promise.all([
    subnetIds.length > 0 ? ports.ec2.subnetCidrs(subnetIds) : Promise.resolve([]),
    ports.ec2.findElasticIp(config.elasticIpAllocationId),
    ports.ssm.onlineAgents(instances.map((instance) => instance.instanceId)),
    Promise.all(secretNames.map((name) => ports.secrets.findSecretArn(name))),
    groupIds.length > 0 ? ports.ec2.securityGroupRules(groupIds) : Promise.resolve(undefined),
  ]);
  const securityGroups = ingress && {
    groupsOf: Object.fromEntries(instances.map((instance) => [instance.instanceId, [...(instance.securityGroupIds ?? [])]])),
    ingress,
  };
  const vpcIds = unique(subnets.map((subnet) => subnet.vpcId));
  // Route tables and NAT gateways once per preflight, for the whole VPC: they decide the public address each
  // node reaches the Elastic IP from (endpointPathFindings).
  const [vpcs, routeTables, natGateways] =
    vpcIds.length > 0 ? await Promise.all([ports.ec2.vpcCidrs(vpcIds), ports.ec2.routeTables(vpcIds), ports.ec2.natGateways(vpcIds)]) : [[], [], []];
  const missingSecrets = secretNames.filter((_name, index) => !secretArns[index]);
  const onlineInstanceIds = new Set(onlineAgents.keys());
  const agentVersions = new Map([...onlineAgents].flatMap(([instanceId, agent]) => (agent.agentVersion ? [[instanceId, agent.agentVersion] as const] : [])));
  const findings = preflightFindings(config, {
    instances,
    network: { subnets, vpcs },
    elasticIp,
    onlineInstanceIds,
    agentVersions,
    missingSecrets,
    ...(securityGroups ? { securityGroups } : {}),
    ...(vpcIds.length > 0 ? { egress: { routeTables, natGateways } } : {}),
  });
  if (blockingFindings(findings).length > 0 || !elasticIp) return { findings };

  const fleet = groupFleet(instances);
  const plan = planBootstrap(config, fleet, elasticIp.publicIp);
  const history = worstCaseHistoryEvents(plan, config.stepTimeoutMinutes);
  if (history > HISTORY_EVENT_BUDGET) {
    const batchesAllowed = Math.max(1, Math.floor((HISTORY_EVENT_BUDGET - history) / HISTORY_EVENTS_PER_WORKER_BATCH + plan.workerBatches.length));
    const finding = {
      field: 'workerBatchSize',
      reason: `${plan.workerBatches.length} worker batches could write about ${history} history events, and one execution holds ${HISTORY_EVENT_LIMIT}`,
      fix: `use a workerBatchSize of at least ${Math.ceil(fleet.workers.length / batchesAllowed)} (or a smaller stepTimeoutMinutes)`,
      blocking: true,
    };
    return { findings: [...findings, finding] };
  }
  const cluster: ClusterContext = {
    clusterName: config.clusterName,
    kubernetesVersion: config.kubernetesVersion,
    podCidr: config.podCidr,
    serviceCidr: config.serviceCidr,
    cniVersion: config.cni.version,
    loadBalancerPort: config.loadBalancerPort,
    elasticIpAllocationId: config.elasticIpAllocationId,
    stepTimeoutMinutes: config.stepTimeoutMinutes,
    endpoint: plan.endpoint.address,
    certSans: plan.certSans,
    masterIps: fleet.masters.map((master) => master.privateIp),
    loadBalancerIps: fleet.loadBalancers.map((balancer) => balancer.privateIp),
    workerCount: fleet.workers.length,
    ...(config.nodeProfiles ? { nodeProfiles: config.nodeProfiles } : {}),
    ...(config.externalServices?.length ? { externalServices: config.externalServices } : {}),
  };
  return { findings, outcome: { plan, cluster, warnings: findings.filter((finding) => !finding.blocking) } };
}

/** Preflight for the state machine: throws PreflightFailedError on any blocking finding. */
export async function preflightCluster(
  config: ClusterConfig,
  instances: readonly ClusterInstance[],
  ports: Pick<Ports, 'ec2' | 'ssm' | 'secrets'>,
): Promise<PreflightOutcome> {
  const report = await preflightReport(config, instances, ports);
  if (!report.outcome) throw new PreflightFailedError(blockingFindings(report.findings));
  return report.outcome;
}

/**
 * Mints fresh join material of one kind into that kind's secret; returns only where it is: a token for
 * the worker secret, a token and certificate key for the control-plane secret (read by masters only).
 * With `reuseMinutes`, a version minted that recently is handed out again instead: Secrets Manager
 * keeps every version for 24 h and holds about 100, so a mass loss of workers would otherwise reach
 * the quota. Each join registers the token again (refresh-join-material), so reuse costs no validity.
 */
export async function storeFreshJoinMaterial(clusterName: string, kind: JoinKind, ports: Pick<Ports, 'secrets' | 'random' | 'clock'>, reuseMinutes = 0): Promise<SecretRef> {
  const secretName = joinSecretName(clusterName, kind);
  const joinSecretArn = await ports.secrets.findSecretArn(secretName);
  if (!joinSecretArn) throw new ClusterStateError(missingSecretReason(secretName, clusterName));
  if (reuseMinutes > 0) {
    const current = await ports.secrets.currentVersion(joinSecretArn);
    if (current && ports.clock.now() - current.createdAt < reuseMinutes * 60_000) return { secretArn: joinSecretArn, versionId: current.versionId };
  }
  const material = mintJoinMaterial(kind, ports.random);
  return ports.secrets.putSecretValue(joinSecretArn, JSON.stringify(material));
}

/**
 * Sends one step's document. With the execution's ARN the send is idempotent (command-ledger.ts): a
 * retried Task finds the command its first attempt sent.
 */
export async function sendStep(request: StepRequest, ports: Pick<Ports, 'ssm' | 'state' | 'clock'>, environment: CommandEnvironment, executionArn?: string): Promise<PendingCommand> {
  const command = buildCommand(request, environment);
  const ledger = executionArn ? ledgerKey(request.cluster.clusterName, executionArn, request.step, request.instanceIds) : undefined;
  const { commandId, sentAt } = ledger
    ? await sendOnce(ledger, request.instanceIds, (token) => ports.ssm.sendCommand({ ...command, comment: `${command.comment.slice(0, 80)} ${token}` }), ports)
    : { commandId: await ports.ssm.sendCommand(command), sentAt: ports.clock.now() };
  const mark = markFor(request.step);
  // A started standby may still be booting: SSM delivers the command once its agent reconnects.
  const bootingFor = request.bootingSince !== undefined ? (sentAt - request.bootingSince) / 1000 : undefined;
  const bootSeconds = bootingFor !== undefined ? secondsUntilBooted('start', bootingFor) : 0;
  // What a load balancer's nginx or a worker's local API proxy was rendered with (reconcile compares).
  const recordTags = request.step === 'configure-load-balancer' || request.step === 'join-worker' ? { [UPSTREAMS_TAG]: request.cluster.masterIps.join(' ') } : undefined;
  return {
    ...(recordTags ? { recordTags } : {}),
    commandId,
    step: request.step,
    instanceIds: [...request.instanceIds],
    // SSM's execution timeout starts when the agent picks the command up, which may take up to the
    // delivery timeout: kubeha gives up only after both, so it never cuts a command SSM still runs.
    deadline: sentAt + command.timeoutSeconds * 1000 + request.cluster.stepTimeoutMinutes * 60_000,
    sentAt,
    ...(mark ? { markAs: mark } : {}),
    ...(ledger ? { ledger } : {}),
    ...(request.nodes ? { nodes: request.nodes } : {}),
    ...(request.pollEverySeconds ? { pollEverySeconds: request.pollEverySeconds } : {}),
    ...(request.report ? { report: true as const } : {}),
    ...(request.pollEverySeconds && request.pollSlot !== undefined ? { pollSlot: request.pollSlot } : {}),
    ...(request.bootingSince !== undefined && bootingFor !== undefined ? { bootingSince: request.bootingSince, timedFrom: sentAt + secondsUntilBootIsLate('start', bootingFor) * 1000 } : {}),
    pollAfterSeconds: onPollSlot(bootSeconds + firstPollSeconds(request.step, request.preparedImage === true), sentAt, request),
  };
}

/** Polls a command once. On success it records the node state tag so that a re-run skips these nodes. */
export async function awaitStep(command: PendingCommand, ports: Pick<Ports, 'ssm' | 'ec2' | 'state' | 'clock'>, log: Logger): Promise<CommandProgress> {
  const statuses = await failDelayedOnStoppedNodes(command, await ports.ssm.commandInvocations(command.commandId), ports);
  const invocations = await Promise.all(
    statuses.map(async (invocation) =>
      // An invocation judged here (a Delayed one on a stopped node) carries its own reason already.
      needsOutput(command, invocation) && invocation.stderr === undefined ? { ...invocation, ...(await ports.ssm.invocationOutput(command.commandId, invocation.instanceId)) } : invocation,
    ),
  );
  let progress: CommandProgress;
  try {
    progress = interpretInvocations(command, invocations, ports.clock.now());
  } catch (error: unknown) {
    // Given up on: cancel it, so a retried step never runs beside a command still running.
    if (error instanceof CommandTimedOutError) await ports.ssm.cancelCommand(command.commandId);
    if (command.ledger) await closeLedger(command.ledger, ports, command);
    // Record the instances that did succeed, so a re-run skips them and retries only the rest.
    const succeeded = invocations.filter((invocation) => invocation.status === 'Success').map((invocation) => invocation.instanceId);
    if (succeeded.length > 0) await recordSuccess(command, succeeded, ports);
    throw error;
  }
  if (progress.status === 'Success') {
    // Independent writes (the nodes' tags, the ledger's record): side by side, not one after the other.
    await Promise.all([recordSuccess(command, command.instanceIds, ports), command.ledger ? closeLedger(command.ledger, ports, command) : undefined]);
    log.info('step finished', { step: command.step, instanceIds: command.instanceIds, markedAs: command.markAs });
  }
  return progress;
}

async function recordSuccess(command: PendingCommand, instanceIds: readonly string[], ports: Pick<Ports, 'ec2'>): Promise<void> {
  const tags = { ...(command.markAs ? { [NODE_STATE_TAG]: command.markAs } : {}), ...command.recordTags };
  if (Object.keys(tags).length > 0) await ports.ec2.tagInstances(instanceIds, tags);
}

/** Moves the Elastic IP onto the instance unless it is already there. */
export async function placeElasticIp(allocationId: string, instanceId: string, ports: Pick<Ports, 'ec2'>): Promise<{ moved: boolean; publicIp: string }> {
  const address = await ports.ec2.findElasticIp(allocationId);
  if (!address) throw new ClusterStateError(`Elastic IP ${allocationId} no longer exists`);
  if (address.instanceId === instanceId) return { moved: false, publicIp: address.publicIp };
  await ports.ec2.associateElasticIp(allocationId, instanceId);
  return { moved: true, publicIp: address.publicIp };
}

const recordedSettingsSchema = z.object({
  cluster: clusterContextSchema,
  caCertHash: documentParameter('CaCertHash'),
  joinSecretArn: documentParameter('JoinSecretArn'),
  kubeconfigSecretName: documentParameter('KubeconfigSecretId'),
});

export interface ClusterSettings {
  readonly cluster: ClusterContext;
  readonly caCertHash: string;
  readonly firstMasterId: string;
  readonly joinSecretArn: string;
  readonly kubeconfigSecretName: string;
  readonly policy: ClusterConfig['healing'];
  readonly launchTemplates?: ClusterConfig['launchTemplates'];
  /** The prepared node image (kubeha image build) replacements of masters and workers launch from. */
  readonly nodeImage?: NodeImage | undefined;
  readonly recordedAt: string;
}

/** Records what healing needs later. Settings only: secrets stay in Secrets Manager. */
export async function recordClusterSettings(
  input: { cluster: ClusterContext; caCertHash: string; firstMasterId: string; joinSecretArn: string; config: ClusterConfig },
  ports: Pick<Ports, 'ssm' | 'ec2' | 'state' | 'clock'>,
): Promise<ClusterSettings> {
  if (!/^sha256:[a-f0-9]{64}$/.test(input.caCertHash)) {
    throw new ClusterStateError('the CA certificate hash reported by the first master is malformed');
  }
  const { config, ...recorded } = input;
  // A bootstrap run again keeps the prepared image an image build recorded.
  const previous = await ports.ssm.getParameter(settingsParameterName(input.cluster.clusterName));
  const nodeImage = previous ? (JSON.parse(previous) as Partial<ClusterSettings>).nodeImage : undefined;
  const settings: ClusterSettings = {
    ...recorded,
    ...(nodeImage ? { nodeImage } : {}),
    policy: config.healing,
    ...(config.launchTemplates ? { launchTemplates: config.launchTemplates } : {}),
    kubeconfigSecretName: kubeconfigSecretName(input.cluster.clusterName),
    recordedAt: new Date(ports.clock.now()).toISOString(),
  };
  // Every node's launch facts, while they live: a replacement is built from these, not from the corpse.
  await recordLaunchFacts(input.cluster.clusterName, await ports.ec2.findClusterInstances(input.cluster.clusterName), ports);
  await ports.ssm.putParameter(settingsParameterName(input.cluster.clusterName), JSON.stringify(settings));
  return settings;
}

export async function readClusterSettings(clusterName: string, ports: Pick<Ports, 'ssm'>): Promise<ClusterSettings | undefined> {
  const raw = await ports.ssm.getParameter(settingsParameterName(clusterName));
  if (!raw) return undefined;
  const settings = JSON.parse(raw) as ClusterSettings;
  // What comes back from Parameter Store becomes document parameters again: hold it to the same patterns.
  const checked = recordedSettingsSchema.safeParse(settings);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new ClusterStateError(`the recorded settings of ${clusterName} are invalid: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
  }
  // Settings recorded before a policy field existed read as its default.
  const policy = settings.policy ?? { startStoppedInstances: true, recoveryTimeoutMinutes: 10 };
  return { ...settings, policy: { ...policy, certificateRenewalDays: policy.certificateRenewalDays ?? DEFAULT_CERTIFICATE_RENEWAL_DAYS, renewCertificates: policy.renewCertificates ?? true, standbys: policy.standbys ?? { master: 0, worker: 0 } } };
}

export function missingSecretReason(secretName: string, clusterName: string): string {
  return `secret ${secretName} does not exist: add ${clusterName} to the stack's clusters parameter and deploy (npx sls deploy --param="clusters=...,${clusterName}")`;
}

function unique(values: readonly (string | undefined)[]): string[] {
  return [...new Set(values.filter((value): value is string => Boolean(value)))];
}
