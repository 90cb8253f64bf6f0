import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { WorkflowsPort } from '../core/ports.js';
import { AWS_ERROR, call, errorName } from './aws-errors.js';

const client = new SFNClient({});

export const workflows: WorkflowsPort = {
  async startExecution(stateMachineArn, name, input) {
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    try {
      const answer = await call('states:StartExecution', () =>
        client.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) })),
      );
      return { started: true, executionArn: answer.executionArn ?? executionArn };
    } catch (error: unknown) {
      // The same event delivered twice: the first delivery's execution is the one that counts.
      if (errorName(error) === AWS_ERROR.executionExists) return { started: false, executionArn };
      throw error;
    }
  },

  async executionStatus(executionArn) {
    try {
      const answer = await call('states:DescribeExecution', () => client.send(new DescribeExecutionCommand({ executionArn })));
      return answer.status;
    } catch (error: unknown) {
      if (errorName(error) === AWS_ERROR.executionNotFound) return undefined;
      throw error;
    }
  },

  async listExecutions(stateMachineArn) {
    const answer = await call('states:ListExecutions', () => client.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 100 })));
    return (answer.executions ?? []).map((execution) => ({
      name: execution.name ?? '',
      executionArn: execution.executionArn ?? '',
      status: execution.status ?? 'UNKNOWN',
      startDate: execution.startDate?.getTime() ?? 0,
      stopDate: execution.stopDate?.getTime(),
    }));
  },
};
