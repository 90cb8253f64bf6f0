// The real account, through the standard credential chain (--profile, --region, environment,
// SSO, instance roles). Executions run in Step Functions; the CLI follows their history.
import { arn, partitionOf } from '../functions/core/arn.js';
import { createRequire } from 'node:module';
import { readableCause } from '../functions/core/errors.js';
import { documentPrefix, stackName } from '../functions/core/names.js';
import type { Backend, BackendOptions, ExecutionResult } from './backend.js';
import { explainAwsError } from './errors.js';
import type { ProgressEvent } from './progress.js';

const { documentDigest } = createRequire(import.meta.url)('../ssm-documents/render.cjs') as { documentDigest(): string };

export async function createAwsBackend(options: BackendOptions): Promise<Backend> {
  // The SDK clients read these once, when the adapters create them: set before importing.
  if (options.profile) process.env.AWS_PROFILE = options.profile;
  // The region chain: --region, AWS_REGION, AWS_DEFAULT_REGION (the AWS CLI's), then the profile in ~/.aws/config.
  const regionFromEnvironment = options.region ?? options.env.AWS_REGION ?? options.env.AWS_DEFAULT_REGION;
  if (regionFromEnvironment) process.env.AWS_REGION = regionFromEnvironment;
  const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  const { SFNClient, GetExecutionHistoryCommand, DescribeExecutionCommand, StartExecutionCommand } = await import('@aws-sdk/client-sfn');
  const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const { ports } = await import('../functions/adapters/index.js');

  const sts = new STSClient({});
  let account: string;
  let region: string;
  try {
    region = await sts.config.region();
    account = (await sts.send(new GetCallerIdentityCommand({}))).Account ?? '';
  } catch (error: unknown) {
    throw explainAwsError(error) ?? error;
  }
  process.env.AWS_REGION ??= region;
  // Secret names include the stage (functions/core/join-material.ts reads it from KUBEHA_STAGE).
  process.env.KUBEHA_STAGE = options.stage;
  const sfn = new SFNClient({});
  const secrets = new SecretsManagerClient({});
  const prefix = arn({ partition: partitionOf(region), service: 'states', region, account, resource: `stateMachine:${stackName(options.stage)}-` });
  const clusters = options.clusterName ? [options.clusterName] : [];

  const explained = (error: unknown): never => {
    throw explainAwsError(error) ?? error;
  };

  return {
    mode: 'aws',
    ports,
    // The documents this checkout renders: deploy from the same checkout the CLI runs from.
    environment: { clusters, stateMachineArnPrefix: prefix, documentPrefix: documentPrefix(options.stage), documentSuffix: `-${documentDigest()}`, region },
    now: () => Date.now(),
    elapsedSince: (start) => (Date.now() - start) / 1000,
    async startExecution(machine, name, input) {
      try {
        const answer = await sfn.send(new StartExecutionCommand({ stateMachineArn: `${prefix}${machine}`, name, input: JSON.stringify(input) }));
        return answer.executionArn ?? '';
      } catch (error: unknown) {
        throw explainAwsError(error) ?? error;
      }
    },
    async follow(executionArn, onEvent, onTick) {
      // The last page comes without a nextToken; its token is asked again for what happens next, so
      // events already seen come back and are skipped by id (event ids rise from 1).
      let nextToken: string | undefined;
      let lastEventId = 0;
      for (;;) {
        const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 500 })).catch(explained);
        for (const event of page.events ?? []) {
          if ((event.id ?? 0) <= lastEventId) continue;
          lastEventId = event.id ?? lastEventId;
          const progress = toProgressEvent(event);
          if (progress) onEvent(progress);
        }
        nextToken = page.nextToken ?? nextToken;
        await onTick?.();
        const execution = await sfn.send(new DescribeExecutionCommand({ executionArn })).catch(explained);
        if (execution.status !== 'RUNNING' && !page.nextToken) {
          const result: ExecutionResult =
            execution.status === 'SUCCEEDED'
              ? { status: 'SUCCEEDED', output: JSON.parse(execution.output ?? 'null') as unknown }
              : { status: 'FAILED', error: execution.error ?? execution.status ?? 'FAILED', cause: readableCause(execution.cause) };
          return result;
        }
        if (!page.nextToken) await new Promise((resolve) => setTimeout(resolve, 3000));
      }
    },
    consoleUrl: (executionArn) => `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`,
    async readSecret(name) {
      try {
        return (await secrets.send(new GetSecretValueCommand({ SecretId: name }))).SecretString ?? '';
      } catch (error: unknown) {
        throw explainAwsError(error) ?? error;
      }
    },
    close: async () => undefined,
  };
}

function toProgressEvent(event: { type?: string; stateEnteredEventDetails?: { name?: string }; executionFailedEventDetails?: { error?: string; cause?: string } }): ProgressEvent | undefined {
  if (event.type?.endsWith('StateEntered')) return { kind: 'entered', state: event.stateEnteredEventDetails?.name ?? '' };
  if (event.type === 'ExecutionSucceeded') return { kind: 'succeeded' };
  if (event.type === 'ExecutionFailed') return { kind: 'failed', error: event.executionFailedEventDetails?.error ?? '', cause: event.executionFailedEventDetails?.cause ?? '' };
  return undefined;
}
