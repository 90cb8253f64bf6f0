import type { WorkflowsPort } from '../core/ports.js';
import { AWS_ERROR, call, errorName } from './aws-errors.js';

type Sdk = typeof import('@aws-sdk/client-sfn');

// The SDK package loads on first use, not at cold start: most functions use one or two of the five.
let loaded: Promise<{ sdk: Sdk; client: InstanceType<Sdk['SFNClient']> }> | undefined;
function sdk(): Promise<{ sdk: Sdk; client: InstanceType<Sdk['SFNClient']> }> {
  return (loaded ??= import('@aws-sdk/client-sfn').then((module) => ({ sdk: module, client: new module.SFNClient({}) })));
}

export const workflows: WorkflowsPort = {
  async startExecution(stateMachineArn, name, input) {
    const { sdk: aws, client } = await sdk();
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    try {
      const answer = await call('states:StartExecution', () =>
        client.send(new aws.StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) })),
      );
      return { started: true, executionArn: answer.executionArn ?? executionArn };
    } catch (error: unknown) {
      // The same event delivered twice: the first delivery's execution is the one that counts.
      if (errorName(error) === AWS_ERROR.executionExists) return { started: false, executionArn };
      throw error;
    }
  },

  async executionStatus(executionArn) {
    const { sdk: aws, client } = await sdk();
    try {
      const answer = await call('states:DescribeExecution', () => client.send(new aws.DescribeExecutionCommand({ executionArn })));
      return answer.status;
    } catch (error: unknown) {
      if (errorName(error) === AWS_ERROR.executionNotFound) return undefined;
      throw error;
    }
  },

  async describeExecution(executionArn) {
    const { sdk: aws, client } = await sdk();
    try {
      const answer = await call('states:DescribeExecution', () => client.send(new aws.DescribeExecutionCommand({ executionArn })));
      return { status: answer.status ?? 'UNKNOWN', stopDate: answer.stopDate?.getTime() };
    } catch (error: unknown) {
      if (errorName(error) === AWS_ERROR.executionNotFound) return undefined;
      throw error;
    }
  },

  async listExecutions(stateMachineArn) {
    const { sdk: aws, client } = await sdk();
    const answer = await call('states:ListExecutions', () => client.send(new aws.ListExecutionsCommand({ stateMachineArn, maxResults: 100 })));
    return (answer.executions ?? []).map((execution) => ({
      name: execution.name ?? '',
      executionArn: execution.executionArn ?? '',
      status: execution.status ?? 'UNKNOWN',
      startDate: execution.startDate?.getTime() ?? 0,
      stopDate: execution.stopDate?.getTime(),
    }));
  },
};
