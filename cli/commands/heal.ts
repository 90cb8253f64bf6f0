import { HEALING_MACHINES } from '../../functions/core/healing-decisions.js';
import { type Backend, CliError, EXIT } from '../backend.js';
import type { Output } from '../format.js';
import { executionName, failure, startAndFollow } from './follow.js';

/** Runs the healing workflow of one instance by hand, as an event would. */
export async function heal(options: { clusterName: string; instanceId: string | undefined }, backend: Backend, out: Output): Promise<number> {
  if (!options.instanceId) throw new CliError('--instance is required: name the instance to heal, such as --instance i-0abc12345def67890.', EXIT.usage);
  await backend.ensureBootstrapped(options.clusterName);
  const instance = await backend.ports.ec2.describeInstance(options.instanceId);
  if (!instance?.role || instance.tags?.[`kubernetes.io/cluster/${options.clusterName}`] !== 'owned') {
    throw new CliError(`${options.instanceId} is not a kubeha instance of ${options.clusterName}.`, EXIT.notFound);
  }
  const machine = HEALING_MACHINES[instance.role];
  const { executionArn, result } = await startAndFollow(backend, out, {
    machine,
    name: executionName(`${options.instanceId}-manual`, backend.now()),
    input: { clusterName: options.clusterName, instanceId: options.instanceId, role: instance.role, state: instance.ec2State, trigger: 'kubeha heal' },
    title: `kubeha heal ${options.instanceId} (${machine})`,
    phases: [{ name: machine, states: /./ }],
    clusterName: options.clusterName,
  });
  if (result.status !== 'SUCCEEDED') throw failure(result, backend, executionArn, `Healing ${options.instanceId}`);
  out.write(`${options.instanceId} is healed (${machine}).\n`);
  return EXIT.ok;
}
