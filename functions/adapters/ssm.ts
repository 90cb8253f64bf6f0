import {
  DeleteParameterCommand,
  GetCommandInvocationCommand,
  GetParameterCommand,
  PutParameterCommand,
  SSMClient,
  SendCommandCommand,
  paginateDescribeInstanceInformation,
  paginateListCommandInvocations,
} from '@aws-sdk/client-ssm';
import { chunk } from '../core/cluster.js';
import type { CommandInvocation, InvocationStatus, SsmPort } from '../core/ports.js';
import { AWS_ERROR, call, errorName } from './aws-errors.js';

const client = new SSMClient({});

// DescribeInstanceInformation accepts at most 50 instance ids per filter.
const INSTANCE_FILTER_LIMIT = 50;

export const ssm: SsmPort = {
  async onlineInstanceIds(instanceIds) {
    const online = new Set<string>();
    for (const batch of chunk(instanceIds, INSTANCE_FILTER_LIMIT)) {
      const pages = paginateDescribeInstanceInformation({ client }, { Filters: [{ Key: 'InstanceIds', Values: batch }] });
      await call('ssm:DescribeInstanceInformation', async () => {
        for await (const page of pages) {
          for (const info of page.InstanceInformationList ?? []) {
            if (info.PingStatus === 'Online' && info.InstanceId) online.add(info.InstanceId);
          }
        }
      });
    }
    return online;
  },

  async sendCommand(request) {
    const answer = await call('ssm:SendCommand', () =>
      client.send(
        new SendCommandCommand({
          DocumentName: request.documentName,
          InstanceIds: [...request.instanceIds],
          Parameters: Object.fromEntries(Object.entries(request.parameters).map(([key, value]) => [key, [value]])),
          Comment: request.comment,
          TimeoutSeconds: request.timeoutSeconds,
        }),
      ),
    );
    const commandId = answer.Command?.CommandId;
    if (!commandId) throw new Error('SendCommand returned no command id');
    return commandId;
  },

  async commandInvocations(commandId) {
    const invocations: CommandInvocation[] = [];
    const pages = paginateListCommandInvocations({ client }, { CommandId: commandId });
    await call('ssm:ListCommandInvocations', async () => {
      for await (const page of pages) {
        for (const invocation of page.CommandInvocations ?? []) {
          invocations.push({ instanceId: invocation.InstanceId ?? '', status: (invocation.Status ?? 'Pending') as InvocationStatus });
        }
      }
    });
    return invocations;
  },

  async invocationOutput(commandId, instanceId) {
    try {
      const answer = await call('ssm:GetCommandInvocation', () =>
        client.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId })),
      );
      return { stdout: answer.StandardOutputContent ?? '', stderr: answer.StandardErrorContent ?? '' };
    } catch (error: unknown) {
      if (errorName(error) === AWS_ERROR.invocationDoesNotExist) return { stdout: '', stderr: '' };
      throw error;
    }
  },

  async getParameter(name) {
    try {
      const answer = await call('ssm:GetParameter', () => client.send(new GetParameterCommand({ Name: name })));
      return answer.Parameter?.Value;
    } catch (error: unknown) {
      if (errorName(error) === AWS_ERROR.parameterNotFound) return undefined;
      throw error;
    }
  },

  async putParameter(name, value) {
    await call('ssm:PutParameter', () =>
      client.send(new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true, Tier: 'Standard' })),
    );
  },

  async createParameter(name, value) {
    try {
      await call('ssm:PutParameter', () => client.send(new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: false, Tier: 'Standard' })));
      return true;
    } catch (error: unknown) {
      if (errorName(error) === AWS_ERROR.parameterExists) return false;
      throw error;
    }
  },

  async deleteParameter(name) {
    try {
      await call('ssm:DeleteParameter', () => client.send(new DeleteParameterCommand({ Name: name })));
    } catch (error: unknown) {
      if (errorName(error) !== AWS_ERROR.parameterNotFound) throw error;
    }
  },
};
