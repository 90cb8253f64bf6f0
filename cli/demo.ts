// npm run demo: the whole control plane on a laptop, no AWS account. The real state machines and
// handlers run against the simulated fleet (the one the tests use) on modelled time: bootstrap a
// 3-master, 2-load-balancer, 3-worker cluster with the CLI's progress display, then drill the
// runbook's failures - stop the load balancer holding the Elastic IP, terminate a master,
// terminate a worker - and print a timeline and a summary.
import { performance } from 'node:perf_hooks';
import { setLogSink } from '../functions/core/log.js';
import type { DrillReport } from '../functions/core/drill.js';
import { createSimulatedBackend } from './simulated-backend.js';
import { bootstrapWith } from './commands/bootstrap.js';
import { drill } from './commands/drill.js';
import { type Output, duration, percent, table } from './format.js';

const CLUSTER = 'demo';
const ELASTIC_IP = 'eipalloc-0de0000000000d0e0';

const DRILLS = [
  { title: 'stop the load balancer holding the Elastic IP', target: 'lb', action: 'stop' },
  { title: 'terminate a master', target: 'master', action: 'terminate' },
  { title: 'terminate a worker', target: 'worker', action: 'terminate' },
] as const;

export interface DemoResult {
  readonly reports: DrillReport[];
  readonly wallSeconds: number;
}

export async function runDemo(out: Output): Promise<DemoResult> {
  const wallStart = performance.now();
  const restoreLogs = setLogSink(() => undefined);
  const backend = createSimulatedBackend({ simulate: true, stage: 'demo', clusterName: CLUSTER, elasticIpAllocationId: ELASTIC_IP });
  const { fleet, plane } = backend.simulation!;
  try {
    out.write(
      [
        'kubeha demo: the real state machines and Lambda handlers, run locally against a simulated AWS account.',
        'Time is modelled (sim/latency.ts): apt installs ~95 s, kubeadm init ~80 s, a control-plane join ~65 s,',
        'an instance boot ~45 s, an Elastic IP move 5 s. A probe on a worker asks the API through the Elastic IP',
        'and a test application once per modelled second during each drill.',
        '',
        `1. Bootstrap ${CLUSTER}: 3 masters, 2 load balancers, 3 workers`,
        '',
      ].join('\n'),
    );
    const bootstrapCalls = fleet.calls.length;
    const bootstrapCode = await bootstrapWith(
      { clusterName: CLUSTER, kubernetesVersion: '1.36.4', elasticIpAllocationId: ELASTIC_IP, podCidr: '192.168.0.0/16', serviceCidr: '10.96.0.0/12' },
      CLUSTER,
      backend,
      out,
    );
    if (bootstrapCode !== 0) throw new Error('the demo bootstrap failed');
    const rows: (string | number)[][] = [];
    const bootstrapExecution = [...fleet.executions.values()][0]!;
    rows.push(['bootstrap', 'yes', `${Math.round((bootstrapExecution.stoppedAt! - bootstrapExecution.startedAt) / 1000)} s`, '-', '-', fleet.calls.length - bootstrapCalls, transitionsSince(plane, 0)]);

    const reports: DrillReport[] = [];
    for (const [index, scenario] of DRILLS.entries()) {
      out.write(`\n${index + 2}. Drill: ${scenario.title}\n\n`);
      const calls = fleet.calls.length;
      const executionsBefore = fleet.executions.size;
      const { report } = await drill({ clusterName: CLUSTER, target: scenario.target, action: scenario.action }, backend, out);
      if (!report) throw new Error(`the ${scenario.title} drill produced no report`);
      reports.push(report);
      rows.push([
        scenario.title,
        report.healed ? 'yes' : 'NO',
        `${report.timeToHealSeconds} s`,
        `${report.api.longestOutageSeconds} s (${percent(report.api.successRatio)} ok)`,
        `${report.app.longestOutageSeconds} s (${percent(report.app.successRatio)} ok)`,
        fleet.calls.length - calls,
        transitionsSince(plane, executionsBefore),
      ]);
    }

    const origin = bootstrapExecution.startedAt;
    out.write(`\nTimeline (modelled, from the start of the bootstrap)\n`);
    for (const entry of fleet.history.filter((item) => !/^bootstrap-cluster|^drill-cluster started/.test(item.what) || item.what.includes('succeeded'))) {
      out.write(`  ${duration((entry.at - origin) / 1000)}  ${entry.what}\n`);
    }
    const wallSeconds = (performance.now() - wallStart) / 1000;
    out.write(`\nSummary\n${table(['scenario', 'healed', 'time to heal (modelled)', 'longest API outage', 'longest app outage', 'AWS API calls', 'state transitions'], rows)}\n`);
    out.write(`\nDone in ${wallSeconds.toFixed(1)} s of real time. Try any command offline: npm run kubeha -- status --cluster demo --simulate\n`);
    return { reports, wallSeconds };
  } finally {
    backend.close();
    restoreLogs();
  }
}

/** State transitions (what Step Functions bills) of every execution started after the first `skip`. */
function transitionsSince(plane: NonNullable<ReturnType<typeof createSimulatedBackend>['simulation']>['plane'], skip: number): number {
  return [...plane.fleet.executions.values()]
    .slice(skip)
    .map((execution) => plane.runs.get(execution.executionArn))
    .reduce((sum, run) => sum + (run?.events.filter((event) => event.type === 'StateEntered').length ?? 0), 0);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out: Output = { isTTY: Boolean(process.stdout.isTTY), json: false, write: (text) => process.stdout.write(text), error: (text) => process.stderr.write(text) };
  runDemo(out).catch((error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
}
