// Scaling: what a bootstrap asks of AWS as the worker count grows. Calls and transitions grow with the
// number of batches of 50 workers (⌈N/50⌉), not with N; the busiest second of each API stays under
// its default rate limit; the state payload stays far under 256 KB.
import { SERVICE_LIMITS } from '../sim/state-machine.js';
import { PAYLOAD_BUDGET_BYTES, batches, callBudget, invocationBudget, transitionBudget } from './budgets.js';
import { RATE_LIMITS, measureRates } from './rate-limits.js';
import { bootstrapRun } from './scenarios.js';
import { type BenchTable, markdownTable } from './table.js';

const WORKER_COUNTS = [3, 30, 300, 1000] as const;

interface Figures {
  readonly workers: number;
  readonly batches: number;
  readonly calls: number;
  readonly callsByOperation: Record<string, number>;
  readonly sendCommandTargets: { calls: number; mean: number; max: number };
  readonly transitions: number;
  readonly lambdaInvocations: number;
  readonly historyEvents: number;
  readonly peakPayloadBytes: number;
  readonly busiestSecond: { operation: string; calls: number; limit: number };
  readonly modelledSeconds: number;
}

export async function measure(workers: number): Promise<Figures> {
  const { fleet, run, seconds } = await bootstrapRun({ masters: 3, loadBalancers: 2, workers });
  const callsByOperation: Record<string, number> = {};
  for (const call of fleet.calls) {
    const key = `${call.service}:${call.operation}`;
    callsByOperation[key] = (callsByOperation[key] ?? 0) + 1;
  }
  const { busiest } = measureRates(fleet.calls);
  const sends = fleet.calls.filter((call) => call.operation === 'SendCommand').map((call) => ((call.input as { InstanceIds?: string[] }).InstanceIds ?? []).length);
  return {
    workers,
    batches: batches(workers),
    calls: fleet.calls.length,
    callsByOperation: Object.fromEntries(Object.entries(callsByOperation).sort(([, a], [, b]) => b - a)),
    sendCommandTargets: { calls: sends.length, mean: sends.reduce((sum, count) => sum + count, 0) / Math.max(1, sends.length), max: Math.max(0, ...sends) },
    transitions: run.events.filter((event) => event.type === 'StateEntered').length,
    lambdaInvocations: run.tasks.length,
    historyEvents: run.historyEvents,
    peakPayloadBytes: run.peakPayloadBytes,
    busiestSecond: { operation: busiest.operation, calls: busiest.calls, limit: busiest.limit },
    modelledSeconds: seconds,
  };
}

export async function run(): Promise<BenchTable> {
  const figures: Figures[] = [];
  for (const workers of WORKER_COUNTS) figures.push(await measure(workers));
  const missedTargets: string[] = [];
  for (const measured of figures) {
    const n = measured.workers;
    if (measured.calls > callBudget(n)) missedTargets.push(`N=${n}: ${measured.calls} AWS calls, budget ${callBudget(n)}`);
    if (measured.transitions > transitionBudget(n)) missedTargets.push(`N=${n}: ${measured.transitions} transitions, budget ${transitionBudget(n)}`);
    if (measured.lambdaInvocations > invocationBudget(n)) missedTargets.push(`N=${n}: ${measured.lambdaInvocations} Lambda invocations, budget ${invocationBudget(n)}`);
    if (measured.peakPayloadBytes > PAYLOAD_BUDGET_BYTES) missedTargets.push(`N=${n}: peak payload ${measured.peakPayloadBytes} B, budget ${PAYLOAD_BUDGET_BYTES} B`);
    if (measured.busiestSecond.calls > measured.busiestSecond.limit) missedTargets.push(`N=${n}: ${measured.busiestSecond.calls} ${measured.busiestSecond.operation} calls, limit ${measured.busiestSecond.limit}`);
  }
  const operations = [...new Set(figures.flatMap((measured) => Object.keys(measured.callsByOperation)))].sort(
    (a, b) => (figures.at(-1)!.callsByOperation[b] ?? 0) - (figures.at(-1)!.callsByOperation[a] ?? 0),
  );
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  const markdown = [
    markdownTable(
      ['workers (N)', '⌈N/50⌉', 'AWS calls (budget)', 'calls per batch', 'SendCommand calls / targets mean, max', 'state transitions (budget)', 'Lambda invocations', 'history events', 'peak state payload (of 256 KB)', 'busiest window vs its token bucket', 'modelled time'],
      figures.map((measured) => [
        measured.workers,
        measured.batches,
        `${measured.calls} (${callBudget(measured.workers)})`,
        (measured.calls / measured.batches).toFixed(0),
        `${measured.sendCommandTargets.calls} / ${measured.sendCommandTargets.mean.toFixed(1)}, ${measured.sendCommandTargets.max}`,
        `${measured.transitions} (${transitionBudget(measured.workers)})`,
        measured.lambdaInvocations,
        measured.historyEvents,
        `${kb(measured.peakPayloadBytes)} (${((measured.peakPayloadBytes / SERVICE_LIMITS.payloadBytes) * 100).toFixed(0)} %)`,
        `${measured.busiestSecond.operation}: ${measured.busiestSecond.calls} of ${measured.busiestSecond.limit}`,
        `${(measured.modelledSeconds / 60).toFixed(1)} min`,
      ]),
    ),
    '',
    'AWS calls by operation:',
    '',
    markdownTable(['operation', ...figures.map((measured) => `N=${measured.workers}`)], operations.map((operation) => [operation, ...figures.map((measured) => measured.callsByOperation[operation] ?? 0)])),
    '',
    'Rate limits assumed (sustained requests per second, per account and Region):',
    '',
    markdownTable(['API', 'burst', 'per second', 'source'], Object.entries(RATE_LIMITS).map(([api, limit]) => [api, limit.burst, limit.perSecond, limit.source])),
    '',
    'Calls of concurrent executions and branches overlap in modelled time (each takes 0.12 s); the structure',
    'bounds a burst: at most 40 prerequisite batches (the Map\'s concurrency) and 4 worker-join batches poll at',
    'once, every 2 s at the fastest.',
  ].join('\n');
  return { title: 'Scaling: what a bootstrap asks of AWS as workers grow', markdown, json: figures, missedTargets };
}
