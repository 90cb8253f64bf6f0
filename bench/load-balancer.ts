// The load-balancer pair measured for real: keepalived and nginx with the configurations configure-load-balancer.sh
// renders, in two network namespaces (test/support/load-balancer-pair.ts, the harness the pair's test uses).
// Each scenario runs N times (KUBEHA_LB_RUNS, 5 by default) from a steady pair; the soak holds steady state under
// load for KUBEHA_LB_SOAK_SECONDS (60). Detection is the time from the fault to the standby's associate-address
// call (what starts the Elastic IP's move, which then takes 5-6 s on AWS and is modelled, not measured, here).
// Needs root (ip netns). Run alone: `npm run bench:lb`; with KUBEHA_LB_WRITE_SIM=1 it also rewrites the
// simulator's measured detection times (sim/load-balancer-timings.json).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { pathToFileURL } from 'node:url';
import { type Balancer, LISTEN_PORT, LoadBalancerPair, sleep, until } from '../test/support/load-balancer-pair.js';

/** Issue 14's targets, in milliseconds. */
const DETECTION_TARGET_MS = 1500;
const REPAIR_TARGET_MS = 1000;
const FAULT_WAIT_MS = 20_000;

interface Sample {
  /** Milliseconds from the fault to what the scenario measures (detection, repair, convergence); undefined if it never came. */
  readonly ms: number | undefined;
  /** Failovers nobody asked for: keepalived transitions where the fault must be ridden out in place, or the broken node claiming the address back. */
  readonly spurious: number;
  readonly note?: string;
}

interface Scenario {
  readonly name: string;
  readonly measures: string;
  /** A target the scenario must meet; undefined when it is only reported. */
  readonly targetMs?: number;
  /** Failovers expected from one run of the fault (0: it must be repaired or ridden out in place). */
  readonly failovers: 0 | 1;
  run(pair: LoadBalancerPair, master: Balancer): Promise<Sample>;
}

function claimAfter(pair: LoadBalancerPair, by: Balancer, since: number): number | undefined {
  return pair.claims().find((claim) => claim.instanceId === by.instanceId && claim.at >= since)?.at;
}

/** Waits for the peer to claim the Elastic IP; the detection time, or undefined if it never did. */
async function detection(pair: LoadBalancerPair, peer: Balancer, since: number): Promise<number | undefined> {
  try {
    await until('the standby claiming the Elastic IP', () => claimAfter(pair, peer, since) !== undefined, FAULT_WAIT_MS);
  } catch {
    return undefined;
  }
  return claimAfter(pair, peer, since)! - since;
}

