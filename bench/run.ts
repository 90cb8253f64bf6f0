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
const limitRows: string[] = [];
for (const size of [...sizes, { masters: 5, loadBalancers: 2, workers: 1000 }]) {
  const fleet = SimulatedFleet.standard({ ...size, vpcCidrPrefix: '10.0' });
  const start = performance.now();
  const run = await bootstrapOnFleet(fleet, consoleInput(fleet));
  const wallMs = performance.now() - start;
  if (run.error) throw new Error(`bootstrap failed: ${run.error.name}: ${run.error.cause}`);
  const summary = run.output as BootstrapSummary;
  const transitions = run.events.filter((event) => event.type === 'StateEntered').length;
  limitRows.push(`| bootstrap ${size.masters}/${size.loadBalancers}/${size.workers} | ${(run.peakPayloadBytes / 1024).toFixed(1)} KB | ${run.historyEvents} | ${fleet.calls.length} |`);
  rows.push(
    `| ${size.masters}/${size.loadBalancers}/${size.workers} | ${wallMs.toFixed(0)} ms | ${(summary.timings.totalSeconds / 60).toFixed(1)} min | ${fleet.calls.length} | ${transitions} | $${(transitions * STANDARD_TRANSITION_USD).toFixed(4)} |`,
  );
}

console.log(`handler modules import under tsx (includes transpiling; an upper bound for cold start): ${importMs.toFixed(0)} ms\n`);
console.log('| masters/LBs/workers | wall clock | modelled bootstrap | AWS calls | state transitions | Step Functions cost |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const row of rows) console.log(row);

// Healing, measured through drills: modelled time to heal, what users saw, and what it costs.
const { LocalControlPlane } = await import('../sim/control-plane.js');
const scenarios = [
  { target: 'lb', action: 'stop' },
  { target: 'master', action: 'stop' },
  { target: 'master', action: 'terminate' },
  { target: 'worker', action: 'terminate' },
] as const;
console.log('\n| drill | wall clock | modelled time to heal | longest API outage | longest in-cluster API outage | longest app outage | heal transitions | heal cost |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const scenario of scenarios) {
  const fleet = SimulatedFleet.standard();
  const plane = new LocalControlPlane(fleet).start().enableEventBridge();
  await plane.execute('bootstrap-cluster', 'bench-bootstrap', consoleInput(fleet));
  const start = performance.now();
  const before = fleet.executions.size;
  const drill = await plane.execute('drill-cluster', `bench-${scenario.target}-${scenario.action}`, { clusterName: 'demo', ...scenario });
  const wallMs = performance.now() - start;
  if (drill.error) throw new Error(`drill failed: ${drill.error.cause}`);
  const report = drill.output as { timeToHealSeconds: number; api: { longestOutageSeconds: number }; inCluster: { longestOutageSeconds: number }; app: { longestOutageSeconds: number } };
  const heals = [...fleet.executions.values()].slice(before).filter((execution) => execution.stateMachine.includes('heal-'));
  const transitions = heals.reduce((sum, execution) => sum + (plane.runs.get(execution.executionArn)?.events.filter((event) => event.type === 'StateEntered').length ?? 0), 0);
  console.log(
    `| ${scenario.action} ${scenario.target} | ${wallMs.toFixed(0)} ms | ${report.timeToHealSeconds} s | ${report.api.longestOutageSeconds} s | ${report.inCluster.longestOutageSeconds} s | ${report.app.longestOutageSeconds} s | ${transitions} | $${(transitions * STANDARD_TRANSITION_USD).toFixed(5)} |`,
  );
  plane.stop();
}

// Under the service's limits: peak state payload (256 KB allowed) and history events (25,000 allowed)
// as the local runner counts them, and AWS calls; reconcile with 1,000 NotReady workers.
{
  const { inInvocation } = await import('../sim/handler-time.js');
  const fleet = SimulatedFleet.standard();
  const plane = new LocalControlPlane(fleet).start();
  await plane.execute('bootstrap-cluster', 'bench-bootstrap', consoleInput(fleet));
  for (const instanceId of fleet.addJoinedWorkers('demo', 1000)) fleet.wedgeNode(instanceId);
  for (const [label, advance] of [['reconcile, 1,000 NotReady (first sight, records written)', 0], ['reconcile, 1,000 NotReady (past grace: held back, one alert)', 11 * 60]] as const) {
    fleet.advance(advance);
    const calls = fleet.calls.length;
    const run = inInvocation(() => plane.reconcile());
    await run.result;
    limitRows.push(`| ${label} | - | - | ${fleet.calls.length - calls} (${(run.elapsedMs() / 1000).toFixed(1)} s of its 120 s) |`);
  }
  plane.stop();
}
// A Secrets encryption key rotation on 3 and 5 masters: three key moves, a restart of every API server
// after each, one rewrite.
for (const masters of [3, 5]) {
  const fleet = SimulatedFleet.standard({ masters });
  const plane = new LocalControlPlane(fleet).start();
  await plane.execute('bootstrap-cluster', 'bench-bootstrap', consoleInput(fleet));
  const calls = fleet.calls.length;
  const started = fleet.now();
  const run = await plane.execute('rotate-encryption-key', 'bench-rotate', { clusterName: 'demo', rotationId: 'bench' });
  if (run.error) throw new Error(`rotation failed: ${run.error.cause}`);
  limitRows.push(
    `| rotate the encryption key, ${masters} masters (${(fleet.now() - started) / 1000} s modelled) | ${(run.peakPayloadBytes / 1024).toFixed(1)} KB | ${run.historyEvents} | ${fleet.calls.length - calls} |`,
  );
  plane.stop();
}
console.log('\n| run | peak state payload | history events | AWS calls |');
console.log('| --- | --- | --- | --- |');
for (const row of limitRows) console.log(row);
