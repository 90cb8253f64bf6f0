// The CLI against AWS, with Step Functions and STS answered by aws-sdk-client-mock: following an
// execution from its history, and Ctrl-C, which stops following and never stops the execution.
import { DescribeExecutionCommand, GetExecutionHistoryCommand, SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resetEnvironmentForTesting } from '../../functions/adapters/index.js';
import { EXAMPLE, kubeha } from './support.js';

const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:kubeha-dev-bootstrap-cluster:prod-eu-bootstrap-20261130120000';
const sfn = mockClient(SFNClient);
const sts = mockClient(STSClient);
let savedEnvironment: NodeJS.ProcessEnv;

beforeEach(() => {
  savedEnvironment = { ...process.env };
  resetEnvironmentForTesting();
  sfn.reset();
  sts.reset();
  sts.on(GetCallerIdentityCommand).resolves({ Account: '123456789012' });
  sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION });
  sfn.on(GetExecutionHistoryCommand).resolves({ events: [{ type: 'TaskStateEntered', timestamp: new Date(), id: 1, stateEnteredEventDetails: { name: 'Validate the input' } }] });
});
afterEach(() => {
  process.env = savedEnvironment;
  resetEnvironmentForTesting();
});

describe('kubeha bootstrap against AWS', () => {
  it('on Ctrl-C stops following at once, leaves the execution running and says how to re-attach', async () => {
    // Prepare: an execution that keeps running; Ctrl-C once its first state was shown.
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
    let interrupt: (() => number | undefined) | undefined;
    let stderr = '';
    let exitCode: number | undefined;
    const shown = new Promise<void>((resolve) => {
      void kubeha(['bootstrap', '--cluster', 'prod-eu', '--input', EXAMPLE, '--region', 'eu-west-1', '--yes'], {
        env: { AWS_REGION: 'eu-west-1' },
        io: {
          stdout: (text) => {
            if (text.includes('Validate the input')) resolve();
          },
          stderr: (text) => {
            stderr += text;
          },
          onInterrupt: (handler) => ((interrupt = handler), () => undefined),
        },
      });
    });
    await shown;

    // Act
    exitCode = interrupt?.();
    // Let the abandoned follower finish, as the process would have exited here.
    sfn.on(DescribeExecutionCommand).resolves({ status: 'FAILED', error: 'Abandoned', cause: 'by the test' });

    // Assess
    expect(exitCode).toBe(130);
    expect(stderr).toBe(`\nkubeha: stopped following; the execution goes on in Step Functions. Re-attach with:\n  npx kubeha follow ${EXECUTION} --region eu-west-1\n`);
    expect(sfn.commandCalls(StopExecutionCommand)).toHaveLength(0);
  });

  it('follow replays the history of an execution and reports how it ended', async () => {
    // Prepare
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', output: '{}' });

    // Act
    const run = await kubeha(['follow', EXECUTION, '--region', 'eu-west-1', '--json'], { env: { AWS_REGION: 'eu-west-1' } });

    // Assess
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ executionArn: EXECUTION, status: 'SUCCEEDED', output: {} });
  });

  it('follow pages through the history and shows each state once, though the last page is read again for what comes next', async () => {
    // Prepare: two pages, then the last page again with a new event (GetExecutionHistory has no token past the end).
    const entered = (id: number, name: string) => ({ type: 'TaskStateEntered' as const, timestamp: new Date(), id, stateEnteredEventDetails: { name } });
    sfn.on(GetExecutionHistoryCommand, { nextToken: undefined }).resolves({ events: [entered(1, 'Validate the input'), entered(2, 'Discover the tagged instances')], nextToken: 'page-2' });
    sfn.on(GetExecutionHistoryCommand, { nextToken: 'page-2' }).resolvesOnce({ events: [entered(3, 'Can these instances host the cluster?')] }).resolves({ events: [entered(3, 'Can these instances host the cluster?'), entered(4, 'Install prerequisites on every node')] });
    sfn.on(DescribeExecutionCommand).resolvesOnce({ status: 'RUNNING' }).resolvesOnce({ status: 'RUNNING' }).resolves({ status: 'SUCCEEDED', output: '{}' });

    // Act
    const run = await kubeha(['follow', EXECUTION, '--region', 'eu-west-1', '--no-progress'], { env: { AWS_REGION: 'eu-west-1' } });

    // Assess: one line per state entered (indented under its phase's line).
    expect(run.code).toBe(0);
    const stateLines = run.stdout.split('\n').filter((line) => /^\[\d\d:\d\d\] {6}\S/.test(line)).map((line) => line.slice(13));
    expect(stateLines).toEqual(['Validate the input', 'Discover the tagged instances', 'Can these instances host the cluster?', 'Install prerequisites on every node']);
  });

  it('follow of an execution Step Functions does not know is "not found", exit 5', async () => {
    sfn.on(GetExecutionHistoryCommand).rejects(Object.assign(new Error('Execution Does Not Exist'), { name: 'ExecutionDoesNotExist' }));
    const run = await kubeha(['follow', EXECUTION, '--region', 'eu-west-1'], { env: { AWS_REGION: 'eu-west-1' } });
    expect(run.code).toBe(5);
    expect(run.stderr).toContain('No such execution');
  });
});
