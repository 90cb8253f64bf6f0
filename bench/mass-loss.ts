// Mass loss: an Availability Zone outage takes a third of the workers at once, and each lost worker starts
// its own heal-worker execution. Every heal polls its boot and its commands; together they must stay inside
// the AWS request rates (rate-limits.ts) that bootstrap already keeps to, while each heal stays as fast as it
// can. Measured through the real state machines and handlers on the simulated fleet, EventBridge's delivery
// delays included (one event in ten 1-3 minutes late, so the last heal ends well after the others).
import { consoleInput } from '../sim/bootstrap.js';
import { LocalControlPlane } from '../sim/control-plane.js';
import { SimulatedFleet } from '../sim/fleet.js';
import { type Busiest, RATE_LIMITS, limitKey, measureRates } from './rate-limits.js';
import { label } from './scenarios.js';
import { type BenchTable, markdownTable } from './table.js';

const CLUSTER = { masters: 3, loadBalancers: 2, workers: 90 } as const;
const LOSSES = [1, 10, 30] as const;
/** The calls a heal repeats while it waits, and the one it makes per step: the ones a mass loss multiplies. */
const WATCHED = ['ssm:ListCommandInvocations', 'ssm:DescribeInstanceInformation', 'ssm:SendCommand', 'ssm:GetCommandInvocation', 'ec2:DescribeInstances'] as const;

export interface MassLossFigures {
  readonly workers: number;
  readonly lost: number;
  readonly heals: number;
  readonly healed: number;
  /** From the loss to the end of the last heal (a late event's heal starts minutes later). */
  readonly lastHealEndedSeconds: number;
  /** The longest a heal ran from its own start: what sharing the rate costs one heal. */
  readonly slowestHealSeconds: number;
  readonly medianHealSeconds: number;
  readonly calls: number;
  readonly callsByOperation: Record<string, number>;
  readonly busiest: Busiest;
  readonly secondsOverLimit: number;
  /** Every SSM call in the busiest second, all APIs together (AWS meters each API on its own). */
  readonly busiestSsmSecond: number;
  /** The polls (ListCommandInvocations and DescribeInstanceInformation together) in the busiest second. */
  readonly busiestPollSecond: number;
  /** With AWS's throttling modelled: the calls answered ThrottlingException or RequestLimitExceeded. */
  readonly throttledCalls: number;
}

const POLLS = new Set(['ListCommandInvocations', 'DescribeInstanceInformation']);

/**
 * Bootstraps a cluster of `workers`, terminates `lost` of them at once and waits until every heal has ended.
 * `throttled`: from the loss on, every API answers as AWS does past its token bucket (sim/fleet.ts limitRates).
 */
export async function measureMassLoss(workers: number, lost: number, options: { seed?: number; throttled?: boolean } = {}): Promise<MassLossFigures> {
  const seed = options.seed ?? 7;
  const size = { ...CLUSTER, workers };
  const fleet = SimulatedFleet.standard({ ...size, vpcCidrPrefix: '10.0', seed });
  const plane = new LocalControlPlane(fleet).start().overlapCalls();
  try {
    const bootstrap = await plane.execute('bootstrap-cluster', 'bench-bootstrap', consoleInput(fleet));
    if (bootstrap.error) throw new Error(`bootstrap ${label(size)} failed: ${bootstrap.error.message}`);
    plane.enableEventBridge();
    if (options.throttled) fleet.limitRates((service, operation) => RATE_LIMITS[limitKey(service, operation)]);
    const origin = fleet.now();
    const before = fleet.calls.length;
    for (const worker of fleet.byRole('worker').slice(0, lost)) fleet.terminateInstance(worker.instanceId);
    await plane.settle();

    const heals = [...fleet.executions.values()].filter((execution) => execution.startedAt >= origin && execution.stateMachine.includes('heal-'));
    const calls = fleet.calls.slice(before);
    const callsByOperation: Record<string, number> = {};
    const ssmPerSecond = new Map<number, number>();
    const pollsPerSecond = new Map<number, number>();
    const count = (perSecond: Map<number, number>, at: number) => perSecond.set(Math.floor(at / 1000), (perSecond.get(Math.floor(at / 1000)) ?? 0) + 1);
    for (const call of calls) {
      const key = `${call.service}:${call.operation}`;
      callsByOperation[key] = (callsByOperation[key] ?? 0) + 1;
      if (call.service === 'ssm') count(ssmPerSecond, call.at);
      if (call.service === 'ssm' && POLLS.has(call.operation)) count(pollsPerSecond, call.at);
    }
    const own = heals.map((execution) => ((execution.stoppedAt ?? fleet.now()) - execution.startedAt) / 1000).sort((a, b) => a - b);
    const { busiest, secondsOverLimit } = measureRates(calls);
    return {
      workers,
      lost,
      heals: heals.length,
      healed: heals.filter((execution) => execution.status === 'SUCCEEDED').length,
      lastHealEndedSeconds: (Math.max(origin, ...heals.map((execution) => execution.stoppedAt ?? fleet.now())) - origin) / 1000,
      slowestHealSeconds: own.at(-1) ?? 0,
      medianHealSeconds: own[Math.floor(own.length / 2)] ?? 0,
      calls: calls.length,
      callsByOperation,
      busiest,
      secondsOverLimit,
      busiestSsmSecond: Math.max(0, ...ssmPerSecond.values()),
      busiestPollSecond: Math.max(0, ...pollsPerSecond.values()),
      throttledCalls: fleet.rateLimitedCalls,
    };
  } finally {
    plane.stop();
  }
}

