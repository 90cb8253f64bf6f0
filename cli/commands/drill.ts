import { ROLES, type Role } from '../../functions/core/cluster.js';
import { DRILL_ACTIONS, type DrillAction, type DrillReport, prepareDrill } from '../../functions/core/drill.js';
import { DrillRefusedError } from '../../functions/core/errors.js';
import type { Backend } from '../backend.js';
import { type Asker, type ChangeOptions, confirmChange } from '../confirm.js';
import { CliError, EXIT } from '../errors.js';
import { type Output, percent, table } from '../format.js';
import { DRILL_PHASES } from '../progress.js';
import { requireCluster } from './cluster.js';
import { type Following, executionName, failure, startAndFollow } from './follow.js';

export function parseTarget(target: string | undefined): { role: Role; instanceId?: string } {
  const [role, instanceId] = (target ?? '').split(':');
  if (!ROLES.includes(role as Role)) throw new CliError('--target must be master, worker or lb, optionally with an instance: --target master:i-0abc12345def67890.', EXIT.usage);
  if (instanceId !== undefined && !/^i-[0-9a-f]{8,17}$/.test(instanceId)) throw new CliError(`--target names ${instanceId}, which is not an EC2 instance id.`, EXIT.usage);
  return { role: role as Role, ...(instanceId ? { instanceId } : {}) };
}

/** Several drills side by side, narrow enough for 80 columns: outage and success ratio share a cell. */
export function drillTable(reports: readonly DrillReport[], width?: number): string {
  return table(
    ['drill', 'target', 'healed\n(modelled)', 'API\noutage, ok', 'app\noutage, ok', 'workflows'],
    reports.map((report) => [
      `${report.action} ${report.target.split(' ')[0]}`,
      report.target.split(' ')[1],
      `${report.healed ? 'yes' : 'NO'}, ${report.timeToHealSeconds} s`,
      `${report.api.longestOutageSeconds} s, ${percent(report.api.successRatio)}`,
      `${report.app.longestOutageSeconds} s, ${percent(report.app.successRatio)}`,
      report.workflows.map((workflow) => workflow.status).join(' '),
    ]),
    width === undefined ? {} : { width },
  );
}

/** One drill, as a list a person reads top to bottom. */
export function drillSummary(report: DrillReport): string {
  return [
    `Drill: ${report.action} ${report.target}`,
    `  healed           ${report.healed ? 'yes' : 'NO'}, in ${report.timeToHealSeconds} s`,
    `  API              ${percent(report.api.successRatio)} of probes answered, longest outage ${report.api.longestOutageSeconds} s`,
    `  test application ${percent(report.app.successRatio)} of probes answered, longest outage ${report.app.longestOutageSeconds} s`,
    ...(report.inCluster ? [`  API in cluster   ${percent(report.inCluster.successRatio)} of probes answered, longest outage ${report.inCluster.longestOutageSeconds} s`] : []),
    ...(report.workflows.length ? report.workflows.map((workflow, index) => `  ${index === 0 ? 'workflows' : '         '}        ${workflow.name} ${workflow.status}, ${workflow.seconds} s`) : ['  workflows        none']),
  ].join('\n');
}

export async function drill(
  options: { clusterName: string; target: string | undefined; action: string | undefined } & ChangeOptions,
  backend: Backend,
  out: Output & Following,
  asker: Asker,
): Promise<{ code: number; report?: DrillReport }> {
  const target = parseTarget(options.target);
  if (!DRILL_ACTIONS.includes(options.action as DrillAction)) throw new CliError('--action must be stop or terminate.', EXIT.usage);
  await requireCluster(options.clusterName, backend);
  const request = { clusterName: options.clusterName, target: target.role, action: options.action as DrillAction, ...(target.instanceId ? { instanceId: target.instanceId } : {}) };
  if (!options.yes || options.dryRun) {
    let plan;
    try {
      plan = await prepareDrill(request, 'dry-run', backend.ports);
    } catch (error: unknown) {
      if (error instanceof DrillRefusedError) throw new CliError(`The drill is refused: ${error.message}.`, EXIT.blocked, { cause: error });
      throw error;
    }
    const steps = [
      `${options.action === 'stop' ? 'Stop' : 'Terminate'} ${plan.target.role} ${plan.target.instanceId} (${plan.target.privateIp}) of ${options.clusterName}, as a real failure would`,
      `Refuse first if etcd, the standby load balancer or a running heal says the cluster cannot take it`,
      `Probe the API and a test application once a second from worker ${plan.probeWorkerIds.join(', ')}`,
      `Wait for kubeha's healing workflows${options.action === 'stop' ? ', then start the instance again' : ' to replace the instance'}, and report what users saw`,
    ];
    if (!(await confirmChange({ verb: `Drill ${options.action} ${target.role}`, plan: steps, cluster: options.clusterName }, options, out, asker))) return { code: EXIT.ok };
  }
  const { executionArn, result } = await startAndFollow(backend, out, {
    machine: 'drill-cluster',
    name: executionName(`${options.clusterName}-drill-${target.role}-${options.action}`, backend.now()),
    input: request,
    title: `kubeha drill ${options.action} ${target.role}${backend.mode === 'simulated' ? ' (simulated)' : ''}`,
    phases: DRILL_PHASES,
    clusterName: options.clusterName,
  });
  if (result.status !== 'SUCCEEDED') throw failure(result, backend, executionArn, 'The drill');
  const report = result.output as DrillReport;
  out.write(out.json ? `${JSON.stringify({ ...report, executionArn }, null, 2)}\n` : `\n${drillSummary(report)}\n`);
  return { code: report.healed ? EXIT.ok : EXIT.failed, report };
}
