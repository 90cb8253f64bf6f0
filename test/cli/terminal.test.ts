// The CLI on a terminal: a pseudo terminal of 80 columns (util-linux `script`), read back through a
// headless xterm to see what is left on the screen, as a person at the terminal would.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import xterm from '@xterm/headless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, EXAMPLE, NODE, ROOT, inputFile, kubeha, temporaryDirectory } from './support.js';

let directory: string;
let env: Record<string, string>;

beforeAll(() => {
  directory = temporaryDirectory();
  env = { KUBEHA_STATE_DIR: join(directory, 'state') };
});
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

/** Runs the CLI on a pseudo terminal of `columns` columns; `answer` is typed once `prompt` shows (Ctrl-C is "\u0003"). */
function onTerminal(args: readonly string[], options: { columns?: number; prompt?: RegExp; answer?: string } = {}): Promise<{ code: number; output: string }> {
  const command = `stty cols ${options.columns ?? 80} rows 40; exec "${NODE}" "${BIN}" ${args.map((arg) => `'${arg}'`).join(' ')}`;
  const child = spawn('script', ['--quiet', '--return', '--flush', '--command', command, '/dev/null'], { cwd: ROOT, env: { PATH: process.env.PATH, TERM: 'xterm-256color', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let answered = false;
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    output += text;
    if (options.prompt && !answered && options.prompt.test(output)) {
      answered = true;
      child.stdin.write(options.answer ?? '');
    }
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, output })));
}

/** The rows a terminal of `columns` columns shows (scrollback included) after `output`, blank ones left out. */
async function screen(output: string, columns = 80): Promise<string[]> {
  const terminal = new xterm.Terminal({ cols: columns, rows: 40, scrollback: 10_000, allowProposedApi: true });
  await new Promise<void>((resolve) => terminal.write(output, resolve));
  return rowsOf(terminal);
}

function rowsOf(terminal: InstanceType<typeof xterm.Terminal>): string[] {
  const rows: string[] = [];
  for (let index = 0; index < terminal.buffer.active.length; index += 1) rows.push(terminal.buffer.active.getLine(index)?.translateToString(true) ?? '');
  return rows.filter((row) => row.trim() !== '');
}

const titleRows = (rows: readonly string[]) => rows.filter((row) => /^kubeha bootstrap \S+ \(simulated\) +\d\d:\d\d elapsed$/.test(row));

describe('the progress display on an 80-column terminal', () => {
  it('leaves exactly one progress block on the screen: the last one, with every instance', async () => {
    // Act
    const run = await onTerminal(['bootstrap', '--cluster', 'prod-eu', '--input', EXAMPLE, '--simulate', '--yes']);
    const rows = await screen(run.output);

    // Assess: the previous version left 26 stale headers here; one block of 11 rows, then the summary.
    expect(run.code).toBe(0);
    expect(titleRows(rows)).toHaveLength(1);
    const block = rows.indexOf(titleRows(rows)[0]!);
    expect(rows[block + 1]).toMatch(/^\[#{24}\] 12\/12 done {2}finished$/);
    expect(rows.slice(block + 3, block + 11).map((row) => row.split(/ +/)[1])).toEqual(['lb', 'lb', 'master', 'master', 'master', 'worker', 'worker', 'worker']);
    expect(rows.filter((row) => row.includes('12/12 done'))).toHaveLength(1);
    expect(rows.at(-1)).toBe('  npx kubeha kubeconfig --cluster prod-eu --simulate');
  });

  it('stays whole when the window narrows while it runs', async () => {
    // Prepare: an in-process run on a headless terminal that narrows from 100 to 60 columns mid-bootstrap.
    let columns = 100;
    // convertEol: a terminal device turns "\n" into "\r\n" on the way (onlcr); here nothing is in between.
    const terminal = new xterm.Terminal({ cols: columns, rows: 40, scrollback: 10_000, allowProposedApi: true, convertEol: true });
    let drawn = Promise.resolve();
    const listeners: (() => void)[] = [];
    let writes = 0;
    const stdout = (text: string) => {
      drawn = drawn.then(() => new Promise<void>((resolve) => terminal.write(text, resolve)));
      writes += 1;
      if (writes === 40) {
        columns = 60;
        drawn = drawn.then(() => terminal.resize(60, 40));
        listeners.forEach((listener) => listener());
      }
    };

    // Act
    const run = await kubeha(['bootstrap', '--cluster', 'narrow', '--input', inputFile(directory, { clusterName: 'narrow' }), '--simulate', '--profile', 'narrow', '--yes'], {
      env,
      io: { isTTY: true, stdout, terminal: { columns: () => columns, rows: () => 40, onResize: (listener) => (listeners.push(listener), () => undefined) } },
    });
    await drawn;
    const rows = rowsOf(terminal);

    // Assess
    expect(run.code).toBe(0);
    expect(writes).toBeGreaterThan(40);
    expect(rows.filter((row) => row.startsWith('kubeha bootstrap narrow'))).toHaveLength(1);
    expect(rows.filter((row) => row.includes('12/12 done'))).toHaveLength(1);
  });

  it('prints plain lines instead with --no-progress', async () => {
    const run = await onTerminal(['bootstrap', '--cluster', 'plain', '--input', inputFile(directory, { clusterName: 'plain' }), '--simulate', '--profile', 'plain', '--yes', '--no-progress']);
    expect(run.code).toBe(0);
    expect(run.output).not.toMatch(/\u001b\[\d*A/);
    expect(run.output).toContain('[00:00] 1/12 Validate the input');
  });
});

describe('confirmation on a terminal', () => {
  it('asks before a rotation and goes ahead on "y"', async () => {
    const run = await onTerminal(['rotate', '--cluster', 'prod-eu', '--simulate'], { prompt: /Go ahead with Rotation of the join material of prod-eu\?/, answer: 'y\r' });
    expect(run.code).toBe(0);
    expect(run.output).toContain('1. Mint a new bootstrap token and certificate key');
    expect(run.output).toMatch(/Fresh join material is stored as secret version/);
  });

  it('changes nothing when the answer is "n", exit 3', async () => {
    const run = await onTerminal(['drill', '--cluster', 'prod-eu', '--simulate', '--target', 'master', '--action', 'terminate'], { prompt: /Go ahead with Drill terminate master\?/, answer: 'n\r' });
    const after = await onTerminal(['status', '--cluster', 'prod-eu', '--simulate']);
    expect(run.code).toBe(3);
    expect(run.output).toContain('Declined: nothing was changed.');
    expect(after.output).not.toContain('drill-cluster');
  });
});

describe('status --watch on an 80-column terminal', () => {
  it('redraws one status in place at each look, and Ctrl-C leaves the last one on the screen', async () => {
    // Act: stop it with Ctrl-C once it has looked three times.
    const run = await onTerminal(['status', '--cluster', 'prod-eu', '--simulate', '--watch', '--interval', '0.2'], { prompt: /(Last look[^]*){3}/, answer: '\u0003' });
    const rows = await screen(run.output);

    // Assess
    expect(run.code).toBe(130);
    expect(rows.filter((row) => row.startsWith('Cluster prod-eu: https://'))).toHaveLength(1);
    expect(rows.filter((row) => row.startsWith('Every 0.2 s; Ctrl-C to stop.'))).toHaveLength(1);
    expect(rows.filter((row) => /^master +i-[0-9a-f]{17} +running/.test(row))).toHaveLength(3);
  });
});
