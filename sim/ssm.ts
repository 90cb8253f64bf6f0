// The simulated SSM API (Run Command and Parameter Store), beside functions/adapters/ssm.ts.
// Unpleasant behaviours modelled, from shared/reality.md ("SSM Run Command") and the SSM API reference:
// - GetCommandInvocation returns only the first 24,000 characters of stdout and 8,000 of stderr, both
//   empty until the command ends; with OutputS3BucketName the whole streams are in S3 and the answer
//   carries their URLs;
// - SendCommand refuses more than 50 targets, and instances whose agent is not registered, or that are
//   shutting down or terminated (InvalidInstanceId); DescribeInstanceInformation lists only registered agents,
//   and none on a stopped or terminated node;
// - PutParameter without Overwrite is create-if-absent (ParameterAlreadyExists); Standard parameters hold 4 KB.
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  GetParameterCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  PutParameterCommand,
  SSMClient,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { DOCUMENTS } from '../functions/core/commands.js';
import { AwsError, type Invocation, type SimInstance, type SimulatedFleet } from './fleet.js';
import { DOCUMENT_SECONDS, documentSeconds, jittered } from './latency.js';
import { runDocument, startDocument } from './node-documents.js';
import { route } from './service.js';

export const INLINE_LIMITS = { stdout: 24_000, stderr: 8_000 } as const;

/** What the agent puts at the end of a stream it cut (iohandler.DefaultOutputConfig, OutputTruncatedSuffix). */
export const OUTPUT_TRUNCATED_SUFFIX = '--output truncated--';

/**
 * The beginning of a stream as the agent reports it: amazon-ssm-agent's pluginutil.StringPrefix counts bytes
 * (Go's len), cuts a stream of maxLength bytes or more to maxLength minus the suffix and appends the suffix, so a
 * multi-byte character may be cut in two (its JSON encoding then carries U+FFFD).
 */
export function agentPrefix(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length < maxBytes) return text;
  return new TextDecoder().decode(bytes.subarray(0, maxBytes - OUTPUT_TRUNCATED_SUFFIX.length)) + OUTPUT_TRUNCATED_SUFFIX;
}

