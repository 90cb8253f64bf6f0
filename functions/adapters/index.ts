// Every production port at once, for the CLI and tests that drive the core directly. Handlers do not
// import this module: each takes only the adapters it needs through `portsWith` (adapters/base.ts).
import type { Ports } from '../core/ports.js';
import { portsWith } from './base.js';
import { ec2 } from './ec2.js';
import { notifier } from './notifier.js';
import { secrets } from './secrets.js';
import { ssm } from './ssm.js';
import { stateTable } from './state-table.js';
import { workflows } from './workflows.js';

export { env, healingEnv, resetEnvironmentForTesting, swapPorts } from './base.js';

export const ports: Ports = portsWith({ ec2, ssm, state: stateTable, secrets, workflows, notifier });
