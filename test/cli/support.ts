// Running the CLI in tests: in this process through runCli (fast, with a fake terminal when asked),
// or as its own process through bin/kubeha.mjs, exactly as a user runs it.
import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Output } from '../../cli/format.js';
import { type CliIo, runCli } from '../../cli/main.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const EXAMPLE = join(ROOT, 'examples/bootstrap-input.json');
export const BIN = join(ROOT, 'bin/kubeha.mjs');
/** The Node.js the npm scripts run on (the `node` devDependency), as `npx kubeha` finds it. */
export const NODE = process.execPath;

export interface Captured {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function temporaryDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'kubeha-cli-'));
}

let inputs = 0;

/** An input file of its own: the example with some fields replaced. */
export function inputFile(directory: string, overrides: Record<string, unknown>): string {
  inputs += 1;
  const path = join(directory, `input-${inputs}.json`);
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(EXAMPLE, 'utf8')), ...overrides }));
  return path;
}

/** runCli in this process; `env` is all the environment the CLI sees. */
export async function kubeha(args: readonly string[], options: { env?: Record<string, string>; io?: Partial<CliIo> } = {}): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    isTTY: false,
    env: options.env ?? {},
    ...options.io,
  });
  return { code, stdout, stderr };
}

/** bin/kubeha.mjs as its own process, standard input closed (as in a script). */
export function kubehaProcess(args: readonly string[], env: Record<string, string | undefined>): Captured {
  const run: SpawnSyncReturns<string> = spawnSync(NODE, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: processEnvironment(env), stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  return { code: run.status ?? -1, stdout: run.stdout, stderr: run.stderr };
}

/** A shell pipeline in the repository, with `kubeha` standing for the CLI. */
export function shell(script: string, env: Record<string, string | undefined>): Captured {
  const run = spawnSync('bash', ['-o', 'pipefail', '-c', `kubeha() { "${NODE}" "${BIN}" "$@"; }\n${script}`], { cwd: ROOT, encoding: 'utf8', env: processEnvironment(env), stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  return { code: run.status ?? -1, stdout: run.stdout, stderr: run.stderr };
}

/** Starts the CLI and resolves once `ready` matches its standard output; `finished` resolves when it exits. */
export function startKubeha(args: readonly string[], env: Record<string, string | undefined>, ready: RegExp) {
  const child = spawn(NODE, [BIN, ...args], { cwd: ROOT, env: processEnvironment(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let signalReady: () => void = () => undefined;
  const isReady = new Promise<void>((resolve) => {
    signalReady = resolve;
  });
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    if (ready.test(stdout)) signalReady();
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const finished = new Promise<Captured>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  return { child, ready: isReady, finished };
}

/** The environment of a CLI process: PATH only, plus `env`, so nothing of the test runner's leaks in. */
function processEnvironment(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, ...env };
}

/** An Output that keeps what a command writes (both streams), for in-process command tests. */
export function capturedOutput(options: { json?: boolean; columns?: number } = {}): Output & { text: () => string } {
  let text = '';
  return { isTTY: false, json: options.json ?? false, columns: options.columns ?? 80, write: (chunk) => void (text += chunk), error: (chunk) => void (text += chunk), text: () => text };
}
