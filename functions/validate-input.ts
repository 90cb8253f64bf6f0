import { z } from 'zod';
import { portsWith } from './adapters/base.js';
import { validateBootstrapInput } from './core/bootstrap.js';
import { executionFields, task } from './lib/task.js';

const ports = portsWith({});

/** First state of bootstrap-cluster: the console input, checked before anything touches AWS. */
export const handler = task('validate-input', z.object({ input: z.unknown(), ...executionFields }), async ({ input }) => ({
  config: validateBootstrapInput(input, ports),
}));
