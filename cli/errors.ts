// The failures the CLI reports as one sentence, and the exit codes scripts can rely on. Both backends
// and every command depend on this module; it depends on nothing of theirs.

/** Exit codes, as README's table documents them. */
export const EXIT = { ok: 0, failed: 1, usage: 2, blocked: 3, credentials: 4, notFound: 5 } as const;

/** Conventional exit code of a process stopped with Ctrl-C (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** A failure the CLI reports as one sentence, with the exit code scripts can rely on. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const CREDENTIAL_ERRORS = new Set(['CredentialsProviderError', 'ExpiredTokenException', 'InvalidClientTokenId', 'UnrecognizedClientException', 'ExpiredToken', 'TokenRefreshRequired']);
const ACCESS_ERRORS = new Set(['AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation', 'AuthorizationError']);

export const REGION_HELP = 'pass --region, set AWS_REGION, or give the profile a region with `aws configure set region eu-west-1`';

/** Turns the SDK's "no region", "no credentials", "not allowed" and "no such thing" into one sentence with what to do next. */
export function explainAwsError(error: unknown): CliError | undefined {
  if (!(error instanceof Error)) return undefined;
  const { name, message } = error;
  if (message === 'Region is missing' || name === 'RegionMissingError') {
    return new CliError(`No AWS region is configured: ${REGION_HELP}.`, EXIT.credentials, { cause: error });
  }
  if (CREDENTIAL_ERRORS.has(name) || /Could not load credentials|credential/i.test(message)) {
    return new CliError('No usable AWS credentials were found: run `aws configure` or `aws sso login`, pass --profile, or try the command offline with --simulate.', EXIT.credentials, { cause: error });
  }
  if (ACCESS_ERRORS.has(name)) {
    return new CliError(`AWS refused the call (${name}): use credentials allowed to operate kubeha, or ask your administrator.`, EXIT.credentials, { cause: error });
  }
  if (name === 'StateMachineDoesNotExist') {
    return new CliError('The kubeha state machines are not deployed in this account, region and stage: run `npx sls deploy` first, or pass --stage and --region.', EXIT.notFound, { cause: error });
  }
  if (name === 'ExecutionDoesNotExist' || name === 'InvalidArn') {
    return new CliError(`No such execution: ${message}. Copy the ARN kubeha printed when it started the execution.`, EXIT.notFound, { cause: error });
  }
  if (name === 'ResourceNotFoundException') {
    return new CliError(`Not found: ${message}`, EXIT.notFound, { cause: error });
  }
  return undefined;
}