export async function run(): Promise<BenchTable> {
  const figures: MassLossFigures[] = [];
  const throttled: MassLossFigures[] = [];
  for (const lost of LOSSES) figures.push(await measureMassLoss(CLUSTER.workers, lost));
  for (const lost of LOSSES) throttled.push(await measureMassLoss(CLUSTER.workers, lost, { throttled: true }));
  const missedTargets: string[] = [];
  for (const measured of throttled) {
    if (measured.healed !== measured.lost) missedTargets.push(`${measured.lost} of ${measured.workers} workers lost, AWS throttling modelled: ${measured.healed} of ${measured.lost} healed`);
  }
  for (const measured of figures) {
    const name = `${measured.lost} of ${measured.workers} workers lost`;
    if (measured.healed !== measured.lost) missedTargets.push(`${name}: ${measured.healed} of ${measured.lost} healed (${measured.heals} heals started)`);
    if (measured.secondsOverLimit > 0) missedTargets.push(`${name}: some API past its rate in ${measured.secondsOverLimit} s; busiest ${measured.busiest.operation}: ${measured.busiest.calls} of ${measured.busiest.limit}`);
  }
  const seconds = (value: number) => `${value.toFixed(0)} s`;
  const markdown = [
    markdownTable(
      ['workers lost (of 90)', 'healed', 'last heal ended', 'one heal: median, slowest', ...WATCHED, 'AWS calls', 'busiest window vs its token bucket', 'seconds past a rate', 'busiest second: SSM polls, all SSM APIs'],
      figures.map((measured) => [
        measured.lost,
        `${measured.healed} of ${measured.heals}`,
        seconds(measured.lastHealEndedSeconds),
        `${seconds(measured.medianHealSeconds)}, ${seconds(measured.slowestHealSeconds)}`,
        ...WATCHED.map((operation) => measured.callsByOperation[operation] ?? 0),
        measured.calls,
        `${measured.busiest.operation}: ${measured.busiest.calls} of ${measured.busiest.limit}`,
        measured.secondsOverLimit,
        `${measured.busiestPollSecond}, ${measured.busiestSsmSecond}`,
      ]),
    ),
    '',
    'The same losses with AWS\'s throttling modelled (every API answers ThrottlingException or RequestLimitExceeded past',
    'its token bucket; the state machines retry AwsThrottledError with backoff):',
    '',
    markdownTable(
      ['workers lost (of 90)', 'healed', 'calls throttled', 'last heal ended', 'one heal: median, slowest', 'AWS calls'],
      throttled.map((measured) => [
        measured.lost,
        `${measured.healed} of ${measured.heals}`,
        measured.throttledCalls,
        seconds(measured.lastHealEndedSeconds),
        `${seconds(measured.medianHealSeconds)}, ${seconds(measured.slowestHealSeconds)}`,
        measured.calls,
      ]),
    ),
    '',
    `A ${label(CLUSTER)} cluster bootstrapped, then that many workers terminated at the same moment; each heal runs`,
    'from its event (EventBridge\'s modelled delay, sometimes minutes) to its end. Rates per API as in the scaling',
    'table (bench/rate-limits.ts); a second past any of them is a missed target.',
  ].join('\n');
  return { title: 'Mass loss: workers of one Availability Zone healed at once', markdown, json: { figures, throttled }, missedTargets };
}
