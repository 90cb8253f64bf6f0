import { readFileSync } from 'node:fs';
import { discoverCluster, preflightReport, validateBootstrapInput } from '../../functions/core/bootstrap.js';
import { isStandby } from '../../functions/core/cluster.js';
import type { ClusterConfig } from '../../functions/core/config.js';
import { InputValidationError } from '../../functions/core/errors.js';
import { type BootstrapPlan, standbyRows } from '../../functions/core/plan.js';
import type { Backend } from '../backend.js';
import { CliError, EXIT } from '../errors.js';
import { DEFAULT_COLUMNS, type Output, table, wrap } from '../format.js';

export function readInput(path: string | undefined, clusterName: string): Record<string, unknown> {
  if (!path) throw new CliError('--input is required: pass the bootstrap input file, such as examples/bootstrap-input.json.', EXIT.usage);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error: unknown) {
    throw new CliError(`${path} could not be read as JSON: ${error instanceof Error ? error.message : String(error)}.`, EXIT.usage, { cause: error });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CliError(`${path} must hold a JSON object.`, EXIT.usage);
  const input = raw as Record<string, unknown>;
  if (input.clusterName !== undefined && input.clusterName !== clusterName) {
    throw new CliError(`${path} is for cluster "${String(input.clusterName)}", not "${clusterName}": pass --cluster ${String(input.clusterName)} or fix the file.`, EXIT.usage);
  }
  return { ...input, clusterName };
}

export function validated(input: Record<string, unknown>): ClusterConfig {
  try {
    return validateBootstrapInput(input, { clock: { now: () => Date.now(), sleep: async () => undefined } });
  } catch (error: unknown) {
    if (error instanceof InputValidationError) throw new CliError(`The input is not valid: ${error.message}.`, EXIT.usage, { cause: error });
    throw error;
  }
}

function steps(config: ClusterConfig, plan: BootstrapPlan): string[] {
  const prerequisites = plan.prerequisiteBatches.reduce((sum, batch) => sum + batch.instanceIds.length, 0);
  const [primary, standby] = plan.loadBalancerIds;
  const workers = plan.workerBatches.flat().length;
  return [
    `Install prerequisites (containerd, Kubernetes ${config.kubernetesVersion} pinned and held) on ${prerequisites} node(s) in ${plan.prerequisiteBatches.length} batch(es)${plan.skipped.prerequisites ? `, skipping ${plan.skipped.prerequisites} already prepared` : ''}`,
    `Configure nginx and keepalived on ${primary ?? '-'} (primary)${standby ? ` and ${standby} (standby)` : ''}`,
    `Put Elastic IP ${config.elasticIpAllocationId} on ${primary ?? '-'}`,
    `Mint a bootstrap token and certificate key into Secrets Manager`,
    `Initialize ${plan.firstMaster.instanceId} with kubeadm (endpoint ${plan.endpoint.address})`,
    `Install Calico ${config.cni.version} with pool ${config.podCidr}`,
    `Join ${plan.mastersToJoin.length} master(s) one at a time, fresh join material for each${plan.mastersToJoin.length ? `: ${plan.mastersToJoin.map((master) => master.instanceId).join(', ')}` : ''}`,
    `Join ${workers} worker(s) in ${plan.workerBatches.length} batch(es) of at most ${config.workerBatchSize}${plan.skipped.workers ? `, skipping ${plan.skipped.workers} already joined` : ''}`,
    'Verify nodes Ready, etcd members healthy, kube-system pods running',
    `Record the settings in /kubeha/${config.clusterName}/settings`,
  ];
}

/** Discovery and every preflight check, read-only: the steps bootstrap would take, or the findings that block it. */
export async function planOf(config: ClusterConfig, backend: Backend, width = DEFAULT_COLUMNS) {
  const instances = await discoverCluster(config, backend.ports);
  const report = await preflightReport(config, instances, backend.ports);
  const findingsText = report.findings.length
    ? `Findings:\n${report.findings.map((finding) => `  ${wrap(`${finding.blocking ? 'BLOCKING' : 'warning '} ${finding.field}: ${finding.reason}`, width, 11)}\n           ${wrap(`fix: ${finding.fix}`, width, 16)}\n`).join('')}\n`
    : '';
  const blocking = report.findings.filter((finding) => finding.blocking);
  return {
    instances,
    report,
    blocking,
    findingsText: report.outcome ? findingsText : `${findingsText}${blocking.length} blocking finding(s): fix them and run plan again. Nothing was changed.\n`,
    steps: report.outcome ? steps(config, report.outcome.plan) : undefined,
  };
}

export async function plan(options: { clusterName: string; inputPath: string | undefined }, backend: Backend, out: Output): Promise<number> {
  const config = validated(readInput(options.inputPath, options.clusterName));
  backend.prepareCluster?.(options.clusterName, config.elasticIpAllocationId);
  const { instances, report, blocking, findingsText, steps: planned } = await planOf(config, backend, out.columns);
  // discoverCluster leaves the standbys out (they are no members): asked for apart, read-only like the rest.
  const spares = (await backend.ports.ec2.findClusterInstances(config.clusterName)).filter(isStandby);
  const standbys = standbyRows(config.healing.standbys, [...instances, ...spares], config.kubernetesVersion, backend.now());
  if (out.json) {
    out.write(`${JSON.stringify({ cluster: config.clusterName, instances, standbys, findings: report.findings, plan: report.outcome?.plan, steps: planned ?? [] }, null, 2)}\n`);
    return blocking.length > 0 ? EXIT.blocked : EXIT.ok;
  }
  out.write(`Cluster ${config.clusterName}: ${instances.length} tagged instance(s)\n\n`);
  out.write(
    `${table(
      ['role', 'instance', 'state', 'private IP', 'zone', 'kubeha state'],
      instances.map((instance) => [instance.role ?? '(no role)', instance.instanceId, instance.ec2State, instance.privateIp, instance.availabilityZone, instance.nodeState ?? 'new']),
      { width: out.columns, optional: ['zone'] },
    )}\n\n`,
  );
  if (standbys.length > 0) {
    const { master, worker } = config.healing.standbys;
    out.write(`Warm standbys (healing.standbys: ${master} master, ${worker} worker), kept by reconcile:\n\n`);
    out.write(
      `${table(
        ['role', 'zone', 'state', 'instance', 'note'],
        standbys.map((row) => [row.role, row.zone, row.state, row.instanceId, row.note ?? '']),
        { width: out.columns, optional: ['instance'] },
      )}\n\n`,
    );
  }
  out.write(findingsText);
  if (!planned) return EXIT.blocked;
  out.write('Bootstrap would:\n');
  planned.forEach((step, index) => out.write(`  ${String(index + 1).padStart(2)}. ${wrap(step, out.columns, 6)}\n`));
  out.write('\nNothing was changed. Run `kubeha bootstrap` with the same flags to do it.\n');
  return EXIT.ok;
}
