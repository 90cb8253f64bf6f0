import type { BootstrapSummary } from '../../functions/core/summary.js';
import type { Backend } from '../backend.js';
import { EXIT } from '../backend.js';
import { type Output, table } from '../format.js';
import { BOOTSTRAP_PHASES } from '../progress.js';
import { executionName, failure, startAndFollow } from './follow.js';
import { readInput, validated } from './plan.js';

export async function bootstrap(options: { clusterName: string; inputPath: string | undefined }, backend: Backend, out: Output): Promise<number> {
  return bootstrapWith(readInput(options.inputPath, options.clusterName), options.clusterName, backend, out);
}

export async function bootstrapWith(input: Record<string, unknown>, clusterName: string, backend: Backend, out: Output): Promise<number> {
  const options = { clusterName };
  validated(input);
  const { executionArn, result } = await startAndFollow(backend, out, {
    machine: 'bootstrap-cluster',
    name: executionName(`${options.clusterName}-bootstrap`, backend.now()),
    input,
    title: `kubeha bootstrap ${options.clusterName}${backend.mode === 'simulated' ? ' (simulated, modelled time)' : ''}`,
    phases: BOOTSTRAP_PHASES,
    clusterName: options.clusterName,
  });
  if (result.status !== 'SUCCEEDED') throw failure(result, backend, executionArn, 'Bootstrap');
  backend.markBootstrapped?.();
  const summary = result.output as BootstrapSummary;
  if (out.json) {
    out.write(`${JSON.stringify(summary, null, 2)}\n`);
    return EXIT.ok;
  }
  out.write(`\nCluster ${summary.clusterName} is up at https://${summary.endpoint} (Kubernetes ${summary.kubernetesVersion}) in ${summary.timings.totalSeconds} s.\n`);
  out.write(`${table(['phase', 'seconds'], Object.entries(summary.timings.phases))}\n`);
  out.write(`Nodes: ${summary.nodes.masters} masters, ${summary.nodes.workers} workers, ${summary.nodes.loadBalancers} load balancers. Verified: ${JSON.stringify(summary.verification)}\n`);
  out.write(`Get the admin kubeconfig with: kubeha kubeconfig --cluster ${summary.clusterName}\n`);
  return EXIT.ok;
}
