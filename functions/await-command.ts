import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { ssm } from './adapters/ssm.js';
import { stateTable } from './adapters/state-table.js';
import { awaitStep } from './core/bootstrap.js';
import { pendingCommandSchema } from './lib/schemas.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({ ec2, ssm, state: stateTable });

/** One poll of a command: InProgress, Success (node state recorded), or a CommandFailedError/CommandTimedOutError. */
export const handler = task('await-command', z.object({ command: pendingCommandSchema, ...executionFields }), async ({ command }, log) =>
  awaitStep(command, ports, log.child({ step: command.step, commandId: command.commandId })),
);
