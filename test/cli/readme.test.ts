// README's example sessions are what a user pastes: run each one as written and compare what it
// prints with what README shows.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, shell, temporaryDirectory } from './support.js';

let directory: string;

beforeAll(() => {
  directory = temporaryDirectory();
  cpSync(join(ROOT, 'examples'), join(directory, 'examples'), { recursive: true });
});
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const cliSection = readme.slice(readme.indexOf('## The `kubeha` CLI'), readme.indexOf('### Failure drills'));
const sessions = [...cliSection.matchAll(/```console\n([^]*?)```/g)].map((match) => match[1] ?? '');

describe("README's CLI section", () => {
  it('has example sessions', () => {
    expect(sessions.length).toBeGreaterThanOrEqual(2);
  });

  it.each(sessions.map((session, index) => [index + 1, session]))('session %i prints what README shows', (_index, session) => {
    // Prepare: each `$ command` echoed, then run in the same shell, in a directory with examples/.
    const commands = session.split('\n').filter((line) => line.startsWith('$ ')).map((line) => line.slice(2));
    const script = commands.map((command) => `echo ${JSON.stringify(`$ ${command}`).replace(/\$/g, '\\$').replace(/`/g, '\\`')}\n{ ${command}\n} 2>&1`).join('\n');

    // Act
    const run = shell(`cd "${directory}"\nnpx() { if [ "$1" = kubeha ]; then shift; kubeha "$@"; else command npx "$@"; fi; }\n${script}`, { KUBEHA_STATE_DIR: join(directory, 'state') });

    // Assess: progress lines ([mm:ss] …) are left out of README.
    const printed = run.stdout.split('\n').filter((line) => !/^\[\d\d:\d\d\] /.test(line)).join('\n');
    // KUBEHA_UPDATE_README=1 writes what the session printed into README instead, for review in the diff.
    if (process.env.KUBEHA_UPDATE_README && printed !== session) {
      writeFileSync(join(ROOT, 'README.md'), readFileSync(join(ROOT, 'README.md'), 'utf8').replace(session, printed));
      return;
    }
    expect(printed).toBe(session);
  });
});
