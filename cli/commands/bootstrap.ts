import type { BootstrapSummary } from '../../functions/core/summary.js';
import type { Backend } from '../backend.js';
import { type Asker, type ChangeOptions, confirmChange } from '../confirm.js';
import { EXIT } from '../errors.js';
import { type Output, table, wrap } from '../format.js';
import { BOOTSTRAP_PHASES } from '../progress.js';
import { type Following, executionName, failure, startAndFollow } from './follow.js';
import { planOf, readInput, validated } from './plan.js';

/** `kubeha bootstrap`: the plan, a confirmation, then the bootstrap-cluster execution followed to its end. */
export async function bootstrap(options: { clusterName: string; inputPath: string | undefined } & ChangeOptions, backend: Backend, out: Output & Following, asker: Asker): Promise<number> {
  const input = readInput(options.inputPath, options.clusterName);
  const config = validated(input);
  backend.prepareCluster?.(options.clusterName, config.elasticIpAllocationId);
  if (!options.yes || options.dryRun) {
    const planned = await planOf(config, backend, out.columns);
    if (!planned.steps) {
      out.write(planned.findingsText);
      return EXIT.blocked;
    }
    if (!(await confirmChange({ verb: `Bootstrap of ${options.clusterName}`, plan: planned.steps, cluster: options.clusterName }, options, out, asker))) return EXIT.ok;
  }
  return bootstrapWith(input, options.clusterName, backend, out);
}

export async function bootstrapWith(input: Record<string, unknown>, clusterName: string, backend: Backend, out: Output & Following): Promise<number> {
  validated(input);
  const { executionArn, result } = await startAndFollow(backend, out, {
    machine: 'bootstrap-cluster',
    name: executionName(`${clusterName}-bootstrap`, backend.now()),
    input,
    title: `kubeha bootstrap ${clusterName}${backend.mode === 'simulated' ? ' (simulated)' : ''}`,
    phases: BOOTSTRAP_PHASES,
    clusterName,
  });
  if (result.status !== 'SUCCEEDED') throw failure(result, backend, executionArn, 'Bootstrap');
  const summary = result.output as BootstrapSummary;
  if (out.json) {
    out.write(`${JSON.stringify({ ...summary, executionArn }, null, 2)}\n`);
    return EXIT.ok;
  }
  out.write(`\nCluster ${summary.clusterName} is up: https://${summary.endpoint}, Kubernetes ${summary.kubernetesVersion}.\n`);
  out.write(`It took ${summary.timings.totalSeconds} s${backend.mode === 'simulated' ? ' of modelled time' : ''}:\n`);
  out.write(`${table(['phase', 'seconds'], Object.entries(summary.timings.phases), { width: out.columns })}\n`);
  const verified = Object.entries(summary.verification).map(([check, value]) => `${check} ${String(value)}`).join(', ');
  out.write(`Nodes: ${summary.nodes.masters} masters, ${summary.nodes.workers} workers, ${summary.nodes.loadBalancers} load balancers.\n${wrap(`Verified: ${verified}.`, out.columns, 2)}\n`);
  for (const line of externalSummary(summary)) out.write(`${wrap(line, out.columns, 2)}\n`);
  out.write(`Get the admin kubeconfig with:\n  npx kubeha kubeconfig --cluster ${summary.clusterName}${backend.mode === 'simulated' ? ' --simulate' : ''}\n`);
  return EXIT.ok;
}

/** One line for the external services: how many answer, and each that does not. */
function externalSummary(summary: BootstrapSummary): string[] {
  const report = summary.externalServices;
  if (!report) return [];
  if ('unknown' in report) return [`External services: not checked, ${report.unknown}.`];
  const down = report.endpoints.filter((endpoint) => !endpoint.reachable);
  return [
    `External services: ${report.endpoints.length - down.length} of ${report.endpoints.length} answer from ${report.checkedFrom}.`,
    ...down.map((endpoint) => `  ${endpoint.name} (${endpoint.kind}) ${endpoint.host}:${endpoint.port}: ${endpoint.reason ?? 'unreachable'}`),
  ];
}
