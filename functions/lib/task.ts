// The one way kubeha builds a Step Functions Task handler: middy, schema-validated input, a logger
// carrying cluster and execution, and typed errors passed through untouched for ASL Retry/Catch.
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { zodIssues } from '../core/config.js';
import { InputValidationError, isKubehaError } from '../core/errors.js';
import { type Logger, createLogger } from '../core/log.js';

/** Every Task's Parameters add the execution id (`$$.Execution.Id`) so log lines can be traced back. */
export const executionFields = { executionArn: z.string().optional() };

function clusterOf(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const record = event as Record<string, unknown>;
  const nested = (key: string) => {
    const value = record[key];
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>).clusterName : undefined;
  };
  const name = record.clusterName ?? nested('cluster') ?? nested('config') ?? nested('input');
  return typeof name === 'string' ? name : undefined;
}

export function task<Schema extends z.ZodType, Result>(
  name: string,
  schema: Schema,
  run: (input: z.output<Schema>, log: Logger) => Promise<Result>,
) {
  return middy<unknown, Result, Error, Context>().handler(async (event, context) => {
    const record = typeof event === 'object' && event !== null ? (event as Record<string, unknown>) : {};
    const log = createLogger({
      handler: name,
      cluster: clusterOf(event),
      executionArn: typeof record.executionArn === 'string' ? record.executionArn : undefined,
      requestId: context?.awsRequestId,
    });
    const parsed = schema.safeParse(event);
    if (!parsed.success) {
      const error = new InputValidationError(zodIssues(parsed.error, event));
      log.warn('rejected input', { error: error.message });
      throw error;
    }
    try {
      return await run(parsed.data, log);
    } catch (error: unknown) {
      log.error('task failed', {
        error: error instanceof Error ? error.name : 'Unknown',
        reason: error instanceof Error ? error.message : String(error),
        expected: isKubehaError(error),
      });
      throw error;
    }
  });
}
