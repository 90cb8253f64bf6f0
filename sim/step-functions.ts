// The simulated Step Functions API, beside functions/adapters/workflows.ts. Execution names are unique
// per state machine for 90 days: the same name with the same input while open returns the running
// execution; a closed one, or other input, raises ExecutionAlreadyExists (StartExecution API reference).
// The executions themselves run in sim/control-plane.ts.
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsError, type SimulatedFleet } from './fleet.js';
import { route } from './service.js';

export function installStepFunctions(fleet: SimulatedFleet) {
  const sfn = mockClient(SFNClient);
  sfn.onAnyCommand().rejects(new AwsError('NotModelled', 'the simulated fleet does not model this call'));
  const status = (value: string) => (value === 'PENDING' ? 'RUNNING' : value);
  sfn.on(StartExecutionCommand).callsFake(
    route(fleet, 'states', 'StartExecution', (input: { stateMachineArn?: string; name?: string; input?: string }) => {
      const execution = fleet.startExecution(input.stateMachineArn ?? '', input.name ?? '', input.input ?? '{}');
      return { executionArn: execution.executionArn, startDate: new Date(execution.startedAt) };
    }),
  );
  sfn.on(DescribeExecutionCommand).callsFake(
    route(fleet, 'states', 'DescribeExecution', (input: { executionArn?: string }) => {
      const execution = fleet.executions.get(input.executionArn ?? '');
      if (!execution) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${input.executionArn}'`);
      return {
        executionArn: execution.executionArn,
        status: status(execution.status),
        startDate: new Date(execution.startedAt),
        ...(execution.stoppedAt === undefined ? {} : { stopDate: new Date(execution.stoppedAt) }),
      };
    }),
  );
  sfn.on(ListExecutionsCommand).callsFake(
    route(fleet, 'states', 'ListExecutions', (input: { stateMachineArn?: string }) => ({
      executions: [...fleet.executions.values()]
        .filter((execution) => input.stateMachineArn?.endsWith(`:stateMachine:${execution.stateMachine}`))
        .reverse()
        .map((execution) => ({
          executionArn: execution.executionArn,
          name: execution.name,
          status: status(execution.status),
          startDate: new Date(execution.startedAt),
          stopDate: execution.stoppedAt === undefined ? undefined : new Date(execution.stoppedAt),
        })),
    })),
  );
  return sfn;
}
