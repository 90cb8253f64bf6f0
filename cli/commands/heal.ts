import { HEALING_MACHINES } from '../../functions/core/healing-decisions.js';
import { startHealing } from '../../functions/core/incidents.js';
import type { Logger } from '../../functions/core/log.js';
import type { Backend } from '../backend.js';
import { type Asker, type ChangeOptions, confirmChange } from '../confirm.js';
import { CliError, EXIT } from '../errors.js';
import type { Output } from '../format.js';
import { SINGLE_PHASE } from '../progress.js';
import { requireCluster } from './cluster.js';
import { type Following, failure, followExecution } from './follow.js';

const SILENT: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined, child: () => SILENT };

/** Runs the healing workflow of one instance by hand, as an event would. */
export async function heal(options: { clusterName: string; instanceId: string | undefined } & ChangeOptions, backend: Backend, out: Output & Following, asker: Asker): Promise<number> {
  if (!options.instanceId) throw new CliError('--instance is required: name the instance to heal, such as --instance i-0abc12345def67890.', EXIT.usage);
  if (!/^i-[0-9a-f]{8,17}$/.test(options.instanceId)) throw new CliError(`--instance ${options.instanceId} is not an EC2 instance id (i- and 8 or 17 hexadecimal digits).`, EXIT.usage);
  await requireCluster(options.clusterName, backend);
  const instance = await backend.ports.ec2.describeInstance(options.instanceId);
  if (!instance?.role || instance.tags?.[`kubernetes.io/cluster/${options.clusterName}`] !== 'owned') {
    throw new CliError(`${options.instanceId} is not a kubeha instance of ${options.clusterName}: pick one from \`kubeha status --cluster ${options.clusterName}\`.`, EXIT.notFound);
  }
  const machine = HEALING_MACHINES[instance.role];
  const plan = [
    `Run ${machine} for ${instance.role} ${options.instanceId} (${instance.ec2State}) of ${options.clusterName}, as an EC2 state-change event would`,
    instance.ec2State === 'running' ? 'It checks the instance first and changes nothing if it is healthy' : `It brings back or replaces the ${instance.ec2State} instance and rejoins it to the cluster`,
  ];
  if (!(await confirmChange({ verb: `Healing ${options.instanceId}`, plan, cluster: options.clusterName }, options, out, asker))) return EXIT.ok;
  // A human's request opens a fresh incident (a new retry budget) unless a healing of the instance runs:
  // then this follows that one instead of starting a second.
  const outcome = await startHealing(
    { clusterName: options.clusterName, instanceId: options.instanceId, role: instance.role, state: instance.ec2State, trigger: 'kubeha heal', kind: 'human', observedAt: backend.now() },
    backend.ports,
    backend.environment,
    SILENT,
  );
  if (!outcome.executionName) throw new CliError(`kubeha started no healing of ${options.instanceId}: ${outcome.started ? '' : outcome.reason}.`, EXIT.blocked);
  if (!out.json) out.write(outcome.started ? `Started ${machine} execution ${outcome.executionName}\n` : `Following the healing already running: ${outcome.executionName}\n`);
  const executionArn = outcome.started ? outcome.executionArn : `${backend.environment.stateMachineArnPrefix.replace(':stateMachine:', ':execution:')}${machine}:${outcome.executionName}`;
  const result = await followExecution(backend, out, { executionArn, title: `kubeha heal ${options.instanceId} (${machine})`, phases: SINGLE_PHASE(machine), clusterName: options.clusterName });
  if (result.status !== 'SUCCEEDED') throw failure(result, backend, executionArn, `Healing ${options.instanceId}`);
  if (out.json) out.write(`${JSON.stringify({ cluster: options.clusterName, instanceId: options.instanceId, machine, executionArn, status: result.status, output: result.output }, null, 2)}\n`);
  else out.write(`${options.instanceId} is healed (${machine}).\n`);
  return EXIT.ok;
}
