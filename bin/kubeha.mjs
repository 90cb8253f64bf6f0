#!/usr/bin/env node
// The kubeha CLI. Runs the TypeScript sources through tsx, so there is nothing to build first.
// Written for any Node.js, so that an old one hears why it cannot run kubeha instead of a syntax error.
const MINIMUM_NODE_MAJOR = 22;
const major = Number(process.versions.node.split('.')[0]);
if (major < MINIMUM_NODE_MAJOR) {
  process.stderr.write(
    `kubeha: needs Node.js ${MINIMUM_NODE_MAJOR} or newer, and this is Node.js ${process.versions.node} (${process.execPath}).\n` +
      `Install Node.js ${MINIMUM_NODE_MAJOR} (for example \`nvm install ${MINIMUM_NODE_MAJOR}\`), or run \`npx kubeha\` in the repository after \`npm ci\`: it uses the Node.js ${MINIMUM_NODE_MAJOR} that npm ci installs.\n`,
  );
  process.exit(2);
}

// Reading stopped early (`kubeha status --json | head -1`): drop the rest of the output quietly and
// let the command finish, so a simulated account is still saved and nothing is left half done.
let stdoutOpen = true;
process.stdout.on('error', (error) => {
  if (error.code !== 'EPIPE') throw error;
  stdoutOpen = false;
});

// Ctrl-C: the command says what to do (stop following and print how to re-attach, or finish saving
// first); a second Ctrl-C leaves at once.
let interruptHandler;
let interruptedOnce = false;
process.on('SIGINT', () => {
  if (interruptedOnce || !interruptHandler) process.exit(130);
  interruptedOnce = true;
  const code = interruptHandler();
  if (code !== undefined) process.exit(code);
});

const { register } = await import('tsx/esm/api');
register();
const { runCli } = await import('../cli/main.ts');
const { terminalAsker } = await import('../cli/confirm.ts');
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => {
    if (stdoutOpen) process.stdout.write(text);
  },
  stderr: (text) => process.stderr.write(text),
  isTTY: Boolean(process.stdout.isTTY),
  env: process.env,
  terminal: process.stdout.isTTY
    ? {
        columns: () => process.stdout.columns || 80,
        rows: () => process.stdout.rows || 24,
        onResize: (listener) => {
          process.stdout.on('resize', listener);
          return () => process.stdout.off('resize', listener);
        },
      }
    : undefined,
  asker: terminalAsker(Boolean(process.stdin.isTTY)),
  outputClosed: () => !stdoutOpen,
  onInterrupt: (handler) => {
    interruptHandler = handler;
    return () => {
      interruptHandler = undefined;
    };
  },
});
