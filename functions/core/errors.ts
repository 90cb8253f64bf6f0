// Every error a handler throws on purpose. State machines match these `name`s in Retry/Catch,
// so renaming one is a breaking change to the ASL files.

abstract class KubehaError extends Error {
  /** Whether a Step Functions retry could plausibly succeed. Documented for ASL authors. */
  abstract readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The execution input (or a handler input) is malformed. Final: fix the input and start again. */
export class InputValidationError extends KubehaError {
  override readonly name = 'InputValidationError';
  readonly retryable = false;
  constructor(readonly issues: readonly { field: string; reason: string }[]) {
    super(issues.map((issue) => `${issue.field}: ${issue.reason}`).join('; '));
  }
}

/** The discovered fleet or account cannot host the requested cluster. Final until a human fixes it. */
export class PreflightFailedError extends KubehaError {
  override readonly name = 'PreflightFailedError';
  readonly retryable = false;
  constructor(readonly findings: readonly { field: string; reason: string }[]) {
    super(findings.map((finding) => `${finding.field}: ${finding.reason}`).join('; '));
  }
}

/** An SSM command finished unsuccessfully on at least one instance. */
export class CommandFailedError extends KubehaError {
  override readonly name = 'CommandFailedError';
  readonly retryable = false;
  constructor(
    readonly step: string,
    readonly failures: readonly { instanceId: string; status: string; reason: string }[],
  ) {
    super(
      `step "${step}" failed on ${failures
        .map((failure) => `${failure.instanceId} (${failure.status}): ${failure.reason}`)
        .join('; ')}`,
    );
  }
}

/** An SSM command did not finish before its step deadline. */
export class CommandTimedOutError extends KubehaError {
  override readonly name = 'CommandTimedOutError';
  readonly retryable = false;
  constructor(
    readonly step: string,
    readonly pendingInstanceIds: readonly string[],
  ) {
    super(`step "${step}" did not finish in time on ${pendingInstanceIds.join(', ')}`);
  }
}

/** AWS asked us to slow down, or answered with a transient fault. Retry with backoff. */
export class AwsThrottledError extends KubehaError {
  override readonly name = 'AwsThrottledError';
  readonly retryable = true;
  constructor(operation: string, options?: { cause?: unknown }) {
    super(`${operation} was throttled or failed transiently`, options);
  }
}

/** An instance we expected vanished or left the running state mid-step. */
export class InstanceGoneError extends KubehaError {
  override readonly name = 'InstanceGoneError';
  readonly retryable = false;
  constructor(
    readonly instanceId: string,
    reason: string,
  ) {
    super(`instance ${instanceId} ${reason}`);
  }
}

/** Something the cluster needs is missing from its recorded settings (e.g. no CA hash yet). */
export class ClusterStateError extends KubehaError {
  override readonly name = 'ClusterStateError';
  readonly retryable = false;
}

/** Changing etcd membership now could lose quorum. Final: a human must restore from a snapshot or fix members. */
export class QuorumLostError extends KubehaError {
  override readonly name = 'QuorumLostError';
  readonly retryable = false;
}

/** The per-cluster healing lock is held by another running execution. The workflow waits and asks again. */
export class ClusterBusyError extends KubehaError {
  override readonly name = 'ClusterBusyError';
  readonly retryable = true;
}

/** A node did not become Ready (or its etcd member healthy) in time. Retryable: healing may try another way. */
export class NodeNotReadyError extends KubehaError {
  override readonly name = 'NodeNotReadyError';
  readonly retryable = true;
}

/** A master's certificates still expire within the window after `kubeadm certs renew all` ran there. Final: a human looks. */
export class CertificateRenewalError extends KubehaError {
  override readonly name = 'CertificateRenewalError';
  readonly retryable = false;
}

/** A replacement instance could not be launched (capacity, limits, a vanished subnet). */
export class LaunchFailedError extends KubehaError {
  override readonly name = 'LaunchFailedError';
  readonly retryable = true;
  /** EC2 had too little capacity of the type in the subnet's zone (InsufficientInstanceCapacity): another zone may have it. */
  readonly insufficientCapacity: boolean;
  constructor(message: string, options?: { cause?: unknown; insufficientCapacity?: boolean }) {
    super(message, options);
    this.insufficientCapacity = options?.insufficientCapacity === true;
  }
}

/**
 * EC2 has too little on-demand capacity of the type (InsufficientInstanceCapacity) to start an instance in its
 * zone (it stays stopped) or to launch a replacement in any zone its role may use: a master and a load balancer
 * their own, a worker every zone with a running worker. A warm standby that cannot start is given back and the
 * heal takes another or launches; a heal the shortage reaches waits it out in its own execution, every 5 minutes
 * up to a cap (state-machines/heal-*.asl.yaml), then fails with this error. Not LaunchFailedError: that one is
 * retried briefly, this one is waited for.
 */
export class InsufficientCapacityError extends KubehaError {
  override readonly name = 'InsufficientCapacityError';
  readonly retryable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }

  /** EC2's own message, which names the zone, is quoted when the cause carries it. */
  static toStart(instanceId: string, options?: { cause?: unknown }): InsufficientCapacityError {
    const ec2Says = options?.cause instanceof Error && options.cause.message ? `: ${options.cause.message}` : '';
    return new InsufficientCapacityError(`EC2 has too little capacity to start ${instanceId} in its Availability Zone now${ec2Says}`, options);
  }

  /** `zones`: every zone the launch was refused in, the dead instance's first. EC2's own message is kept as the cause and quoted. */
  static toLaunch(deadInstanceId: string, role: string, zones: readonly string[], shortage: Error): InsufficientCapacityError {
    const where = zones.length > 0 ? zones.join(', ') : 'its Availability Zone';
    const why = role === 'worker' ? 'every zone with a running worker was tried' : `a ${role} is launched only in its own zone`;
    const ec2Says = shortage.cause instanceof Error ? shortage.cause.message : shortage.message;
    return new InsufficientCapacityError(`EC2 has too little capacity to launch the replacement of ${role} ${deadInstanceId} in ${where} now (${why}): ${ec2Says}`, { cause: shortage });
  }
}

/** A drill that could do real harm (break quorum, leave no standby, take the only worker) is refused. Final. */
export class DrillRefusedError extends KubehaError {
  override readonly name = 'DrillRefusedError';
  readonly retryable = false;
}

/** A drill ran but did not see the cluster heal in time. */
export class DrillFailedError extends KubehaError {
  override readonly name = 'DrillFailedError';
  readonly retryable = false;
}

export function isKubehaError(error: unknown): error is KubehaError {
  return error instanceof KubehaError;
}

/**
 * The message inside a Step Functions Cause. A function error arrives as the JSON string Lambda writes
 * ({ errorType, errorMessage, trace }); a Fail state's or the service's own cause is plain text.
 */
export function readableCause(cause: string | undefined): string {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed === 'object' && parsed !== null && typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // plain text
  }
  return cause;
}

/** A node image build could not finish (the AMI failed, or the build lost its builder). Final for that build. */
export class NodeImageFailedError extends KubehaError {
  override readonly name = 'NodeImageFailedError';
  readonly retryable = false;
}

/**
 * A snapshot of an image kubeha just deregistered is still reported in use (InvalidSnapshot.InUse): EC2 lets a
 * snapshot go only once no registered image lists it. Retryable: the Task runs again and finds the rest done.
 */
export class SnapshotInUseError extends KubehaError {
  override readonly name = 'SnapshotInUseError';
  readonly retryable = true;
}