const failover = (name: string, measures: string, targetMs: number | undefined, fault: (pair: LoadBalancerPair, master: Balancer) => Promise<void> | void, restore: (pair: LoadBalancerPair, master: Balancer) => Promise<void> | void): Scenario => ({
  name,
  measures,
  ...(targetMs === undefined ? {} : { targetMs }),
  failovers: 1,
  async run(pair, master) {
    const peer = pair.peerOf(master);
    const started = Date.now();
    await fault(pair, master);
    const ms = await detection(pair, peer, started);
    // The broken node must never take the address back while it is broken.
    const spurious = pair.claims().filter((claim) => claim.at >= started && claim.instanceId === master.instanceId).length;
    await restore(pair, master);
    return { ms, spurious };
  },
});

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'nginx crash (master process SIGKILL), systemd restarts it',
    measures: 'repair: fault to nginx answering again',
    targetMs: REPAIR_TARGET_MS,
    failovers: 0,
    async run(pair, master) {
      const before = pair.transitionCount();
      const restarts = master.nginx.restarts.length;
      const started = Date.now();
      master.nginx.crash();
      await until('nginx restarted by its unit', () => master.nginx.restarts.length > restarts, FAULT_WAIT_MS);
      await until('nginx answering again', () => master.health!.since(started).some((line) => line.text === 'up'), FAULT_WAIT_MS);
      const up = master.health!.since(started).find((line) => line.text === 'up')!.at;
      // keepalived's check would give up after a second of refusals: watch well past that.
      await sleep(3_000);
      return { ms: up - started, spurious: pair.transitionCount() - before };
    },
  },
  failover(
    'hard failure: keepalived and nginx killed',
    'detection: fault to the standby claiming the Elastic IP',
    DETECTION_TARGET_MS,
    async (_pair, master) => {
      master.nginx.kill();
      await master.stopKeepalived('SIGKILL');
    },
    (_pair, master) => {
      master.nginx.start();
      master.startKeepalived();
    },
  ),
  // Not `ip link set down`: a veth pair takes the carrier from both ends, which puts the standby's keepalived in
  // FAULT too. On AWS a dead node's packets stop while its peer's interface stays up, which this models.
  failover(
    "hard failure: the MASTER's packets stop",
    'detection: fault to the standby claiming the Elastic IP',
    DETECTION_TARGET_MS,
    (pair, master) => pair.silence(master, true),
    (pair, master) => pair.silence(master, false),
  ),
  failover(
    'hung nginx (every process SIGSTOP)',
    'detection: fault to the standby claiming the Elastic IP',
    DETECTION_TARGET_MS,
    (_pair, master) => master.nginx.hang(true),
    (_pair, master) => master.nginx.hang(false),
  ),
  failover(
    'nginx stopped for good (clean exit, not restarted)',
    'detection: fault to the standby claiming the Elastic IP',
    undefined,
    (_pair, master) => master.nginx.stopCleanly(),
    (_pair, master) => master.nginx.start(),
  ),
  failover(
    'graceful stop of keepalived (priority-0 advertisement)',
    'detection: fault to the standby claiming the Elastic IP',
    undefined,
    (_pair, master) => master.stopKeepalived('SIGTERM'),
    (_pair, master) => master.startKeepalived(),
  ),
  {
    name: 'nginx reload with a long-lived connection open',
    measures: 'the connection survives; longest wait for an echo on it (pinged every 100 ms)',
    failovers: 0,
    async run(pair, master) {
      const hold = master.helper('hold', String(LISTEN_PORT));
      await until('the long-lived connection open', () => hold.lines.lines.some((line) => line.text === 'open'), FAULT_WAIT_MS);
      const before = pair.transitionCount();
      const started = Date.now();
      master.nginx.reload();
      await sleep(3_000);
      const after = hold.lines.since(started);
      const broken = after.some((line) => line.text === 'broken');
      const longestGap = Math.max(0, ...after.map((line) => Number(/^gap (\d+)/.exec(line.text)?.[1] ?? 0)));
      master.stopHelper(hold.child);
      return { ms: broken ? undefined : longestGap, spurious: pair.transitionCount() - before, ...(broken ? { note: 'connection broken' } : {}) };
    },
  },
  {
    name: 'VRRP partition for 3 s, then heal',
    measures: 'convergence: heal to one MASTER holding the Elastic IP',
    failovers: 1,
    async run(pair, master) {
      const peer = pair.peerOf(master);
      const started = Date.now();
      pair.partition(true);
      const detected = await detection(pair, peer, started);
      await sleep(Math.max(0, 3_000 - (Date.now() - started)));
      const healed = Date.now();
      pair.partition(false);
      try {
        await pair.untilSteady(30_000);
      } catch {
        return { ms: undefined, spurious: 0, note: 'did not converge' };
      }
      return { ms: Date.now() - healed, spurious: 0, ...(detected === undefined ? { note: 'the standby never claimed during the partition' } : {}) };
    },
  },
];

function summary(values: number[]): { min: number; median: number; max: number } | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { min: sorted[0]!, median, max: sorted.at(-1)! };
}

const seconds = (ms: number | undefined) => (ms === undefined ? '–' : (ms / 1000).toFixed(2));

function versions(): { keepalived: string; nginx: string; kernel: string } {
  // Both print their version on stderr.
  const firstLine = (command: string, args: string[]) => {
    const child = spawnSync(command, args, { encoding: 'utf8' });
    return `${child.stdout ?? ''}${child.stderr ?? ''}`.trim().split('\n')[0] ?? '';
  };
  return { keepalived: firstLine('keepalived', ['--version']), nginx: firstLine('nginx', ['-v']), kernel: release() };
}

