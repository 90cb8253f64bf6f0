// Benchmarks, kept apart from the tests: `npm run bench`. Bootstraps simulated fleets of growing size
// with the real state machine and handlers, and reports wall-clock time, modelled time, AWS calls and
// state transitions (what Step Functions bills), plus handler import time (a cold-start proxy).
import { performance } from 'node:perf_hooks';
import type { BootstrapSummary } from '../functions/core/summary.js';

// Measured first, before anything else pulls the handlers in.
const importStart = performance.now();
await import('../functions/registry.js');
const importMs = performance.now() - importStart;

const { setLogSink } = await import('../functions/core/log.js');
const { bootstrapOnFleet, consoleInput } = await import('../sim/bootstrap.js');
const { SimulatedFleet } = await import('../sim/fleet.js');

process.env.KUBEHA_DOCUMENT_PREFIX = 'kubeha-bench-';
process.env.AWS_REGION = 'eu-west-1';
setLogSink(() => undefined);

const STANDARD_TRANSITION_USD = 0.000025;
const sizes = [
  { masters: 3, loadBalancers: 2, workers: 3 },
  { masters: 3, loadBalancers: 2, workers: 50 },
  { masters: 5, loadBalancers: 2, workers: 200 },
];

const rows: string[] = [];
for (const size of sizes) {
  const fleet = SimulatedFleet.standard({ ...size, vpcCidrPrefix: '10.0' });
  const start = performance.now();
  const run = await bootstrapOnFleet(fleet, consoleInput(fleet));
  const wallMs = performance.now() - start;
  if (run.error) throw new Error(`bootstrap failed: ${run.error.name}: ${run.error.cause}`);
  const summary = run.output as BootstrapSummary;
  const transitions = run.events.filter((event) => event.type === 'StateEntered').length;
  rows.push(
    `| ${size.masters}/${size.loadBalancers}/${size.workers} | ${wallMs.toFixed(0)} ms | ${(summary.timings.totalSeconds / 60).toFixed(1)} min | ${fleet.calls.length} | ${transitions} | $${(transitions * STANDARD_TRANSITION_USD).toFixed(4)} |`,
  );
}

console.log(`handler modules import under tsx (includes transpiling; an upper bound for cold start): ${importMs.toFixed(0)} ms\n`);
console.log('| masters/LBs/workers | wall clock | modelled bootstrap | AWS calls | state transitions | Step Functions cost |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const row of rows) console.log(row);