export function installSsm(fleet: SimulatedFleet) {
  const ssm = mockClient(SSMClient);
  ssm.onAnyCommand().rejects(new AwsError('NotModelled', 'the simulated fleet does not model this call'));

  ssm.on(DescribeInstanceInformationCommand).callsFake(
    route(fleet, 'ssm', 'DescribeInstanceInformation', (input: { Filters?: { Key?: string; Values?: string[] }[] }) => {
      const wanted = input.Filters?.find((filter) => filter.Key === 'InstanceIds')?.Values ?? [];
      return {
        InstanceInformationList: wanted
          .map((instanceId) => fleet.instances.get(instanceId))
          // "This operation does not return information for nodes that are either Stopped or Terminated"
          // (DescribeInstanceInformation, SSM API reference): a registered node that is stopped is left out, not listed ConnectionLost.
          .filter((instance) => instance !== undefined && isRegistered(fleet, instance) && instance.state !== 'stopped' && instance.state !== 'terminated')
          .map((instance) => ({ InstanceId: instance!.instanceId, PingStatus: isOnline(fleet, instance!) ? 'Online' : 'ConnectionLost' })),
      };
    }),
  );
  ssm.on(SendCommandCommand).callsFake(
    route(
      fleet,
      'ssm',
      'SendCommand',
      (input: { DocumentName?: string; DocumentVersion?: string; InstanceIds?: string[]; Parameters?: Record<string, string[]>; OutputS3BucketName?: string; OutputS3KeyPrefix?: string; Comment?: string; TimeoutSeconds?: number }) => {
        if ((input.Comment ?? '').length > 100) throw new AwsError('ValidationException', 'Comment must be at most 100 characters');
        // Each digest-named document has one version (SendCommand API reference: a number, $DEFAULT or $LATEST).
        if (input.DocumentVersion !== undefined && !['1', '$DEFAULT', '$LATEST'].includes(input.DocumentVersion)) throw new AwsError('InvalidDocumentVersion', `Document version ${input.DocumentVersion} does not exist`);
        const parameters = Object.fromEntries(Object.entries(input.Parameters ?? {}).map(([key, values]) => [key, values[0] ?? '']));
        const output = input.OutputS3BucketName ? { bucket: input.OutputS3BucketName, prefix: input.OutputS3KeyPrefix ?? '' } : undefined;
        return { Command: { CommandId: sendCommand(fleet, input.DocumentName ?? '', input.InstanceIds ?? [], parameters, output, input.Comment, input.TimeoutSeconds) } };
      },
    ),
  );
  ssm.on(ListCommandInvocationsCommand).callsFake(
    route(fleet, 'ssm', 'ListCommandInvocations', (input: { CommandId?: string }) => ({
      CommandInvocations: pollCommand(fleet, input.CommandId ?? '').map((invocation) => ({
        CommandId: invocation.commandId,
        InstanceId: invocation.instanceId,
        Status: invocation.status,
        DocumentName: invocation.document,
      })),
    })),
  );
  ssm.on(GetCommandInvocationCommand).callsFake(
    route(fleet, 'ssm', 'GetCommandInvocation', (input: { CommandId?: string; InstanceId?: string }) => {
      const invocation = getInvocation(fleet, input.CommandId ?? '', input.InstanceId ?? '');
      const url = (stream: 'stdout' | 'stderr') => {
        const key = outputKey(invocation, stream);
        return key && invocation.output ? `https://s3.${fleet.region}.amazonaws.com/${invocation.output.bucket}/${key}` : '';
      };
      return {
        Status: invocation.status,
        StandardOutputContent: agentPrefix(invocation.stdout, INLINE_LIMITS.stdout),
        StandardErrorContent: agentPrefix(invocation.stderr, INLINE_LIMITS.stderr),
        StandardOutputUrl: url('stdout'),
        StandardErrorUrl: url('stderr'),
      };
    }),
  );
  ssm.on(ListCommandsCommand).callsFake(
    route(fleet, 'ssm', 'ListCommands', (input: { InstanceId?: string; Filters?: { key?: string; value?: string }[] }) => {
      const after = Date.parse(input.Filters?.find((filter) => filter.key === 'InvokedAfter')?.value ?? '1970-01-01T00:00:00Z');
      const seen = new Map<string, { CommandId: string; Comment?: string; RequestedDateTime: Date }>();
      for (const invocation of fleet.invocations) {
        if (input.InstanceId && invocation.instanceId !== input.InstanceId) continue;
        if (invocation.startedAt < after) continue;
        seen.set(invocation.commandId, { CommandId: invocation.commandId, ...(invocation.comment ? { Comment: invocation.comment } : {}), RequestedDateTime: new Date(invocation.startedAt) });
      }
      return { Commands: [...seen.values()].reverse() };
    }),
  );
  ssm.on(CancelCommandCommand).callsFake(
    route(fleet, 'ssm', 'CancelCommand', (input: { CommandId?: string; InstanceIds?: string[] }) => {
      cancelCommand(fleet, input.CommandId ?? '', input.InstanceIds);
      return {};
    }),
  );
  ssm.on(GetParameterCommand).callsFake(
    route(fleet, 'ssm', 'GetParameter', (input: { Name?: string }) => {
      const value = fleet.parameters.get(input.Name ?? '');
      if (value === undefined) throw new AwsError('ParameterNotFound', `Parameter ${input.Name} not found`);
      return { Parameter: { Name: input.Name, Value: value } };
    }),
  );
  ssm.on(PutParameterCommand).callsFake(
    route(fleet, 'ssm', 'PutParameter', (input: { Name?: string; Value?: string; Overwrite?: boolean }) => {
      if (fleet.parameters.has(input.Name ?? '') && !input.Overwrite) throw new AwsError('ParameterAlreadyExists', 'The parameter already exists.');
      if ((input.Value ?? '').length > 4096) throw new AwsError('ValidationException', 'Standard tier parameters support a maximum parameter value of 4096 characters.');
      fleet.parameters.set(input.Name ?? '', input.Value ?? '');
      return { Version: 1 };
    }),
  );
  return ssm;
}

// ---- Run Command inside the simulated world: commands, their invocations on instances, and their end.

const DOCUMENT_BY_SUFFIX = Object.values(DOCUMENTS);

/** Is the instance's SSM agent registered (SSM knows it at all)? An agent cut off before it registered never does (cutAgentOff). */
export function isRegistered(fleet: SimulatedFleet, instance: SimInstance): boolean {
  if (instance.ssmRegisteredAt === undefined || instance.ssmRegisteredAt > fleet.now()) return false;
  return instance.agentCutOffAt === undefined || instance.agentCutOffAt > instance.ssmRegisteredAt;
}

/** Is the agent registered and connected (PingStatus Online)? */
export function isOnline(fleet: SimulatedFleet, instance: SimInstance): boolean {
  return instance.state === 'running' && instance.ssmOnline && isRegistered(fleet, instance);
}

/** SendCommand's default delivery timeout (TimeoutSeconds), in seconds. */
export const DEFAULT_DELIVERY_TIMEOUT_SECONDS = 3600;

