// AWS error codes kubeha reacts to, named once.
import { AwsThrottledError } from '../core/errors.js';

export const AWS_ERROR = {
  secretNotFound: 'ResourceNotFoundException',
  parameterNotFound: 'ParameterNotFound',
  allocationNotFound: 'InvalidAllocationID.NotFound',
  invocationDoesNotExist: 'InvocationDoesNotExist',
  instanceNotFound: 'InvalidInstanceID.NotFound',
  addressInUse: 'InvalidIPAddress.InUse',
  insufficientCapacity: 'InsufficientInstanceCapacity',
  executionExists: 'ExecutionAlreadyExists',
  executionNotFound: 'ExecutionDoesNotExist',
  imageNotFound: 'InvalidAMIID.NotFound',
  imageUnavailable: 'InvalidAMIID.Unavailable',
  snapshotNotFound: 'InvalidSnapshot.NotFound',
  snapshotInUse: 'InvalidSnapshot.InUse',
} as const;

// Transient faults by the names the SDK gives them, per the services' API error references: throttling,
// a service's internal or unavailable answer, and the SDK's own request timeout. Anything answered with
// a 5xx status, or that the SDK marks retryable, counts too.
const TRANSIENT = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'Throttled',
  'RequestLimitExceeded',
  'RequestThrottled',
  'TooManyRequestsException',
  'TooManyUpdates',
  'ProvisionedThroughputExceededException',
  'SlowDown',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'Unavailable',
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'InternalServerErrorException',
  'InternalServiceError',
  'InternalServiceErrorException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const details = error as Error & { $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  return TRANSIENT.has(error.name) || (details.$metadata?.httpStatusCode ?? 0) >= 500 || Boolean(details.$retryable);
}

export function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/** Runs an AWS call; transient faults that outlived the SDK's own retries become AwsThrottledError for ASL to retry. */
export async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error: unknown) {
    if (isTransient(error)) throw new AwsThrottledError(operation, { cause: error });
    throw error;
  }
}
