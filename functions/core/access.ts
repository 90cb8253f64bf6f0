// People's access to a cluster (`kubeha access grant|revoke|list`): a client certificate issued on a
// master by kubeadm, bound by RBAC to a ClusterRole, its kubeconfig kept in the user's own secret
// (`kubeha/<stage>/<cluster>/users/<user>`). The kubeconfig never passes through here: the master
// writes it into Secrets Manager itself, and what comes back is where it is and until when.
import type { ClusterInstance } from './cluster.js';
import { type ClusterContext, type StepName, type StepResult, buildCommand, interpretInvocations, type CommandEnvironment } from './commands.js';
import { ClusterStateError, InputValidationError } from './errors.js';
import * as names from './names.js';
import { parameterPattern } from './parameter-patterns.js';
import type { Ports } from './ports.js';

/** Certificates kubeha issues last at most 30 days: revocation cannot end them sooner (see README). */
export const MAX_TTL_HOURS = 720;
export const DEFAULT_TTL_HOURS = 24;
export const DEFAULT_CLUSTER_ROLE = 'view';

export interface GrantRequest {
  readonly user: string;
  readonly group: string;
  readonly clusterRole: string;
  readonly ttlHours: number;
}

/** `--ttl` as `12h` or `7d` (or plain hours), within 1 h and MAX_TTL_HOURS. */
export function parseTtl(value: string | undefined): number | { reason: string } {
  if (value === undefined) return DEFAULT_TTL_HOURS;
  const match = /^(\d{1,4})([hd]?)$/.exec(value.trim());
  if (!match) return { reason: `is "${value}"; give hours or days such as 8h or 7d` };
  const hours = Number(match[1]) * (match[2] === 'd' ? 24 : 1);
  if (hours < 1) return { reason: 'must be at least 1h' };
  if (hours > MAX_TTL_HOURS) return { reason: `must be at most ${MAX_TTL_HOURS}h (30 days): a client certificate cannot be revoked, so keep it short` };
  return hours;
}

/** Validates what `access grant` was given, naming each bad option; nothing is sent before this passes. */
export function validateGrant(input: { user?: string | undefined; group?: string | undefined; clusterRole?: string | undefined; ttl?: string | undefined }): GrantRequest {
  const issues: { field: string; reason: string }[] = [];
  const user = checkUser(input.user, issues);
  const group = input.group ?? '';
  if (!input.group) issues.push({ field: '--group', reason: 'is required' });
  // system:masters skips RBAC altogether, so no binding could take it away again; any system: group is Kubernetes' own.
  else if (/^system:/.test(group)) issues.push({ field: '--group', reason: `is "${group}": system groups (system:masters bypasses RBAC) are Kubernetes' own and cannot be granted` });
  else if (!parameterPattern('UserGroup').test(group)) issues.push({ field: '--group', reason: `is "${group}": use 2-64 lowercase letters, digits, ., _ or -` });
  const clusterRole = input.clusterRole ?? DEFAULT_CLUSTER_ROLE;
  if (!parameterPattern('ClusterRole').test(clusterRole)) issues.push({ field: '--cluster-role', reason: `is "${clusterRole}", which is not a ClusterRole name` });
  const ttl = parseTtl(input.ttl);
  if (typeof ttl !== 'number') issues.push({ field: '--ttl', reason: ttl.reason });
  if (issues.length > 0) throw new InputValidationError(issues);
  return { user, group, clusterRole, ttlHours: ttl as number };
}

export function validateUser(user: string | undefined): string {
  const issues: { field: string; reason: string }[] = [];
  const checked = checkUser(user, issues);
  if (issues.length > 0) throw new InputValidationError(issues);
  return checked;
}

function checkUser(user: string | undefined, issues: { field: string; reason: string }[]): string {
  if (!user) issues.push({ field: '--user', reason: 'is required' });
  else if (/^system:/.test(user)) issues.push({ field: '--user', reason: `is "${user}": system: names belong to Kubernetes' own components` });
  else if (!parameterPattern('UserName').test(user)) issues.push({ field: '--user', reason: `is "${user}": use 2-64 lowercase letters, digits, ., @, _ or -, starting with a letter` });
  return user ?? '';
}