export async function run(): Promise<{ title: string; markdown: string; json: unknown; missedTargets: string[] }> {
  const runs = Number(process.env.KUBEHA_LB_RUNS ?? 5);
  const soakSeconds = Number(process.env.KUBEHA_LB_SOAK_SECONDS ?? 60);
  const pair = new LoadBalancerPair();
  const results: { scenario: Scenario; samples: Sample[] }[] = [];
  let soak: { seconds: number; transitions: number; requests: number; failedRequests: number } | undefined;
  const startedAt = new Date().toISOString();
  const load = { before: loadavg(), cores: cpus().length };
  try {
    await pair.setUp();
    for (const scenario of SCENARIOS) {
      const samples: Sample[] = [];
      for (let index = 0; index < runs; index++) {
        const master = await pair.untilSteady(60_000);
        // The recovered node needs rise 2 (two checks, 2 s) before it is a ready BACKUP.
        await sleep(2_500);
        samples.push(await scenario.run(pair, master));
      }
      results.push({ scenario, samples });
    }
    const master = await pair.untilSteady(60_000);
    await sleep(2_500);
    const before = pair.transitionCount();
    const client = master.helper('load', String(LISTEN_PORT), '50');
    await sleep(soakSeconds * 1000);
    master.stopHelper(client.child);
    const counts = client.lines.lines.map((line) => /ok (\d+) failed (\d+)/.exec(line.text)).filter((match) => match !== null);
    soak = {
      seconds: soakSeconds,
      transitions: pair.transitionCount() - before,
      requests: counts.reduce((sum, match) => sum + Number(match[1]), 0),
      failedRequests: counts.reduce((sum, match) => sum + Number(match[2]), 0),
    };
  } finally {
    await pair.tearDown();
  }

  const missedTargets: string[] = [];
  const rows = results.map(({ scenario, samples }) => {
    const measured = samples.map((sample) => sample.ms).filter((ms): ms is number => ms !== undefined);
    const stats = summary(measured);
    const missing = samples.length - measured.length;
    const spurious = samples.reduce((sum, sample) => sum + sample.spurious, 0);
    const problems: string[] = [];
    if (missing > 0) problems.push(`${missing} of ${samples.length} runs never got there (${[...new Set(samples.map((sample) => sample.note).filter(Boolean))].join(', ') || 'timed out'})`);
    if (spurious > 0) problems.push(`${spurious} spurious transitions`);
    if (scenario.targetMs !== undefined && stats && stats.max > scenario.targetMs) problems.push(`max ${seconds(stats.max)} s > ${seconds(scenario.targetMs)} s`);
    const pass = problems.length === 0;
    if (!pass) missedTargets.push(`load balancer, ${scenario.name}: ${problems.join('; ')}`);
    return { scenario, samples, stats, spurious, pass, problems };
  });
  if (soak && soak.transitions > 0) missedTargets.push(`load balancer soak: ${soak.transitions} transitions in ${soak.seconds} s of steady state`);

  const environment = { ...versions(), cores: load.cores, loadBefore: load.before, loadAfter: loadavg(), startedAt, finishedAt: new Date().toISOString(), runs };
  const markdown = [
    `Real keepalived and nginx in network namespaces, ${runs} runs per scenario (${environment.keepalived}; ${environment.nginx}; ${environment.cores} cores, load ${environment.loadBefore.map((value) => value.toFixed(1)).join('/')} at the start).`,
    '',
    '| scenario | measures | runs | min s | median s | max s | spurious failovers | target | pass |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (row) =>
        `| ${row.scenario.name} | ${row.scenario.measures} | ${row.samples.length} | ${seconds(row.stats?.min)} | ${seconds(row.stats?.median)} | ${seconds(row.stats?.max)} | ${row.spurious} | ${row.scenario.targetMs === undefined ? '–' : `≤ ${seconds(row.scenario.targetMs)} s`}${row.scenario.failovers === 0 ? ', no failover' : ''} | ${row.pass ? 'yes' : `no: ${row.problems.join('; ')}`} |`,
    ),
    soak
      ? `| soak: steady state under load (50 requests/s through the MASTER) | transitions | ${soak.seconds} s | – | – | – | ${soak.transitions} | 0 transitions | ${soak.transitions === 0 ? 'yes' : 'no'} (${soak.requests} requests, ${soak.failedRequests} failed) |`
      : '',
  ].join('\n');
  const json = {
    environment,
    scenarios: rows.map((row) => ({ name: row.scenario.name, measures: row.scenario.measures, targetMs: row.scenario.targetMs ?? null, samples: row.samples, ...row.stats, spurious: row.spurious, pass: row.pass })),
    soak,
  };
  if (process.env.KUBEHA_LB_WRITE_SIM === '1') writeSimulatorTimings(rows, environment);
  return { title: 'Load balancers (real keepalived and nginx)', markdown, json, missedTargets };
}

/** The simulator's keepalived model reads the measured detection times from this file (sim/load-balancer.ts). */
function writeSimulatorTimings(rows: { scenario: Scenario; samples: Sample[] }[], environment: Record<string, unknown>): void {
  const samples = (prefix: string) =>
    rows
      .filter((row) => row.scenario.name.startsWith(prefix))
      .flatMap((row) => row.samples.map((sample) => sample.ms))
      .filter((ms): ms is number => ms !== undefined)
      .map((ms) => Math.round(ms) / 1000);
  const data = {
    provenance: {
      bench: 'bench/load-balancer.ts (npm run bench:lb)',
      keepalived: environment.keepalived,
      nginx: environment.nginx,
      kernel: environment.kernel,
      cores: environment.cores,
      loadAverageAtStart: environment.loadBefore,
      measuredAt: environment.finishedAt,
      runsPerScenario: environment.runs,
      what: 'seconds from the fault to the notify script of the standby calling associate-address (a stub here: the start-up of the real aws CLI and the API round trip are not included; the simulator adds API_CALL_SECONDS, then EIP_MOVE_SECONDS for the move)',
    },
    detectionSeconds: {
      gracefulStop: samples('graceful stop'),
      hardFailure: samples('hard failure:'),
      hungNginx: samples('hung nginx'),
      nginxStopped: samples('nginx stopped'),
    },
  };
  writeFileSync(new URL('../sim/load-balancer-timings.json', import.meta.url), `${JSON.stringify(data, null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await run();
  console.log(`## ${result.title}\n\n${result.markdown}`);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/load-balancer.json', import.meta.url), `${JSON.stringify(result.json, null, 2)}\n`);
  for (const missed of result.missedTargets) console.error(`missed: ${missed}`);
  process.exitCode = result.missedTargets.length > 0 ? 1 : 0;
}
