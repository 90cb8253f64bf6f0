import { z } from 'zod';
import { ports } from './adapters/index.js';
import { awaitStep } from './core/bootstrap.js';
import { pendingCommandSchema } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

/** One poll of a command: InProgress, Success (node state recorded), or a CommandFailedError/CommandTimedOutError. */
export const handler = task('await-command', z.object({ command: pendingCommandSchema, ...executionFields }), async ({ command }, log) =>
  awaitStep(command, ports, log.child({ step: command.step, commandId: command.commandId })),
);
