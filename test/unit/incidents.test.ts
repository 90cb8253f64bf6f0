import { describe, expect, it } from 'vitest';
import { DEFAULT_BUDGET, type Incident, decideIncident, incidentExecutionName } from '../../functions/core/incidents.js';

const NOW = Date.parse('2026-11-24T10:00:00Z');
const MINUTE = 60_000;

function incident(overrides: Partial<Incident> = {}): Incident {
  return {
    instanceId: 'i-0aaaaaaaaaaaaaaa1',
    role: 'master',
    state: 'terminated',
    sequence: 1,
    attempt: 1,
    executionName: 'i-0aaaaaaaaaaaaaaa1-terminated-1-1',
    executionArn: 'arn:aws:states:eu-west-1:1:execution:kubeha-prod-heal-master:i-0aaaaaaaaaaaaaaa1-terminated-1-1',
    startedAt: NOW - 30 * MINUTE,
    trigger: 'event e-1',
    ...overrides,
  };
}

describe('decideIncident', () => {
  it('starts the first incident of an instance', () => {
    expect(decideIncident(undefined, undefined, { state: 'terminated', kind: 'event', observedAt: NOW }, NOW, DEFAULT_BUDGET)).toEqual({ action: 'start', sequence: 1, attempt: 1 });
  });

  it('starts nothing while the healing of the same instance runs, whoever asks', () => {
    for (const kind of ['event', 'reconcile', 'human'] as const) {
      const decision = decideIncident(incident(), { status: 'RUNNING' }, { state: 'terminated', kind, observedAt: NOW }, NOW, DEFAULT_BUDGET);
      expect(decision.action).toBe('skip');
    }
  });

  it('ignores an event older than the healing it asks for: a duplicate, a late or a re-sent one', () => {
    const decision = decideIncident(incident(), { status: 'SUCCEEDED', stopDate: NOW - 5 * MINUTE }, { state: 'terminated', kind: 'event', observedAt: NOW - 31 * MINUTE }, NOW, DEFAULT_BUDGET);
    expect(decision).toMatchObject({ action: 'skip' });
  });

  it('starts a new incident for a failure after the last healing succeeded', () => {
    const decision = decideIncident(incident({ state: 'stopped' }), { status: 'SUCCEEDED', stopDate: NOW - 5 * MINUTE }, { state: 'stopped', kind: 'event', observedAt: NOW }, NOW, DEFAULT_BUDGET);
    expect(decision).toEqual({ action: 'start', sequence: 2, attempt: 1 });
  });

  it('restarts a claimed execution that never started, under the same name', () => {
    expect(decideIncident(incident({ startedAt: NOW - MINUTE }), undefined, { state: 'terminated', kind: 'event', observedAt: NOW }, NOW, DEFAULT_BUDGET)).toEqual({ action: 'resume' });
  });

  it('retries a failed healing from reconcile after the backoff, and doubles the backoff each time', () => {
    const failed = { status: 'FAILED', stopDate: NOW - 20 * MINUTE };
    const tooSoon = decideIncident(incident({ attempt: 2, startedAt: NOW - 9 * MINUTE }), failed, { state: 'terminated', kind: 'reconcile', observedAt: NOW }, NOW, DEFAULT_BUDGET);
    const due = decideIncident(incident({ attempt: 2, startedAt: NOW - 10 * MINUTE }), failed, { state: 'terminated', kind: 'reconcile', observedAt: NOW }, NOW, DEFAULT_BUDGET);
    expect(tooSoon).toMatchObject({ action: 'skip' });
    expect(due).toEqual({ action: 'start', sequence: 1, attempt: 3 });
  });

  it('tells a human once when the budget is spent, then waits for one', () => {
    const failed = { status: 'FAILED', stopDate: NOW - 20 * MINUTE };
    const spent = incident({ attempt: DEFAULT_BUDGET.attempts, startedAt: NOW - 60 * MINUTE });
    expect(decideIncident(spent, failed, { state: 'terminated', kind: 'reconcile', observedAt: NOW }, NOW, DEFAULT_BUDGET)).toEqual({ action: 'notify-exhausted' });
    expect(decideIncident({ ...spent, notifiedAt: NOW - MINUTE }, failed, { state: 'terminated', kind: 'reconcile', observedAt: NOW }, NOW, DEFAULT_BUDGET)).toMatchObject({ action: 'skip' });
    expect(decideIncident({ ...spent, notifiedAt: NOW - MINUTE }, failed, { state: 'terminated', kind: 'human', observedAt: NOW }, NOW, DEFAULT_BUDGET)).toEqual({ action: 'start', sequence: 2, attempt: 1 });
  });

  it('never starts a second replacement of an instance that was replaced', () => {
    const decision = decideIncident(incident(), { status: 'SUCCEEDED', stopDate: NOW - 5 * MINUTE }, { state: 'terminated', kind: 'reconcile', observedAt: NOW }, NOW, DEFAULT_BUDGET, true);
    expect(decision).toMatchObject({ action: 'skip' });
  });

  it('heals an instance terminated after a "terminated" event about it, while it still ran, healed nothing', () => {
    const decision = decideIncident(incident(), { status: 'SUCCEEDED', stopDate: NOW - 5 * MINUTE }, { state: 'terminated', kind: 'event', observedAt: NOW }, NOW, DEFAULT_BUDGET, false);
    expect(decision).toEqual({ action: 'start', sequence: 2, attempt: 1 });
  });

  it('treats a different failure after a failed healing as a new incident', () => {
    const decision = decideIncident(incident({ state: 'stopped' }), { status: 'FAILED' }, { state: 'terminated', kind: 'event', observedAt: NOW }, NOW, DEFAULT_BUDGET);
    expect(decision).toEqual({ action: 'start', sequence: 2, attempt: 1 });
  });
});

describe('incidentExecutionName', () => {
  it('names each attempt of each incident differently, within the 80 characters Step Functions allows', () => {
    const names = new Set([incidentExecutionName('i-0aaaaaaaaaaaaaaa1', 'terminated', 1, 1), incidentExecutionName('i-0aaaaaaaaaaaaaaa1', 'terminated', 1, 2), incidentExecutionName('i-0aaaaaaaaaaaaaaa1', 'terminated', 2, 1)]);
    expect(names.size).toBe(3);
    expect(incidentExecutionName('i-0aaaaaaaaaaaaaaa1', 'x'.repeat(100), 1, 1)).toHaveLength(80);
  });
});
