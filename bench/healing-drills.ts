// The figures the bench has shown since drills existed: each drill's modelled time to heal, the longest
// API outage through the Elastic IP, in the cluster (through the workers' local proxies) and of the application, what the healing cost in transitions; and reconcile under
// 1,000 NotReady workers against its function's 120 s.
import { setLogSink } from '../functions/core/log.js';
import { consoleInput } from '../sim/bootstrap.js';
import { LocalControlPlane } from '../sim/control-plane.js';
import { SimulatedFleet } from '../sim/fleet.js';
import { inInvocation } from '../sim/handler-time.js';
import { type BenchTable, markdownTable } from './table.js';

setLogSink(() => undefined);

const STANDARD_TRANSITION_USD = 0.000025;
const SCENARIOS = [
  { target: 'lb', action: 'stop' },
  { target: 'master', action: 'stop' },
  { target: 'master', action: 'terminate' },
  { target: 'worker', action: 'terminate' },
] as const;

export async function run(): Promise<BenchTable> {
  const drills: { drill: string; timeToHealSeconds: number; apiOutageSeconds: number; inClusterOutageSeconds: number; appOutageSeconds: number; transitions: number }[] = [];
  for (const scenario of SCENARIOS) {
    const fleet = SimulatedFleet.standard();
    const plane = new LocalControlPlane(fleet).start().enableEventBridge();
    try {
      await plane.execute('bootstrap-cluster', 'bench-bootstrap', consoleInput(fleet));
      const before = fleet.executions.size;
      const drill = await plane.execute('drill-cluster', `bench-${scenario.target}-${scenario.action}`, { clusterName: 'demo', ...scenario });
      if (drill.error) throw new Error(`drill ${scenario.action} ${scenario.target} failed: ${drill.error.message}`);
      const report = drill.output as { timeToHealSeconds: number; api: { longestOutageSeconds: number }; inCluster: { longestOutageSeconds: number }; app: { longestOutageSeconds: number } };
      const heals = [...fleet.executions.values()].slice(before).filter((execution) => execution.stateMachine.includes('heal-'));
      const transitions = heals.reduce((sum, execution) => sum + (plane.runs.get(execution.executionArn)?.events.filter((event) => event.type === 'StateEntered').length ?? 0), 0);
      drills.push({ drill: `${scenario.action} ${scenario.target}`, timeToHealSeconds: report.timeToHealSeconds, apiOutageSeconds: report.api.longestOutageSeconds, inClusterOutageSeconds: report.inCluster.longestOutageSeconds, appOutageSeconds: report.app.longestOutageSeconds, transitions });
    } finally {
      plane.stop();
    }
  }

  const reconcile: { run: string; calls: number; seconds: number }[] = [];
  {
    const fleet = SimulatedFleet.standard();
    const plane = new LocalControlPlane(fleet).start();
    try {
      await plane.execute('bootstrap-cluster', 'bench-bootstrap', consoleInput(fleet));
      for (const instanceId of fleet.addJoinedWorkers('demo', 1000)) fleet.wedgeNode(instanceId);
      for (const [label, advance] of [['reconcile, 1,000 NotReady (first sight, records written)', 0], ['reconcile, 1,000 NotReady (past grace: held back, one alert)', 11 * 60]] as const) {
        fleet.advance(advance);
        const calls = fleet.calls.length;
        const invocation = inInvocation(() => plane.reconcile());
        await invocation.result;
        reconcile.push({ run: label, calls: fleet.calls.length - calls, seconds: invocation.elapsedMs() / 1000 });
      }
    } finally {
      plane.stop();
    }
  }

  const markdown = [
    markdownTable(
      ['drill', 'modelled time to heal', 'longest API outage (Elastic IP)', 'longest in-cluster API outage', 'longest app outage', 'heal transitions', 'heal cost'],
      drills.map((drill) => [drill.drill, `${drill.timeToHealSeconds} s`, `${drill.apiOutageSeconds} s`, `${drill.inClusterOutageSeconds} s`, `${drill.appOutageSeconds} s`, drill.transitions, `$${(drill.transitions * STANDARD_TRANSITION_USD).toFixed(5)}`]),
    ),
    '',
    markdownTable(['run', 'AWS calls', 'modelled time of its 120 s'], reconcile.map((entry) => [entry.run, entry.calls, `${entry.seconds.toFixed(1)} s`])),
  ].join('\n');
  // Issue 14: in-cluster API traffic goes through each worker's own proxy to every master, never the load balancers.
  const missedTargets = drills.filter((drill) => drill.inClusterOutageSeconds > 0).map((drill) => `${drill.drill}: in-cluster API outage ${drill.inClusterOutageSeconds} s, target 0 s`);
  return { title: 'Healing drills and reconcile at scale', markdown, json: { drills, reconcile }, missedTargets };
}
