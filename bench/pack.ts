// Runs the packaging and cost tables alone (`npm run bench:pack`) until bench/run.ts imports them: prints each,
// writes its JSON under bench/results/ (ignored), exits non-zero when a target is missed.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2);
const tables = [
  { name: 'cold-start', load: () => import('./cold-start.js') },
  { name: 'cost', load: () => import('./cost.js') },
].filter((table) => only.length === 0 || only.includes(table.name));

const missed: string[] = [];
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
for (const table of tables) {
  const { run } = await table.load();
  const result = await run();
  console.log(`\n## ${result.title}\n\n${result.markdown}`);
  writeFileSync(join(ROOT, 'bench/results', `${table.name}.json`), `${JSON.stringify(result.json, null, 2)}\n`);
  missed.push(...result.missedTargets);
}
if (missed.length > 0) {
  console.error(`\nMissed targets:\n${missed.map((line) => `- ${line}`).join('\n')}`);
  process.exitCode = 1;
}