/** The stage comes from KUBEHA_STAGE as for the cluster's other secrets (join-material.ts). */
export function userSecretName(clusterName: string, user: string, stage = deployedStage()): string {
  return names.userSecretName(stage, clusterName, user);
}

function deployedStage(): string {
  const stage = process.env.KUBEHA_STAGE;
  if (!stage) throw new Error('KUBEHA_STAGE is not set (the CLI sets it from --stage)');
  return stage;
}

export interface AccessEntry {
  readonly user: string;
  readonly group: string;
  readonly clusterRole: string;
  readonly expiresAt: string;
  readonly expired: boolean;
  readonly secretName: string;
}

/** Who has access, from the users' secrets' names and tags: no value is read. */
export async function listAccess(clusterName: string, ports: Pick<Ports, 'secrets' | 'clock'>, stage = deployedStage()): Promise<AccessEntry[]> {
  const prefix = names.userSecretPrefix(stage, clusterName);
  const secrets = await ports.secrets.listSecrets(prefix);
  return secrets
    .map((secret) => {
      const expiresAt = secret.tags['kubeha:expires'] ?? '';
      return {
        user: secret.tags['kubeha:user'] ?? secret.name.slice(prefix.length),
        group: secret.tags['kubeha:group'] ?? '',
        clusterRole: secret.tags['kubeha:cluster-role'] ?? '',
        expiresAt,
        expired: expiresAt !== '' && Date.parse(expiresAt) <= ports.clock.now(),
        secretName: secret.name,
      };
    })
    .sort((a, b) => a.user.localeCompare(b.user));
}

/** A joined master with an online agent: where certificates are issued and bindings changed. */
export async function accessMaster(clusterName: string, ports: Pick<Ports, 'ec2' | 'ssm'>): Promise<ClusterInstance> {
  const masters = (await ports.ec2.findClusterInstances(clusterName)).filter((instance) => instance.role === 'master' && instance.ec2State === 'running' && (instance.nodeState === 'joined' || instance.nodeState === 'initialized'));
  const online = await ports.ssm.onlineInstanceIds(masters.map((master) => master.instanceId));
  const master = masters.find((candidate) => online.has(candidate.instanceId));
  if (!master) throw new ClusterStateError('no joined master is running with an online SSM agent');
  return master;
}

/**
 * Runs grant-user-access or revoke-user-access on the master and waits for it (CommandFailedError
 * names the master and the script's reason). Returns the script's result: names and times only.
 */
export async function runAccessStep(
  step: Extract<StepName, 'grant-user-access' | 'revoke-user-access'>,
  input: { cluster: ClusterContext; master: string; user: string; grant?: GrantRequest; secretName: string; timeoutSeconds?: number },
  ports: Pick<Ports, 'ssm' | 'clock'>,
  environment: CommandEnvironment,
): Promise<StepResult> {
  const request = buildCommand(
    {
      step,
      instanceIds: [input.master],
      cluster: input.cluster,
      access: { user: input.user, secretName: input.secretName, ...(input.grant ? { group: input.grant.group, clusterRole: input.grant.clusterRole, validityHours: input.grant.ttlHours } : {}) },
    },
    environment,
  );
  const timeoutSeconds = input.timeoutSeconds ?? 120;
  const sentAt = ports.clock.now();
  const commandId = await ports.ssm.sendCommand({ ...request, timeoutSeconds });
  const pending = { commandId, step, instanceIds: [input.master], deadline: sentAt + timeoutSeconds * 1000, sentAt };
  for (;;) {
    await ports.clock.sleep(2000);
    const invocations = await ports.ssm.commandInvocations(commandId);
    const settled = invocations.every((invocation) => !['Pending', 'InProgress', 'Delayed', 'Cancelling'].includes(invocation.status));
    const withOutput = settled ? await Promise.all(invocations.map(async (invocation) => ({ ...invocation, ...(await ports.ssm.invocationOutput(commandId, invocation.instanceId)) }))) : invocations;
    const progress = interpretInvocations(pending, withOutput, ports.clock.now());
    if (progress.status === 'Success') return progress.results[0] ?? { instanceId: input.master };
  }
}