export function sendCommand(fleet: SimulatedFleet, documentName: string, instanceIds: string[], parameters: Record<string, string>, output?: { bucket: string; prefix: string }, comment?: string, deliveryTimeoutSeconds = DEFAULT_DELIVERY_TIMEOUT_SECONDS): string {
  // Deployed names end with the document set's digest (infra/names.cjs): kubeha-<stage>-<Name>-<digest>.
  const document = DOCUMENT_BY_SUFFIX.find((name) => documentName.replace(/-[0-9a-f]{10}$/, '').endsWith(name));
  if (fleet.deployedDocumentSuffix && !documentName.endsWith(fleet.deployedDocumentSuffix)) throw new AwsError('InvalidDocument', `Document ${documentName} does not exist`);
  if (!document) throw new AwsError('InvalidDocument', `Document ${documentName} does not exist`);
  if (instanceIds.length === 0 || instanceIds.length > 50) throw new AwsError('ValidationException', 'InstanceIds must hold 1 to 50 ids');
  // SSM API reference, InvalidInstanceId: an unregistered agent, shutting-down or terminated instance refuses the whole call.
  const refused = instanceIds.filter((instanceId) => {
    const instance = fleet.instances.get(instanceId);
    return !instance || !isRegistered(fleet, instance) || instance.state === 'shutting-down' || instance.state === 'terminated';
  });
  if (refused.length > 0) throw new AwsError('InvalidInstanceId', `Instances [${refused.join(', ')}] not in a valid state for account ${fleet.account}`);
  const commandId = `${fleet.hex(8)}-${fleet.hex(4)}-${fleet.hex(4)}-${fleet.hex(4)}-${fleet.hex(12)}`;
  for (const instanceId of instanceIds) {
    const instance = fleet.instances.get(instanceId);
    const deliverable = instance !== undefined && isOnline(fleet, instance);
    const hangs = fleet.takeHang(document, instanceId);
    const executionTimeoutMs = Number(parameters.ExecutionTimeout ?? 3600) * 1000;
    const duration = hangs ? executionTimeoutMs : jittered(instance ? documentSeconds(document, instance.node, parameters) : (DOCUMENT_SECONDS[document] ?? 10), fleet.randomSource) * 1000;
    // A registered node that is not connected (stopped, booting): SSM holds the invocation as Delayed, "the node
    // was stopped ... The system will try to send the command again", and delivers it once the agent connects,
    // or gives up (Delivery Timed Out, Status TimedOut) after the delivery timeout plus the execution timeout
    // (Systems Manager User Guide, "Understanding command statuses"; GetCommandInvocation StatusDetails).
    const executionTimeout = Number(parameters.ExecutionTimeout ?? 3600);
    fleet.invocations.push({
      commandId,
      instanceId,
      document,
      parameters: { ...parameters },
      status: deliverable ? 'InProgress' : 'Delayed',
      startedAt: fleet.now(),
      finishesAt: deliverable ? fleet.now() + duration : Number.POSITIVE_INFINITY,
      ...(deliverable ? {} : { delivery: { durationMs: duration, deliverBy: fleet.now() + (deliveryTimeoutSeconds + executionTimeout) * 1000 } }),
      stdout: '',
      stderr: '',
      ...(output ? { output } : {}),
      ...(comment ? { comment } : {}),
      ...(hangs ? { hangs: true as const } : {}),
    });
  }
  for (const hook of fleet.commandSentHooks) hook(document, instanceIds);
  for (const invocation of fleet.invocations.filter((candidate) => candidate.commandId === commandId && candidate.status === 'InProgress')) {
    startDocument(fleet, invocation, fleet.requireInstance(invocation.instanceId));
  }
  return commandId;
}

/** Statuses as of now (the state machine's Wait before the poll has advanced the clock already). */
export function pollCommand(fleet: SimulatedFleet, commandId: string): Invocation[] {
  fleet.settleLifecycles();
  const invocations = fleet.invocations.filter((invocation) => invocation.commandId === commandId);
  if (invocations.length === 0) throw new AwsError('InvalidCommandId', `command ${commandId} does not exist`);
  settleInvocations(fleet);
  return invocations;
}

/** CancelCommand: what has not finished stops; finished invocations keep their status. */
export function cancelCommand(fleet: SimulatedFleet, commandId: string, instanceIds?: readonly string[]): void {
  // CancelCommand's InstanceIds: only those nodes' invocations (all of the command's without them).
  const invocations = fleet.invocations.filter((invocation) => invocation.commandId === commandId && (!instanceIds || instanceIds.includes(invocation.instanceId)));
  if (invocations.length === 0) throw new AwsError('InvalidCommandId', `command ${commandId} does not exist`);
  settleInvocations(fleet);
  for (const invocation of invocations) if (invocation.status === 'Pending' || invocation.status === 'Delayed' || invocation.status === 'InProgress') invocation.status = 'Cancelled';
}

