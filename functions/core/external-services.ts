// External service checks: can the applications' databases, caches and file servers be reached from
// where the applications run? One worker connects to each configured endpoint (CheckExternalServices);
// each endpoint is reported on its own, and one that does not answer is a finding, never a failure of
// verify, reconcile or status.
import type { ClusterInstance } from './cluster.js';
import { type ClusterContext, type CommandEnvironment, buildCommand, failDelayedOnStoppedNodes, isInFlight, parseResult } from './commands.js';
import type { ExternalService } from './node-profile.js';
import type { Ports } from './ports.js';

export interface EndpointCheck extends ExternalService {
  readonly reachable: boolean;
  readonly reason?: string;
}

export type ExternalCheckReport =
  | { readonly checkedFrom: string; readonly endpoints: EndpointCheck[] }
  /** Nothing could be asked (no worker online, the command failed or took too long): every endpoint unknown. */
  | { readonly checkedFrom?: string; readonly unknown: string; readonly endpoints: ExternalService[] };

/** Asks one running, joined worker with an online agent; undefined when the cluster names no endpoints. */
export async function checkExternalServices(
  cluster: ClusterContext,
  instances: readonly ClusterInstance[],
  ports: Pick<Ports, 'ssm' | 'ec2' | 'clock'>,
  environment: CommandEnvironment,
  options: { timeoutSeconds: number },
): Promise<ExternalCheckReport | undefined> {
  const services = cluster.externalServices ?? [];
  if (services.length === 0) return undefined;
  const workers = instances.filter((instance) => instance.role === 'worker' && instance.ec2State === 'running' && instance.nodeState === 'joined');
  const online = workers.length > 0 ? await ports.ssm.onlineInstanceIds(workers.map((worker) => worker.instanceId)) : new Set<string>();
  const worker = workers.find((candidate) => online.has(candidate.instanceId));
  if (!worker) return { unknown: 'no joined worker with an online SSM agent to check from', endpoints: services };
  const request = buildCommand({ step: 'check-external-services', instanceIds: [worker.instanceId], cluster }, environment);
  const commandId = await ports.ssm.sendCommand({ ...request, timeoutSeconds: 60 });
  const deadline = ports.clock.now() + options.timeoutSeconds * 1000;
  while (ports.clock.now() <= deadline) {
    await ports.clock.sleep(2000);
    // Delayed on a worker that stopped since it answered as online: given up on now and cancelled there (bootstrap.ts).
    const [invocation] = await failDelayedOnStoppedNodes({ commandId }, await ports.ssm.commandInvocations(commandId), ports);
    if (!invocation || isInFlight(invocation.status)) continue;
    if (invocation.status !== 'Success') return { checkedFrom: worker.instanceId, unknown: `the check failed on ${worker.instanceId} (${invocation.status})`, endpoints: services };
    const reported = parseResult((await ports.ssm.invocationOutput(commandId, worker.instanceId)).stdout).endpoints;
    if (!Array.isArray(reported)) return { checkedFrom: worker.instanceId, unknown: 'the check reported nothing', endpoints: services };
    // Report what was configured, in its order, with what the worker saw: nothing else passes through.
    const endpoints = services.map((service) => {
      const seen = (reported as Partial<EndpointCheck>[]).find((candidate) => candidate.name === service.name);
      if (!seen) return { ...service, reachable: false, reason: 'not checked' };
      return { ...service, reachable: seen.reachable === true, ...(seen.reachable === true ? {} : { reason: String(seen.reason ?? 'unreachable').slice(0, 200) }) };
    });
    return { checkedFrom: worker.instanceId, endpoints };
  }
  await ports.ssm.cancelCommand(commandId);
  return { checkedFrom: worker.instanceId, unknown: `the check did not finish within ${options.timeoutSeconds} s`, endpoints: services };
}

/** One sentence per endpoint that is not known to answer: what reconcile reports and status shows. */
export function externalFindings(report: ExternalCheckReport | undefined): string[] {
  if (!report) return [];
  if ('unknown' in report) return [`external services not checked: ${report.unknown}`];
  return report.endpoints
    .filter((endpoint) => !endpoint.reachable)
    .map((endpoint) => `external service ${endpoint.name} (${endpoint.kind}) ${endpoint.host}:${endpoint.port} is unreachable from ${report.checkedFrom}: ${endpoint.reason ?? 'no reason given'}`);
}
