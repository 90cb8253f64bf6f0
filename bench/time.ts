// Time: how long bootstrap and each healing take in modelled time, against the critical-path lower bound
// computed from the same run's latencies and the DAG in sim/dag.ts, and whether the run kept every edge.
import { checkOrder, criticalPath } from '../sim/dag.js';
import { HEAL_SCENARIOS, STANDBY_SCENARIOS, type Size, bootstrapRun, healRun, label } from './scenarios.js';
import { type BenchTable, markdownTable } from './table.js';

/** Targets of issue 14. */
export const TARGETS = {
  ratio: 1.05,
  bootstrapSmallSeconds: 6 * 60,
  terminatedMasterSeconds: 3 * 60,
  terminatedMasterPreparedImageSeconds: 2 * 60,
  /** Not issue 14's: the warm standby's own row is held to the prepared image's 2 minutes. */
  terminatedMasterWarmStandbySeconds: 2 * 60,
} as const;

export const BOOTSTRAP_SIZES: readonly Size[] = [
  { masters: 3, loadBalancers: 2, workers: 3 },
  { masters: 3, loadBalancers: 2, workers: 300 },
  { masters: 5, loadBalancers: 2, workers: 1000 },
];

interface Row {
  readonly scenario: string;
  readonly seconds: number;
  readonly boundSeconds: number;
  readonly ratio: number;
  readonly criticalPath: string[];
  readonly violations: string[];
}

const minutes = (seconds: number) => `${(seconds / 60).toFixed(2)} min (${seconds.toFixed(0)} s)`;

export async function run(): Promise<BenchTable> {
  const rows: Row[] = [];
  const row = (scenario: string, seconds: number, dag: Parameters<typeof criticalPath>[0]): Row => {
    const bound = criticalPath(dag);
    return {
      scenario,
      seconds,
      boundSeconds: bound.seconds,
      ratio: seconds / bound.seconds,
      criticalPath: bound.path.map((id) => id.replace(/ i-[0-9a-f]+/, '')),
      violations: checkOrder(dag).map((violation) => `${violation.after} started ${violation.bySeconds.toFixed(1)} s before ${violation.before} ended (${violation.why})`),
    };
  };
  for (const size of BOOTSTRAP_SIZES) {
    const measured = await bootstrapRun(size);
    rows.push(row(`bootstrap ${label(size)}`, measured.seconds, measured.dag));
  }
  for (const scenario of HEAL_SCENARIOS) {
    const measured = await healRun(scenario);
    rows.push(row(`heal: ${scenario}`, measured.seconds, measured.dag));
  }
  // The same replacements with a prepared node image (`kubeha image build`): the bound is the run's own, so
  // the ratio still measures orchestration; the absolute target is the image's.
  for (const scenario of ['terminate master', 'terminate worker'] as const) {
    const measured = await healRun(scenario, 7, { preparedImage: true });
    rows.push(row(`heal: ${scenario}, prepared image`, measured.seconds, measured.dag));
  }

  // A warm standby kept prepared and stopped by reconcile: started instead of launched (standbys.ts).
  for (const scenario of STANDBY_SCENARIOS) {
    const measured = await healRun(scenario);
    rows.push(row(`heal: ${scenario}`, measured.seconds, measured.dag));
  }

  const missedTargets: string[] = [];
  for (const measured of rows) {
    if (measured.ratio > TARGETS.ratio) missedTargets.push(`${measured.scenario}: ${measured.ratio.toFixed(3)}× its lower bound (target ≤ ${TARGETS.ratio}×)`);
    for (const violation of measured.violations) missedTargets.push(`${measured.scenario} broke the DAG: ${violation}`);
  }
  const small = rows.find((measured) => measured.scenario === 'bootstrap 3/2/3')!;
  if (small.seconds > TARGETS.bootstrapSmallSeconds) missedTargets.push(`bootstrap 3/2/3 took ${minutes(small.seconds)} (target ≤ 6 min)`);
  const master = rows.find((measured) => measured.scenario === 'heal: terminate master')!;
  if (master.seconds > TARGETS.terminatedMasterSeconds) {
    missedTargets.push(`terminated master healed in ${minutes(master.seconds)} (target ≤ 3 min; its lower bound without a prepared image is ${minutes(master.boundSeconds)})`);
  }
  const preparedMaster = rows.find((measured) => measured.scenario === 'heal: terminate master, prepared image')!;
  if (preparedMaster.seconds > TARGETS.terminatedMasterPreparedImageSeconds) {
    missedTargets.push(`terminated master healed from a prepared image in ${minutes(preparedMaster.seconds)} (target ≤ 2 min; lower bound ${minutes(preparedMaster.boundSeconds)})`);
  }

  const standbyMaster = rows.find((measured) => measured.scenario === 'heal: terminate master, warm standby')!;
  if (standbyMaster.seconds > TARGETS.terminatedMasterWarmStandbySeconds) {
    missedTargets.push(`terminated master healed from a warm standby in ${minutes(standbyMaster.seconds)} (target ≤ 2 min; lower bound ${minutes(standbyMaster.boundSeconds)})`);
  }
  // Which configuration meets which absolute target: each row is held to its own, none stands in for another.
  const meets = (seconds: number, target: number) => (seconds <= target ? 'met' : 'missed');
  const targetLines = [
    `terminated master ≤ 3 min: launched ${meets(master.seconds, TARGETS.terminatedMasterSeconds)} (${minutes(master.seconds)}); prepared image ${meets(preparedMaster.seconds, TARGETS.terminatedMasterSeconds)} (${minutes(preparedMaster.seconds)}); warm standby ${meets(standbyMaster.seconds, TARGETS.terminatedMasterSeconds)} (${minutes(standbyMaster.seconds)})`,
    `terminated master ≤ 2 min: prepared image ${meets(preparedMaster.seconds, TARGETS.terminatedMasterPreparedImageSeconds)}; warm standby ${meets(standbyMaster.seconds, TARGETS.terminatedMasterWarmStandbySeconds)}`,
  ];

  const markdown = [
    markdownTable(
      ['scenario', 'modelled end to end', 'critical-path lower bound', 'ratio', 'DAG edges kept', 'critical path'],
      rows.map((measured) => [
        measured.scenario,
        minutes(measured.seconds),
        minutes(measured.boundSeconds),
        `${measured.ratio.toFixed(3)}×`,
        measured.violations.length === 0 ? 'all' : `${measured.violations.length} broken`,
        measured.criticalPath.join(' → '),
      ]),
    ),
    '',
    'Lower bound: the longest path through sim/dag.ts, each node lasting what the latency model made it last in that very run',
    '(documents ±15 % around sim/latency.ts, boot and agent registration, the EventBridge delivery of the event); no Lambda,',
    'no poll, no API call is counted in it. Healing is measured from the failure to the end of the last healing execution.',
    '',
    ...targetLines,
  ].join('\n');
  return { title: 'Time: modelled end to end against the critical path', markdown, json: rows, missedTargets };
}
