// AWS error codes kubeha reacts to, named once.
import { AwsThrottledError } from '../core/errors.js';

export const AWS_ERROR = {
  secretNotFound: 'ResourceNotFoundException',
  parameterNotFound: 'ParameterNotFound',
  allocationNotFound: 'InvalidAllocationID.NotFound',
  invocationDoesNotExist: 'InvocationDoesNotExist',
  instanceNotFound: 'InvalidInstanceID.NotFound',
  addressInUse: 'InvalidIPAddress.InUse',
  parameterExists: 'ParameterAlreadyExists',
  executionExists: 'ExecutionAlreadyExists',
  executionNotFound: 'ExecutionDoesNotExist',
} as const;

const TRANSIENT = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'TooManyRequestsException',
  'ServiceUnavailable',
  'InternalError',
  'InternalServerError',
  'InternalServerErrorException',
]);

export function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/** Runs an AWS call; transient faults that outlived the SDK's own retries become AwsThrottledError for ASL to retry. */
export async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error: unknown) {
    const name = errorName(error);
    if (name && TRANSIENT.has(name)) throw new AwsThrottledError(operation, { cause: error });
    throw error;
  }
}
