import { ROLES, type Role } from '../../functions/core/cluster.js';
import { DRILL_ACTIONS, type DrillAction, type DrillReport } from '../../functions/core/drill.js';
import { type Backend, CliError, EXIT } from '../backend.js';
import { type Output, percent, table } from '../format.js';
import { DRILL_PHASES } from '../progress.js';
import { executionName, failure, startAndFollow } from './follow.js';

export function parseTarget(target: string | undefined): { role: Role; instanceId?: string } {
  const [role, instanceId] = (target ?? '').split(':');
  if (!ROLES.includes(role as Role)) throw new CliError('--target must be master, worker or lb, optionally with an instance: --target master:i-0abc12345def67890.', EXIT.usage);
  if (instanceId !== undefined && !/^i-[0-9a-f]{8,17}$/.test(instanceId)) throw new CliError(`--target names ${instanceId}, which is not an EC2 instance id.`, EXIT.usage);
  return { role: role as Role, ...(instanceId ? { instanceId } : {}) };
}

export function drillTable(reports: readonly DrillReport[]): string {
  return table(
    ['drill', 'target', 'healed', 'time to heal', 'API ok', 'longest API outage', 'app ok', 'longest app outage', 'workflows'],
    reports.map((report) => [
      `${report.action} ${report.target.split(' ')[0]}`,
      report.target.split(' ')[1],
      report.healed ? 'yes' : 'NO',
      `${report.timeToHealSeconds} s`,
      percent(report.api.successRatio),
      `${report.api.longestOutageSeconds} s`,
      percent(report.app.successRatio),
      `${report.app.longestOutageSeconds} s`,
      report.workflows.map((workflow) => `${workflow.name.split('-').slice(2, 3).join('')}:${workflow.status}`).join(' '),
    ]),
  );
}

export async function drill(options: { clusterName: string; target: string | undefined; action: string | undefined }, backend: Backend, out: Output): Promise<{ code: number; report?: DrillReport }> {
  const target = parseTarget(options.target);
  if (!DRILL_ACTIONS.includes(options.action as DrillAction)) throw new CliError('--action must be stop or terminate.', EXIT.usage);
  await backend.ensureBootstrapped(options.clusterName);
  const { executionArn, result } = await startAndFollow(backend, out, {
    machine: 'drill-cluster',
    name: executionName(`${options.clusterName}-drill-${target.role}-${options.action}`, backend.now()),
    input: { clusterName: options.clusterName, target: target.role, action: options.action, ...(target.instanceId ? { instanceId: target.instanceId } : {}) },
    title: `kubeha drill ${options.action} ${target.role}${backend.mode === 'simulated' ? ' (simulated, modelled time)' : ''}`,
    phases: DRILL_PHASES,
    clusterName: options.clusterName,
  });
  if (result.status !== 'SUCCEEDED') throw failure(result, backend, executionArn, 'The drill');
  const report = result.output as DrillReport;
  out.write(out.json ? `${JSON.stringify(report, null, 2)}\n` : `\n${drillTable([report])}\n`);
  return { code: report.healed ? EXIT.ok : EXIT.failed, report };
}
