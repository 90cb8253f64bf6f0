import { describe, expect, it } from 'vitest';
import type { Dag } from '../../sim/dag.js';
import { dagTable } from '../../sim/dag-table.js';
import type { SimulatedFleet } from '../../sim/fleet.js';

const fleetOf = (roles: Record<string, string>) => ({ instances: new Map(Object.entries(roles).map(([id, role]) => [id, { tags: { 'kubeha:role': role } }])) }) as unknown as SimulatedFleet;
const span = (start: number, end: number) => ({ start: start * 1000, end: end * 1000 });

describe('dagTable', () => {
  it('names instances by role, shows each kind of edge once and marks the critical path in bold', () => {
    // Prepare: two workers join in parallel after init; two masters join one after the other.
    const fleet = fleetOf({ 'i-0a': 'master', 'i-0b': 'master', 'i-0c': 'worker', 'i-0d': 'worker' });
    const dag: Dag = {
      name: 'bootstrap',
      origin: 0,
      nodes: [
        { id: 'prerequisites i-0a', after: {}, span: span(0, 10) },
        { id: 'prerequisites i-0c', after: {}, span: span(0, 9) },
        { id: 'kubeadm init', after: { 'prerequisites i-0a': 'kubeadm must be installed' }, span: span(10, 20) },
        { id: 'certificate upload for i-0a', after: { 'kubeadm init': 'the certificates exist once init has run' }, span: span(20, 21) },
        { id: 'join i-0a', after: { 'certificate upload for i-0a': 'the join downloads the certificates' }, span: span(21, 30) },
        { id: 'certificate upload for i-0b', after: { 'kubeadm init': 'the certificates exist once init has run', 'join i-0a': 'one upload at a time' }, span: span(30, 31) },
        { id: 'join i-0b', after: { 'certificate upload for i-0b': 'the join downloads the certificates' }, span: span(31, 40) },
        { id: 'join i-0c', after: { 'kubeadm init': 'the cluster must exist', 'prerequisites i-0c': 'kubeadm must be installed' }, span: span(20, 25) },
        { id: 'join i-0d', after: { 'kubeadm init': 'the cluster must exist' }, span: span(20, 26) },
      ],
    };

    // Act
    const table = dagTable(dag, fleet).split('\n');

    // Assess
    expect(table).toContain('| **prerequisites (each node)** | (nothing) | starts at once |');
    expect(table).toContain('| **join a further master** | certificate upload for a further master | the join downloads the certificates |');
    expect(table).toContain('| **certificate upload for a further master** | join a further master (the previous one) | one upload at a time |');
    expect(table).toContain('| join a worker | kubeadm init | the cluster must exist |');
    expect(table.filter((row) => row.startsWith('| join a worker | kubeadm init |'))).toHaveLength(1);
    expect(table.join('\n')).not.toMatch(/i-0[a-d]/);
  });
});
