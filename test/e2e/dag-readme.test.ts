// README's Performance section shows the DAG the time table's bound is computed from; this keeps the two
// one: the tables are generated from sim/dag.ts over recorded runs of the real state machines.
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bootstrapRun, healRun } from '../../bench/scenarios.js';
import type { HealScenario } from '../../sim/dag.js';
import { dagTable } from '../../sim/dag-table.js';

const README = new URL('../../README.md', import.meta.url);
const HEALS: readonly HealScenario[] = ['terminate master', 'terminate worker', 'terminate lb', 'stop master', 'stop lb', 'terminate master, warm standby'];

async function generated(): Promise<Map<string, string>> {
  const tables = new Map<string, string>();
  const bootstrap = await bootstrapRun({ masters: 3, loadBalancers: 2, workers: 3 });
  tables.set('bootstrap', dagTable(bootstrap.dag, bootstrap.fleet));
  for (const scenario of HEALS) {
    const heal = await healRun(scenario);
    tables.set(scenario.replace(/,? /g, '-'), dagTable(heal.dag, heal.fleet));
  }
  return tables;
}

describe("README's DAG", () => {
  it('shows every edge of sim/dag.ts as the runs of bootstrap and of each healing fill it in', async () => {
    // Prepare
    let readme = readFileSync(README, 'utf8');
    const tables = await generated();

    // Act
    const drifted: string[] = [];
    for (const [name, table] of tables) {
      const start = `<!-- dag:${name}:start -->`;
      const end = `<!-- dag:${name}:end -->`;
      const from = readme.indexOf(start);
      const to = readme.indexOf(end);
      expect(from, `README has no ${start} marker`).toBeGreaterThan(0);
      expect(to).toBeGreaterThan(from);
      const current = readme.slice(from + start.length, to);
      const wanted = `\n${table}\n`;
      if (current !== wanted) {
        drifted.push(name);
        readme = readme.slice(0, from + start.length) + wanted + readme.slice(to);
      }
    }
    // KUBEHA_UPDATE_README=1 writes the generated tables into README instead, for review in the diff.
    if (process.env.KUBEHA_UPDATE_README && drifted.length > 0) writeFileSync(README, readme);

    // Assess
    expect(drifted, 'README shows a DAG that sim/dag.ts no longer has (KUBEHA_UPDATE_README=1 rewrites it)').toEqual([]);
  }, 240_000);
});
