import { describe, expect, it } from 'vitest';
import { TYPICAL_READY_SECONDS, TYPICAL_STEP_SECONDS, firstBootPollSeconds, firstPollSeconds } from '../../functions/core/command-timing.js';
import { DOCUMENTS } from '../../functions/core/commands.js';
import { type Dag, checkOrder, criticalPath } from '../../sim/dag.js';
import { BOOT_SECONDS, SimulatedFleet } from '../../sim/fleet.js';
import { DOCUMENT_SECONDS } from '../../sim/latency.js';

const at = (start: number, end: number) => ({ start: start * 1000, end: end * 1000 });

function diamond(spans: Record<string, { start: number; end: number }>): Dag {
  return {
    name: 'diamond',
    origin: 0,
    nodes: [
      { id: 'a', after: {}, span: spans.a! },
      { id: 'b', after: { a: 'b needs a' }, span: spans.b! },
      { id: 'c', after: { a: 'c needs a' }, span: spans.c! },
      { id: 'skipped', after: { c: 'skipped needs c' }, optional: true },
      { id: 'd', after: { b: 'd needs b', skipped: 'd needs what skipped needed' }, span: spans.d! },
    ],
  };
}

describe('criticalPath', () => {
  it('is the longest path with each node lasting what it lasted, whenever it ran', () => {
    // Prepare: a 10 s, b 5 s, c 20 s, d 1 s; ran late and in the wrong order, which the bound ignores.
    const dag = diamond({ a: at(3, 13), b: at(50, 55), c: at(13, 33), d: at(60, 61) });

    // Act
    const bound = criticalPath(dag);

    // Assess: a → c → (skipped, carried over) → d = 10 + 20 + 1.
    expect(bound.seconds).toBe(31);
    expect(bound.path).toEqual(['a', 'c', 'd']);
  });

  it('refuses a DAG whose run shows no trace of a node that is not optional', () => {
    const dag: Dag = { name: 'broken', origin: 0, nodes: [{ id: 'a', after: {} }] };
    expect(() => criticalPath(dag)).toThrow(/no trace of a/);
  });
});

describe('checkOrder', () => {
  it('accepts a run that starts every node after all it depends on ended', () => {
    expect(checkOrder(diamond({ a: at(0, 10), b: at(10, 15), c: at(11, 31), d: at(31, 32) }))).toEqual([]);
  });

  it('names every edge a run broke, through skipped nodes too, with the reason and by how much', () => {
    // Prepare: b starts 2 s before a ends; d starts before c (which d needs through the skipped node) ends.
    const dag = diamond({ a: at(0, 10), b: at(8, 12), c: at(10, 30), d: at(20, 21) });

    // Act
    const violations = checkOrder(dag);

    // Assess
    expect(violations).toEqual([
      { before: 'a', after: 'b', why: 'b needs a', bySeconds: 2 },
      { before: 'c', after: 'd', why: 'through a skipped step', bySeconds: 10 },
    ]);
  });
});

describe('the polling schedule against the latency model', () => {
  it('expects each document to take what the simulator models, and first polls no later than its fastest run', () => {
    for (const [step, document] of Object.entries(DOCUMENTS)) {
      expect(TYPICAL_STEP_SECONDS[step as keyof typeof DOCUMENTS], step).toBe(DOCUMENT_SECONDS[document]);
      // sim/latency.ts jitters ±15 %: a first poll after 0.85 × typical never waits past a finished command.
      expect(firstPollSeconds(step as keyof typeof DOCUMENTS), step).toBeLessThanOrEqual(DOCUMENT_SECONDS[document]! * 0.85);
    }
  });

  it('expects an instance to come up when the simulator brings it up, and first looks no later than that', () => {
    // Prepare: a started instance's agent is registered already; a launched one registers after its boot.
    const fleet = SimulatedFleet.standard({ seed: 1 });

    // Assess
    expect(TYPICAL_READY_SECONDS.start).toBe(BOOT_SECONDS);
    expect(TYPICAL_READY_SECONDS.launch).toBe(BOOT_SECONDS + fleet.agentRegistrationSeconds);
    expect(firstBootPollSeconds('start')).toBeLessThan(BOOT_SECONDS);
    expect(firstBootPollSeconds('launch')).toBeLessThan(BOOT_SECONDS + fleet.agentRegistrationSeconds);
  });
});
