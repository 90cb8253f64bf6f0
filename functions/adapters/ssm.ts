import { chunk } from '../core/cluster.js';
import type { CommandInvocation, InvocationStatus, SsmPort } from '../core/ports.js';
import { AWS_ERROR, call, errorName } from './aws-errors.js';
import { readObjectText } from './objects.js';

async function wholeOutput(url: string | undefined, inline: string): Promise<string> {
  const bucket = outputBucket();
  const key = bucket && url ? outputObjectKey(url, bucket) : undefined;
  if (!bucket || !key) return inline;
  return (await readObjectText(bucket, key)) ?? inline;
}

type Sdk = typeof import('@aws-sdk/client-ssm');

// The SDK package loads on first use, not at cold start: most functions use one or two of the five.
let loaded: Promise<{ sdk: Sdk; client: InstanceType<Sdk['SSMClient']> }> | undefined;
function sdk(): Promise<{ sdk: Sdk; client: InstanceType<Sdk['SSMClient']> }> {
  return (loaded ??= import('@aws-sdk/client-ssm').then((module) => ({ sdk: module, client: new module.SSMClient({}) })));
}

// DescribeInstanceInformation accepts at most 50 instance ids per filter.
const INSTANCE_FILTER_LIMIT = 50;

/** GetCommandInvocation keeps only this much of each stream (SSM API reference, GetCommandInvocation). */
export const INLINE_OUTPUT_LIMIT = { stdout: 24_000, stderr: 8_000 } as const;

/**
 * Whether the agent cut a stream: it counts bytes, not characters, and ends what it kept with
 * `--output truncated--` (amazon-ssm-agent pluginutil.StringPrefix, iohandler.DefaultOutputConfig). Output
 * with multi-byte characters is cut at fewer than 24,000 characters, so the length alone does not tell.
 */
export function wasCut(inline: string, limitBytes: number): boolean {
  return inline.endsWith('--output truncated--') || Buffer.byteLength(inline, 'utf8') >= limitBytes;
}
export const OUTPUT_KEY_PREFIX = 'ssm-output';

/** Where commands write their whole output; unset only in tests that do not care. */
function outputBucket(): string | undefined {
  return process.env.KUBEHA_OUTPUT_BUCKET || undefined;
}

/**
 * The S3 key of an output URL. SSM names it path-style (https://s3.<region>.amazonaws.com/<bucket>/<key>)
 * or virtual-hosted; either way the key follows the bucket.
 */
export function outputObjectKey(url: string, bucket: string): string | undefined {
  if (!url) return undefined;
  const path = decodeURIComponent(new URL(url).pathname).replace(/^\//, '');
  return path.startsWith(`${bucket}/`) ? path.slice(bucket.length + 1) : path || undefined;
}

export const ssm: SsmPort = {
  async onlineInstanceIds(instanceIds) {
    return new Set((await ssm.onlineAgents(instanceIds)).keys());
  },

  async onlineAgents(instanceIds) {
    const { sdk: aws, client } = await sdk();
    const online = new Map<string, { agentVersion?: string | undefined }>();
    for (const batch of chunk(instanceIds, INSTANCE_FILTER_LIMIT)) {
      const pages = aws.paginateDescribeInstanceInformation({ client }, { Filters: [{ Key: 'InstanceIds', Values: batch }] });
      await call('ssm:DescribeInstanceInformation', async () => {
        for await (const page of pages) {
          for (const info of page.InstanceInformationList ?? []) {
            if (info.PingStatus === 'Online' && info.InstanceId) online.set(info.InstanceId, { agentVersion: info.AgentVersion });
          }
        }
      });
    }
    return online;
  },

  async sendCommand(request) {
    const { sdk: aws, client } = await sdk();
    const answer = await call('ssm:SendCommand', () =>
      client.send(
        new aws.SendCommandCommand({
          DocumentName: request.documentName,
          ...(request.documentVersion ? { DocumentVersion: request.documentVersion } : {}),
          ...(outputBucket() && request.outputToS3 !== false ? { OutputS3BucketName: outputBucket(), OutputS3KeyPrefix: OUTPUT_KEY_PREFIX } : {}),
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
    const { sdk: aws, client } = await sdk();
    const invocations: CommandInvocation[] = [];
    const pages = aws.paginateListCommandInvocations({ client }, { CommandId: commandId });
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
    const { sdk: aws, client } = await sdk();
    try {
      const answer = await call('ssm:GetCommandInvocation', () =>
        client.send(new aws.GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId })),
      );
      const inline = { stdout: answer.StandardOutputContent ?? '', stderr: answer.StandardErrorContent ?? '' };
      // Output at the limit was cut: a result or an error printed last is only in S3.
      const [stdout, stderr] = await Promise.all([
        wasCut(inline.stdout, INLINE_OUTPUT_LIMIT.stdout) ? wholeOutput(answer.StandardOutputUrl, inline.stdout) : inline.stdout,
        wasCut(inline.stderr, INLINE_OUTPUT_LIMIT.stderr) ? wholeOutput(answer.StandardErrorUrl, inline.stderr) : inline.stderr,
      ]);
      return { stdout, stderr };
    } catch (error: unknown) {
      if (errorName(error) === AWS_ERROR.invocationDoesNotExist) return { stdout: '', stderr: '' };
      throw error;
    }
  },

  async findCommand(instanceId, token, since) {
    const { sdk: aws, client } = await sdk();
    const pages = aws.paginateListCommands({ client }, { InstanceId: instanceId, Filters: [{ key: 'InvokedAfter', value: new Date(since - 60_000).toISOString() }] });
    let found: string | undefined;
    await call('ssm:ListCommands', async () => {
      for await (const page of pages) {
        const match = (page.Commands ?? []).find((command) => command.Comment?.endsWith(` ${token}`));
        if (match?.CommandId) {
          found = match.CommandId;
          return;
        }
      }
    });
    return found;
  },

  async cancelCommand(commandId, instanceIds) {
    const { sdk: aws, client } = await sdk();
    try {
      await call('ssm:CancelCommand', () => client.send(new aws.CancelCommandCommand({ CommandId: commandId, ...(instanceIds ? { InstanceIds: [...instanceIds] } : {}) })));
    } catch (error: unknown) {
      // A command that finished meanwhile cannot be cancelled, and need not be.
      if (errorName(error) !== 'InvalidCommandId' && errorName(error) !== 'DuplicateInstanceId') throw error;
    }
  },

  async getParameter(name) {
    const { sdk: aws, client } = await sdk();
    try {
      const answer = await call('ssm:GetParameter', () => client.send(new aws.GetParameterCommand({ Name: name })));
      return answer.Parameter?.Value;
    } catch (error: unknown) {
      if (errorName(error) === AWS_ERROR.parameterNotFound) return undefined;
      throw error;
    }
  },

  async putParameter(name, value) {
    const { sdk: aws, client } = await sdk();
    await call('ssm:PutParameter', () =>
      client.send(new aws.PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true, Tier: 'Standard' })),
    );
  },
};
