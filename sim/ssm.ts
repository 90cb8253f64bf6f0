// The simulated SSM API (Run Command and Parameter Store), beside functions/adapters/ssm.ts.
// Unpleasant behaviours modelled, from shared/reality.md ("SSM Run Command") and the SSM API reference:
// - GetCommandInvocation returns only the first 24,000 characters of stdout and 8,000 of stderr, both
//   empty until the command ends; with OutputS3BucketName the whole streams are in S3 and the answer
//   carries their URLs;
// - SendCommand refuses more than 50 targets, and instances whose agent is not registered, or that are
//   shutting down or terminated (InvalidInstanceId); DescribeInstanceInformation lists only registered agents;
// - PutParameter without Overwrite is create-if-absent (ParameterAlreadyExists); Standard parameters hold 4 KB.
import {
  CancelCommandCommand,
  DeleteParameterCommand,
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
import { AwsError, type SimulatedFleet } from './fleet.js';
import { route } from './service.js';

export const INLINE_LIMITS = { stdout: 24_000, stderr: 8_000 } as const;

export function installSsm(fleet: SimulatedFleet) {
  const ssm = mockClient(SSMClient);
  ssm.onAnyCommand().rejects(new AwsError('NotModelled', 'the simulated fleet does not model this call'));

  ssm.on(DescribeInstanceInformationCommand).callsFake(
    route(fleet, 'ssm', 'DescribeInstanceInformation', (input: { Filters?: { Key?: string; Values?: string[] }[] }) => {
      const wanted = input.Filters?.find((filter) => filter.Key === 'InstanceIds')?.Values ?? [];
      return {
        InstanceInformationList: wanted
          .map((instanceId) => fleet.instances.get(instanceId))
          .filter((instance) => instance !== undefined && fleet.isRegistered(instance))
          .map((instance) => ({ InstanceId: instance!.instanceId, PingStatus: fleet.isOnline(instance!) ? 'Online' : 'ConnectionLost' })),
      };
    }),
  );
  ssm.on(SendCommandCommand).callsFake(
    route(
      fleet,
      'ssm',
      'SendCommand',
      (input: { DocumentName?: string; DocumentVersion?: string; InstanceIds?: string[]; Parameters?: Record<string, string[]>; OutputS3BucketName?: string; OutputS3KeyPrefix?: string; Comment?: string }) => {
        if ((input.Comment ?? '').length > 100) throw new AwsError('ValidationException', 'Comment must be at most 100 characters');
        // Each digest-named document has one version (SendCommand API reference: a number, $DEFAULT or $LATEST).
        if (input.DocumentVersion !== undefined && !['1', '$DEFAULT', '$LATEST'].includes(input.DocumentVersion)) throw new AwsError('InvalidDocumentVersion', `Document version ${input.DocumentVersion} does not exist`);
        const parameters = Object.fromEntries(Object.entries(input.Parameters ?? {}).map(([key, values]) => [key, values[0] ?? '']));
        const output = input.OutputS3BucketName ? { bucket: input.OutputS3BucketName, prefix: input.OutputS3KeyPrefix ?? '' } : undefined;
        return { Command: { CommandId: fleet.sendCommand(input.DocumentName ?? '', input.InstanceIds ?? [], parameters, output, input.Comment) } };
      },
    ),
  );
  ssm.on(ListCommandInvocationsCommand).callsFake(
    route(fleet, 'ssm', 'ListCommandInvocations', (input: { CommandId?: string }) => ({
      CommandInvocations: fleet.pollCommand(input.CommandId ?? '').map((invocation) => ({
        CommandId: invocation.commandId,
        InstanceId: invocation.instanceId,
        Status: invocation.status,
        DocumentName: invocation.document,
      })),
    })),
  );
  ssm.on(GetCommandInvocationCommand).callsFake(
    route(fleet, 'ssm', 'GetCommandInvocation', (input: { CommandId?: string; InstanceId?: string }) => {
      const invocation = fleet.getInvocation(input.CommandId ?? '', input.InstanceId ?? '');
      const url = (stream: 'stdout' | 'stderr') => {
        const key = fleet.outputKey(invocation, stream);
        return key && invocation.output ? `https://s3.${fleet.region}.amazonaws.com/${invocation.output.bucket}/${key}` : '';
      };
      return {
        Status: invocation.status,
        StandardOutputContent: invocation.stdout.slice(0, INLINE_LIMITS.stdout),
        StandardErrorContent: invocation.stderr.slice(0, INLINE_LIMITS.stderr),
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
    route(fleet, 'ssm', 'CancelCommand', (input: { CommandId?: string }) => {
      fleet.cancelCommand(input.CommandId ?? '');
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
  ssm.on(DeleteParameterCommand).callsFake(
    route(fleet, 'ssm', 'DeleteParameter', (input: { Name?: string }) => {
      if (!fleet.parameters.delete(input.Name ?? '')) throw new AwsError('ParameterNotFound', `Parameter ${input.Name} not found`);
      return {};
    }),
  );
  return ssm;
}