/** Where the agent uploads an invocation's streams (bucket/prefix/command/instance/plugin/step/stream). */
export function outputKey(invocation: Invocation, stream: 'stdout' | 'stderr'): string | undefined {
  if (!invocation.output) return undefined;
  return `${invocation.output.prefix}/${invocation.commandId}/${invocation.instanceId}/awsrunShellScript/0.awsrunShellScript/${stream}`;
}

export function getInvocation(fleet: SimulatedFleet, commandId: string, instanceId: string): Invocation {
  settleInvocations(fleet);
  const invocation = fleet.invocations.find((candidate) => candidate.commandId === commandId && candidate.instanceId === instanceId);
  if (!invocation) throw new AwsError('InvocationDoesNotExist', 'invocation does not exist');
  return invocation;
}

/** Delivers each Delayed invocation whose node has connected since, and times out those past their delivery timeout. */
function deliverDelayed(fleet: SimulatedFleet): void {
  for (const invocation of fleet.invocations) {
    if (invocation.status !== 'Delayed' || !invocation.delivery) continue;
    const instance = fleet.instances.get(invocation.instanceId);
    const connectedAt = instance && isOnline(fleet, instance) ? Math.max(invocation.startedAt, instance.onlineSince ?? fleet.now()) : undefined;
    if (connectedAt !== undefined && connectedAt <= invocation.delivery.deliverBy) {
      invocation.status = 'InProgress';
      invocation.startedAt = connectedAt;
      invocation.finishesAt = connectedAt + invocation.delivery.durationMs;
      if (instance) startDocument(fleet, invocation, instance);
    } else if (fleet.now() > invocation.delivery.deliverBy) {
      invocation.status = 'TimedOut';
      invocation.stderr = 'Delivery Timed Out: the command was not delivered to the managed node before the delivery timeout';
    }
  }
}

/** Finishes, in modelled-time order, every invocation whose time has come. */
export function settleInvocations(fleet: SimulatedFleet): void {
  deliverDelayed(fleet);
  const due = fleet.invocations
    .filter((invocation) => invocation.status === 'InProgress' && invocation.finishesAt <= fleet.now())
    .sort((a, b) => a.finishesAt - b.finishesAt);
  for (const invocation of due) complete(fleet, invocation);
}

/**
 * A control-plane join that failed in kubeadm's etcd-join phase after `member add --learner`: the member stays,
 * unstarted (etcdctl prints it with an empty name), until someone removes it (refresh-join-material.sh does).
 */
function leaveUnstartedLearner(fleet: SimulatedFleet, instance: SimInstance): void {
  const cluster = fleet.requireCluster(fleet.clusterNameOf(instance));
  const peerUrl = `https://${instance.privateIp}:2380`;
  if (cluster.etcdMembers.some((member) => member.peerUrl === peerUrl)) return;
  cluster.etcdMembers.push({ name: '', instanceId: instance.instanceId, peerUrl, healthy: false, unstartedLearner: true });
  fleet.history.push({ at: fleet.now(), what: `etcd learner of ${instance.instanceId} announced and never started` });
}

function complete(fleet: SimulatedFleet, invocation: Invocation): void {
  const instance = fleet.requireInstance(invocation.instanceId);
  instance.node.documentsRun.push(invocation.document);
  const fault = invocation.hangs
    ? undefined
    : fleet.faults.find((candidate) => candidate.remaining > 0 && candidate.document === invocation.document && (!candidate.instanceId || candidate.instanceId === invocation.instanceId));
  const fires = fault !== undefined && !(fault.skip !== undefined && fault.skip-- > 0);
  if (invocation.hangs) {
    // The agent stopped the script at the execution timeout: none of its work happened.
    invocation.status = 'TimedOut';
  } else if (fault && fires) {
    fault.remaining -= 1;
    invocation.status = 'Failed';
    invocation.stderr = fault.stderr;
    if (fault.leavesUnstartedLearner) leaveUnstartedLearner(fleet, instance);
  } else {
    try {
      const stdout = runDocument(fleet, invocation, instance);
      invocation.status = 'Success';
      invocation.stdout = stdout;
    } catch (error: unknown) {
      invocation.status = 'Failed';
      invocation.stderr = error instanceof Error ? error.message : String(error);
    }
  }
  // The agent uploads the whole streams; GetCommandInvocation will show only their beginnings.
  for (const stream of ['stdout', 'stderr'] as const) {
    const key = outputKey(invocation, stream);
    if (key && invocation.output) fleet.objects.set(`${invocation.output.bucket}/${key}`, invocation[stream]);
  }
  for (const hook of fleet.commandFinishedHooks) hook(invocation);
}
