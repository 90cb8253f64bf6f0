// `npm run bench`: runs every table module, prints each table, writes its figures to
// bench/results/<module>.json, and exits non-zero if any table misses a target.
// `npm run bench -- time scaling` runs only the named tables.
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { BenchTable } from './table.js';

/** The table modules, in the order they print. Each exports `run(): Promise<BenchTable>`. Add yours here. */
const TABLES: readonly string[] = ['time', 'scaling', 'mass-loss', 'healing-drills', 'rotation', 'cold-start', 'cost', 'load-balancer', 'command-completion'];

process.env.KUBEHA_DOCUMENT_PREFIX ??= 'kubeha-bench-';
process.env.AWS_REGION ??= 'eu-west-1';

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !TABLES.includes(name));
if (unknown.length > 0) {
  console.error(`unknown table(s): ${unknown.join(', ')}; known: ${TABLES.join(', ')}`);
  process.exit(2);
}
const results = new URL('./results/', import.meta.url);
mkdirSync(results, { recursive: true });

const missed: string[] = [];
for (const name of wanted.length > 0 ? wanted : TABLES) {
  const started = performance.now();
  const module = (await import(`./${name}.js`)) as { run(): Promise<BenchTable> };
  const table = await module.run();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`\n## ${table.title}\n\n${table.markdown}\n\n(${name}: ${seconds} s of wall clock)`);
  writeFileSync(new URL(`${name}.json`, results), `${JSON.stringify({ title: table.title, missedTargets: table.missedTargets, figures: table.json }, null, 2)}\n`);
  for (const target of table.missedTargets) missed.push(`${name}: ${target}`);
}
if (missed.length > 0) {
  console.log(`\nMissed targets:\n${missed.map((line) => `- ${line}`).join('\n')}`);
  process.exitCode = 1;
} else {
  console.log('\nEvery target met.');
}
