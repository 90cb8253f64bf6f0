// Starts an execution and follows it to its end with a progress display; `kubeha follow` re-attaches
// to one by its ARN.
import type { Backend, ExecutionResult } from '../backend.js';
import { CliError, EXIT } from '../errors.js';
import type { Output } from '../format.js';
import { BOOTSTRAP_PHASES, DRILL_PHASES, ProgressView, SINGLE_PHASE } from '../progress.js';

export interface Following {
  /** Tells the Ctrl-C handler which execution is being followed (undefined: none any more). */
  following?(executionArn: string | undefined): void;
}

export async function startAndFollow(
  backend: Backend,
  out: Output & Following,
  options: { machine: string; name: string; input: unknown; title: string; phases: ConstructorParameters<typeof ProgressView>[2]; clusterName: string },
): Promise<{ executionArn: string; result: ExecutionResult }> {
  const executionArn = await backend.startExecution(options.machine, options.name, options.input);
  if (!out.json) out.write(`Started ${options.machine} execution ${options.name}\n`);
  return { executionArn, result: await followExecution(backend, out, { executionArn, title: options.title, phases: options.phases, clusterName: options.clusterName }) };
}

export async function followExecution(
  backend: Backend,
  out: Output & Following,
  options: { executionArn: string; title: string; phases: ConstructorParameters<typeof ProgressView>[2]; clusterName?: string | undefined },
): Promise<ExecutionResult> {
  out.following?.(options.executionArn);
  const started = backend.now();
  const view = new ProgressView(out, options.title, options.phases, () => backend.elapsedSince(started));
  const refreshInstances = async () => {
    if (out.isTTY && options.clusterName) view.setInstances(await backend.ports.ec2.findClusterInstances(options.clusterName).catch(() => []));
  };
  try {
    const result = await backend.follow(
      options.executionArn,
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
      if (result.status === 'SUCCEEDED') view.finish();
      await refreshInstances();
      view.render();
    }
    return result;
  } finally {
    view.close();
    out.following?.(undefined);
  }
}

/** `kubeha follow EXECUTION`: the progress of an execution started earlier, by this CLI or anything else. */
export async function follow(options: { executionArn: string }, backend: Backend, out: Output & Following): Promise<number> {
  const parsed = /^arn:aws[\w-]*:states:[\w-]+:\d{12}:execution:([\w-]+):([\w.-]+)$/.exec(options.executionArn);
  if (!parsed) throw new CliError(`"${options.executionArn}" is not a Step Functions execution ARN (arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME).`, EXIT.usage);
  const machine = (parsed[1] ?? '').replace(/^kubeha-.*?-(?=bootstrap-cluster$|drill-cluster$|heal-)/, '');
  const phases = machine.endsWith('bootstrap-cluster') ? BOOTSTRAP_PHASES : machine.endsWith('drill-cluster') ? DRILL_PHASES : SINGLE_PHASE(machine);
  const result = await followExecution(backend, out, { executionArn: options.executionArn, title: `kubeha follow ${parsed[2]}`, phases });
  if (out.json) out.write(`${JSON.stringify({ executionArn: options.executionArn, ...result }, null, 2)}\n`);
  else out.write(result.status === 'SUCCEEDED' ? `\nExecution ${parsed[2]} succeeded.\n` : '');
  if (result.status !== 'SUCCEEDED') throw failure(result, backend, options.executionArn, `Execution ${parsed[2]}`);
  return EXIT.ok;
}

export function failure(result: ExecutionResult, backend: Backend, executionArn: string, what: string): CliError {
  const code = result.error === 'PreflightFailedError' || result.error === 'DrillRefusedError' || result.error === 'InputValidationError' ? EXIT.blocked : EXIT.failed;
  return new CliError(`${what} failed with ${result.error}: ${result.cause}\nExecution: ${backend.consoleUrl(executionArn)}`, code);
}

export function executionName(prefix: string, now: number): string {
  return `${prefix}-${new Date(now).toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}`.slice(0, 80);
}
