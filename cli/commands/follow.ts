// Starts an execution and follows it to its end with a progress display.
import { type Backend, CliError, EXIT, type ExecutionResult } from '../backend.js';
import type { Output } from '../format.js';
import { ProgressView } from '../progress.js';

export async function startAndFollow(
  backend: Backend,
  out: Output,
  options: { machine: string; name: string; input: unknown; title: string; phases: ConstructorParameters<typeof ProgressView>[2]; clusterName: string },
): Promise<{ executionArn: string; result: ExecutionResult }> {
  const executionArn = await backend.startExecution(options.machine, options.name, options.input);
  if (!out.json) out.write(`Started ${options.machine} execution ${options.name}\n`);
  const started = backend.now();
  const view = new ProgressView(out, options.title, options.phases, () => backend.elapsedSince(started));
  const refreshInstances = async () => {
    if (out.isTTY) view.setInstances(await backend.ports.ec2.findClusterInstances(options.clusterName).catch(() => []));
  };
  const result = await backend.follow(
    executionArn,
    (event) => {
      view.onEvent(event);
      if (!out.json) view.render();
    },
    async () => {
      if (out.json) return;
      await refreshInstances();
      view.render();
    },
  );
  if (!out.json) {
    if (result.status === 'SUCCEEDED' && out.isTTY) view.finish();
    await refreshInstances();
    view.render();
  }
  return { executionArn, result };
}

export function failure(result: ExecutionResult, backend: Backend, executionArn: string, what: string): CliError {
  const code = result.error === 'PreflightFailedError' || result.error === 'DrillRefusedError' || result.error === 'InputValidationError' ? EXIT.blocked : EXIT.failed;
  return new CliError(`${what} failed with ${result.error}: ${result.cause}\nExecution: ${backend.consoleUrl(executionArn)}`, code);
}

export function executionName(prefix: string, now: number): string {
  return `${prefix}-${new Date(now).toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}`.slice(0, 80);
}
