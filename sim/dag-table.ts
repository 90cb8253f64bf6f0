// README's DAG, generated from sim/dag.ts as a recorded run fills it in: one row per edge, with the
// instances named by role, so the document cannot drift from the DAG the bound and the order check use.
import { type Dag, criticalPath } from './dag.js';
import type { SimulatedFleet } from './fleet.js';

const INSTANCE_ID = /i-[0-9a-f]+/;

const ROLE_NAMES: Readonly<Record<string, string>> = { master: 'a further master', worker: 'a worker', lb: 'a load balancer' };

/** The node's id with its instance named by role; every node's prerequisites are one row. */
function generic(id: string, fleet: SimulatedFleet): string {
  const instanceId = INSTANCE_ID.exec(id)?.[0];
  if (!instanceId) return id;
  if (id.startsWith('prerequisites ')) return 'prerequisites (each node)';
  const role = fleet.instances.get(instanceId)?.tags['kubeha:role'] ?? 'instance';
  return id.replace(INSTANCE_ID, ROLE_NAMES[role] ?? role);
}

/**
 * The edges of `dag` as a markdown table (work, what it waits for, why), one row per kind of edge,
 * in the order the run first met them; the works on the run's critical path in bold.
 */
export function dagTable(dag: Dag, fleet: SimulatedFleet): string {
  const critical = new Set(criticalPath(dag).path.map((id) => generic(id, fleet)));
  const named = (label: string) => (critical.has(label) ? `**${label}**` : label);
  const rows = new Map<string, [string, string, string]>();
  for (const node of dag.nodes) {
    const work = generic(node.id, fleet);
    const predecessors = Object.entries(node.after);
    if (predecessors.length === 0 && !rows.has(`${work}|`)) rows.set(`${work}|`, [named(work), '(nothing)', 'starts at once']);
    for (const [previous, why] of predecessors) {
      let before = generic(previous, fleet);
      // Two instances of one role in a chain (masters join one at a time): the earlier one is "the previous".
      if (before === work.replace(/^certificate upload for /, 'join ') && INSTANCE_ID.exec(previous)?.[0] !== INSTANCE_ID.exec(node.id)?.[0]) before = `${before} (the previous one)`;
      const key = `${work}|${before}`;
      if (!rows.has(key)) rows.set(key, [named(work), before, why]);
    }
  }
  const lines = ['| work | waits for | because |', '| --- | --- | --- |'];
  for (const [work, before, why] of rows.values()) lines.push(`| ${work} | ${before} | ${why} |`);
  return lines.join('\n');
}
