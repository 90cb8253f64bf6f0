// npm run demo: the whole control plane on a laptop, no AWS account. The real state machines and
// handlers run against the simulated fleet (the one the tests use) on modelled time: bootstrap a
// 3-master, 2-load-balancer, 3-worker cluster with the CLI's progress display, then drill the
// runbook's failures - stop the load balancer holding the Elastic IP, terminate a master,
// terminate a worker - and print a timeline and a summary. The workers carry the runbook's node
// profile (six GlusterFS volumes) and the cluster its external services: the replaced worker comes
// back with its mounts, and `kubeha status` shows the services as a worker sees them.
import { performance } from 'node:perf_hooks';
import runbook from '../examples/runbook-input.json' with { type: 'json' };
import { setLogSink } from '../functions/core/log.js';
import { addRunbookServices } from '../sim/runbook-services.js';
import type { DrillReport } from '../functions/core/drill.js';
import { createSimulatedBackend } from './simulated-backend.js';
import { bootstrapWith } from './commands/bootstrap.js';
import { drill } from './commands/drill.js';
import { status } from './commands/status.js';
import { terminalAsker } from './confirm.js';
import { DEFAULT_COLUMNS, type Output, duration, percent, table, wrap } from './format.js';

const CLUSTER = 'demo';
const ELASTIC_IP = 'eipalloc-0de0000000000d0e0';

const DRILLS = [
  { title: 'stop the load balancer holding the Elastic IP', label: 'stop the EIP holder', target: 'lb', action: 'stop' },
  { title: 'terminate a master', label: 'terminate a master', target: 'master', action: 'terminate' },
  { title: 'terminate a worker', label: 'terminate a worker', target: 'worker', action: 'terminate' },
] as const;

export interface DemoResult {
  readonly reports: DrillReport[];
  readonly wallSeconds: number;
}

export async function runDemo(out: Output): Promise<DemoResult> {
  const wallStart = performance.now();
  const restoreLogs = setLogSink(() => undefined);
  const backend = createSimulatedBackend({ clusterName: CLUSTER, elasticIpAllocationId: ELASTIC_IP });
  const { fleet, plane } = backend.simulation!;
  // The runbook's GlusterFS pair and services around the cluster (MongoDB out of the nodes' reach).
  addRunbookServices(fleet);
  try {
    out.write(
      [
        'kubeha demo: the real state machines and Lambda handlers, run locally against',
        'a simulated AWS account. Time is modelled (sim/latency.ts): apt installs ~95 s,',
        'kubeadm init ~80 s, a control-plane join ~65 s, an instance boot ~45 s, an',
        'Elastic IP move 5 s. During each drill a probe on a worker asks the API through',
        'the Elastic IP, and a test application, once per modelled second.',
        '',
        `1. Bootstrap ${CLUSTER}: 3 masters, 2 load balancers, 3 workers, each worker`,
        "   with the runbook's six GlusterFS volumes (examples/runbook-input.json)",
        '',
      ].join('\n'),
    );
    const bootstrapCalls = fleet.calls.length;
    const bootstrapCode = await bootstrapWith(
      {
        clusterName: CLUSTER,
        kubernetesVersion: '1.36.4',
        elasticIpAllocationId: ELASTIC_IP,
        podCidr: '192.168.0.0/16',
        serviceCidr: '10.96.0.0/12',
        nodeProfiles: runbook.nodeProfiles,
        externalServices: runbook.externalServices,
      },
      CLUSTER,
      backend,
      out,
    );
    if (bootstrapCode !== 0) throw new Error('the demo bootstrap failed');
    const rows: (string | number)[][] = [];
    const bootstrapExecution = [...fleet.executions.values()][0]!;
    rows.push(['bootstrap', `yes, ${Math.round((bootstrapExecution.stoppedAt! - bootstrapExecution.startedAt) / 1000)} s`, '-', '-', fleet.calls.length - bootstrapCalls, transitionsSince(plane, 0)]);

    const reports: DrillReport[] = [];
    for (const [index, scenario] of DRILLS.entries()) {
      out.write(`\n${index + 2}. Drill: ${scenario.title}\n\n`);
      const calls = fleet.calls.length;
      const executionsBefore = fleet.executions.size;
      const { report } = await drill({ clusterName: CLUSTER, target: scenario.target, action: scenario.action, yes: true, dryRun: false }, backend, out, terminalAsker(false));
      if (!report) throw new Error(`the ${scenario.title} drill produced no report`);
      reports.push(report);
      rows.push([
        scenario.label,
        `${report.healed ? 'yes' : 'NO'}, ${report.timeToHealSeconds} s`,
        `${report.api.longestOutageSeconds} s, ${percent(report.api.successRatio)}`,
        `${report.app.longestOutageSeconds} s, ${percent(report.app.successRatio)}`,
        fleet.calls.length - calls,
        transitionsSince(plane, executionsBefore),
      ]);
    }

    const replaced = [...fleet.instances.values()].find((instance) => instance.tags['kubeha:role'] === 'worker' && instance.tags['kubeha:replaces']);
    if (replaced) {
      out.write(`\n${DRILLS.length + 2}. Replacement worker ${replaced.instanceId} mounted its volumes before joining:\n`);
      for (const mount of replaced.node.mounts ?? []) out.write(`     ${mount.mountPoint.padEnd(14)} ${mount.source}\n`);
    }
    out.write(`\n${DRILLS.length + 3}. kubeha status --cluster ${CLUSTER}\n\n`);
    await status({ clusterName: CLUSTER, watch: false, intervalSeconds: 5, stopped: () => true }, async () => ({ ...backend, close: async () => undefined }), out);

    const origin = bootstrapExecution.startedAt;
    out.write(`\nTimeline (modelled, from the start of the bootstrap)\n`);
    for (const entry of fleet.history.filter((item) => !/^bootstrap-cluster|^drill-cluster started/.test(item.what) || item.what.includes('succeeded'))) {
      out.write(`  ${duration((entry.at - origin) / 1000)}  ${wrap(entry.what, out.columns - 1, 9)}\n`);
    }
    const wallSeconds = (performance.now() - wallStart) / 1000;
    out.write(`\nSummary (modelled time; outage is the longest, ok the share of probes answered)\n`);
    out.write(`${table(['scenario', 'healed, in', 'API\noutage, ok', 'app\noutage, ok', 'AWS API\ncalls', 'state\ntransitions'], rows, { width: out.columns })}\n`);
    out.write(`\nDone in ${wallSeconds.toFixed(1)} s of real time. Try the same offline, step by step:\n  npx kubeha bootstrap --cluster prod-eu --simulate \\\n      --input examples/bootstrap-input.json\n`);
    return { reports, wallSeconds };
  } finally {
    await backend.close();
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
  const terminal = process.stdout.isTTY
    ? { columns: () => process.stdout.columns || DEFAULT_COLUMNS, rows: () => process.stdout.rows || 24, onResize: (listener: () => void) => (process.stdout.on('resize', listener), () => process.stdout.off('resize', listener)) }
    : undefined;
  const out: Output = {
    isTTY: Boolean(terminal),
    json: false,
    columns: terminal?.columns() ?? DEFAULT_COLUMNS,
    terminal,
    write: (text) => process.stdout.write(text),
    error: (text) => process.stderr.write(text),
  };
  runDemo(out).catch((error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
}
