// AWS's request rates and how close a run came to them: the busiest second (and 10-second window) of each
// API against its token bucket. Shared by the scaling table (a bootstrap) and the mass-loss table (heals).

/**
 * Default sustained request rates per account and Region (requests per second), and where they are stated.
 * EC2 publishes its token buckets; for the others kubeha assumes the floor given here, below the defaults
 * AWS lists in Service Quotas for each API.
 */
export const RATE_LIMITS: Record<string, { burst: number; perSecond: number; source: string }> = {
  'ec2:non-mutating': { burst: 100, perSecond: 20, source: 'EC2 API throttling: non-mutating actions, bucket 100, refill 20/s (docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html)' },
  'ec2:mutating': { burst: 50, perSecond: 5, source: 'EC2 API throttling: mutating actions, bucket 50, refill 5/s (same page)' },
  ssm: { burst: 10, perSecond: 10, source: 'Systems Manager API actions: floor assumed (no burst); SSM lists per-API rates in Service Quotas' },
  'ssm:parameter-store': {
    burst: 40,
    perSecond: 40,
    source: 'Parameter Store: default throughput 40/s shared by GetParameter, GetParameters, GetParametersByPath (Systems Manager endpoints and quotas, docs.aws.amazon.com/general/latest/gr/ssm.html)',
  },
  secretsmanager: { burst: 50, perSecond: 50, source: 'Secrets Manager: PutSecretValue and other write APIs 50/s combined (Secrets Manager quotas)' },
  states: { burst: 150, perSecond: 150, source: 'Step Functions StartExecution: refill 150/s outside the largest Regions (Step Functions quotas)' },
  dynamodb: { burst: 100, perSecond: 100, source: 'DynamoDB on-demand table: floor assumed, far below its per-table throughput' },
  sns: { burst: 30, perSecond: 30, source: 'SNS Publish: floor assumed, below the per-Region Publish quota' },
  s3: { burst: 100, perSecond: 100, source: 'S3: 3,500 PUT / 5,500 GET per prefix per second; floor assumed' },
};

/** Token bucket: at most `burst` in any second, and `burst + 10 × perSecond` in any 10 s. */
const WINDOW_SECONDS = 10;

const PARAMETER_READS = new Set(['GetParameter', 'GetParameters', 'GetParametersByPath']);

export const limitKey = (service: string, operation: string): string =>
  service === 'ec2' ? (/^(Describe|Get)/.test(operation) ? 'ec2:non-mutating' : 'ec2:mutating') : service === 'ssm' && PARAMETER_READS.has(operation) ? 'ssm:parameter-store' : service;

export interface Busiest {
  /** `service:Operation (1 s)` or `(10 s)`: the API and window that came closest to its bucket. */
  readonly operation: string;
  readonly calls: number;
  readonly limit: number;
}

export interface RateFigures {
  readonly busiest: Busiest;
  /** Seconds in which some API was called more often than its bucket allows in one second. */
  readonly secondsOverLimit: number;
}

/**
 * Counts each API's calls per second and per 10-second window and reports the one closest to its bucket,
 * and how many seconds any API went past it. Calls are counted per operation, as AWS meters them.
 */
export function measureRates(calls: readonly { service: string; operation: string; at: number }[]): RateFigures {
  const perSecond = new Map<string, number>();
  const perWindow = new Map<string, number>();
  const secondsOver = new Set<number>();
  let busiest = { operation: '-', calls: 0, limit: Infinity, share: 0 };
  for (const call of calls) {
    const key = `${call.service}:${call.operation}`;
    const bucket = RATE_LIMITS[limitKey(call.service, call.operation)] ?? { burst: 1, perSecond: 1 };
    const second = Math.floor(call.at / 1000);
    const count = (perSecond.get(`${key}@${second}`) ?? 0) + 1;
    perSecond.set(`${key}@${second}`, count);
    if (count > bucket.burst) secondsOver.add(second);
    if (count / bucket.burst > busiest.share) busiest = { operation: `${key} (1 s)`, calls: count, limit: bucket.burst, share: count / bucket.burst };
    const window = `${key}@${Math.floor(call.at / (WINDOW_SECONDS * 1000))}`;
    const inWindow = (perWindow.get(window) ?? 0) + 1;
    perWindow.set(window, inWindow);
    const windowLimit = bucket.burst + WINDOW_SECONDS * bucket.perSecond;
    if (inWindow / windowLimit > busiest.share) busiest = { operation: `${key} (10 s)`, calls: inWindow, limit: windowLimit, share: inWindow / windowLimit };
  }
  return { busiest: { operation: busiest.operation, calls: busiest.calls, limit: busiest.limit }, secondsOverLimit: secondsOver.size };
}
