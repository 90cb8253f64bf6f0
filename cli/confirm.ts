// Commands that change a cluster show what they would do and ask first. --yes answers for a script,
// --dry-run shows the plan and stops, and without a terminal to ask on they refuse instead of waiting
// for an answer that cannot come.
import { CliError, EXIT } from './errors.js';
import { DEFAULT_COLUMNS, type Output, wrap } from './format.js';

export interface ChangeOptions {
  readonly yes: boolean;
  readonly dryRun: boolean;
}

export interface Asker {
  /** True when there is a person to ask: standard input is a terminal. */
  readonly canAsk: boolean;
  ask(question: string): Promise<boolean>;
}

/**
 * Shows `plan` (a list of steps) and returns true when the change may go ahead, false after a dry
 * run. Throws a CliError with exit 3 when the change is declined or cannot be confirmed.
 */
export async function confirmChange(what: { verb: string; plan: readonly string[]; cluster?: string | undefined; subject?: string }, options: ChangeOptions, out: Output, asker: Asker): Promise<boolean> {
  if (options.dryRun) {
    if (out.json) out.write(`${JSON.stringify({ dryRun: true, cluster: what.cluster, command: what.verb, plan: what.plan }, null, 2)}\n`);
    else out.write(`${describe(what, out.columns)}\nDry run: nothing was changed. Run the same command without --dry-run to do it.\n`);
    return false;
  }
  if (options.yes) return true;
  if (!asker.canAsk) {
    throw new CliError(`${what.verb} changes ${what.subject ?? `cluster ${what.cluster ?? ''}`} and needs a confirmation, but there is no terminal to ask on: pass --yes to go ahead, or --dry-run to see what it would do.`, EXIT.blocked);
  }
  out.error(`${describe(what, out.columns)}\n`);
  if (!(await asker.ask(`Go ahead with ${what.verb}?`))) throw new CliError('Declined: nothing was changed.', EXIT.blocked);
  return true;
}

function describe(what: { verb: string; plan: readonly string[] }, width = DEFAULT_COLUMNS): string {
  return `${what.verb} would:\n${what.plan.map((step, index) => `  ${String(index + 1).padStart(2)}. ${wrap(step, width, 6)}`).join('\n')}`;
}

/** Asks on the terminal (the prompt goes to standard error, so standard output stays clean for scripts). */
export function terminalAsker(canAsk: boolean): Asker {
  return {
    canAsk,
    async ask(question) {
      const { default: confirm } = await import('@inquirer/confirm');
      try {
        return await confirm({ message: question, default: false }, { output: process.stderr });
      } catch (error: unknown) {
        // Ctrl-C at the prompt: the same as no.
        if (error instanceof Error && error.name === 'ExitPromptError') return false;
        throw error;
      }
    },
  };
}
