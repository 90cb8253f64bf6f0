import { describe, expect, it } from 'vitest';
import { type AwaitedCommand, type RecordedRun, type ScenarioFigures, WORTH_IT, awaitedCommands, decide, eventCompletion, measure, pollingDelaySeconds, worstCaseSeconds } from '../../bench/command-completion.js';
import type { Dag } from '../../sim/dag.js';

const COMMAND = 'c0ffee00-0000-4000-8000-000000000001';
const OTHER = 'c0ffee00-0000-4000-8000-000000000002';
const awaitTask = (commandId: string, elapsedMs: number) => ({ functionName: 'awaitCommand', input: { command: { commandId, step: 'join-control-plane', sentAt: 0 } }, elapsedMs });
const look = (commandId: string, at: number, by = 'awaitCommand') => ({ operation: 'ListCommandInvocations', input: { CommandId: commandId }, at, by });

/** A join sent at 0 that ends at 10 s on two instances; looked at 8.5 s, 9.62 s and 10.62 s; the last look read and recorded for 360 ms. */
function recordedJoin(): RecordedRun {
  return {
    invocations: [
      { commandId: COMMAND, startedAt: 0, finishesAt: 9_400 },
      { commandId: COMMAND, startedAt: 0, finishesAt: 10_000 },
      { commandId: OTHER, startedAt: 0, finishesAt: 3_000 },
    ],
    calls: [
      look(COMMAND, 8_500),
      look(COMMAND, 9_620),
      // Another function's look at the same command, and a look at another command: neither is the loop's.
      look(COMMAND, 10_100, 'reconcile'),
      look(OTHER, 10_200),
      look(COMMAND, 10_620),
      { operation: 'CreateTags', input: {}, at: 10_860, by: 'awaitCommand' },
    ],
    tasks: [awaitTask(COMMAND, 120), awaitTask(COMMAND, 120), awaitTask(COMMAND, 360), awaitTask(OTHER, 120)],
  };
}

const join = (): AwaitedCommand => awaitedCommands(recordedJoin()).find((command) => command.commandId === COMMAND)!;

describe('command completion', () => {
  describe('awaitedCommands', () => {
    it('reads each polled command with its last invocation\'s end and only its own poll loop\'s looks', () => {
      // Act
      const command = join();

      // Assess
      expect(command.endedAt).toBe(10_000);
      expect(command.polls).toEqual([8_500, 9_620, 10_620]);
      expect(command.pollInvocationMs).toEqual([120, 120, 360]);
      expect(command.step).toBe('join-control-plane');
    });
  });

  describe('pollingDelaySeconds', () => {
    it('runs from the command\'s end to the end of the invocation whose look saw it ended', () => {
      // The look answered at 10.62 s started at 10.5 s and its invocation took 360 ms: done at 10.86 s, 0.86 s after the end.
      expect(pollingDelaySeconds(join())).toBeCloseTo(0.86, 6);
    });

    it('refuses a command no look saw ended', () => {
      const command: AwaitedCommand = { ...join(), polls: [8_500, 9_620] };
      expect(() => pollingDelaySeconds(command)).toThrow(/no look saw its end/);
    });
  });

  describe('eventCompletion', () => {
    it('pays the delivery, the token read, the poll\'s own work and SendTaskSuccess when the event comes', () => {
      // Act: delivered 1.5 s after the end.
      const completion = eventCompletion(join(), [1.5]);

      // Assess: 1.5 + 0.12 (GetItem) + 0.36 (reading and recording) + 0.12 (SendTaskSuccess).
      expect(completion.delaySeconds).toBeCloseTo(2.1, 6);
      expect(completion.bySafetyNet).toBe(false);
      expect(completion.waits).toBe(1);
      expect(completion.eventsHandled).toBe(1);
    });

    it('falls back on the safety net\'s next look when the event is lost or later than it', () => {
      // The Task waits from the send in 15 s slices: the end at 10 s is looked at when the first one times out.
      const lost = eventCompletion(join(), []);
      const late = eventCompletion(join(), [100, 112]);

      // 5 s to the timeout + PutItem of a new token + the look and its work.
      expect(lost.delaySeconds).toBeCloseTo(5 + 0.12 + 0.36, 6);
      expect(lost.bySafetyNet).toBe(true);
      expect(lost.waits).toBe(2);
      expect(late).toMatchObject({ delaySeconds: lost.delaySeconds, bySafetyNet: true, eventsHandled: 2 });
    });

    it('states the worst case both ways: a look just missed, or every event lost', () => {
      const worst = worstCaseSeconds(join());
      // Ended 10 s after the send, long before the join's usual 65 s: polling looks every second.
      expect(worst.polling).toBeCloseTo(1 + 0.36, 6);
      expect(worst.events).toBeCloseTo(15 + 0.12 + 0.36, 6);
    });
  });

  describe('measure', () => {
    it('swaps the delay of each critical-path command and prices both ways from the same run', () => {
      // Prepare: the join is the critical path's only node; the run took 100 s.
      const recorded = recordedJoin();
      const dag: Dag = { name: 'one join', origin: 0, nodes: [{ id: 'join', after: {}, span: { start: 0, end: 10_000 } }] };
      const events = Array.from({ length: 12 }, () => ({ type: 'StateEntered' }));
      const run = { events: events as never, tasks: recorded.tasks.map((task) => ({ state: 'Check on the join', ...task })) };

      // Act
      const figures = measure('one join', 100, { invocations: recorded.invocations as never, calls: recorded.calls.map((call) => ({ service: 'ssm' as const, ...call })) }, [run], dag, 0);

      // Assess
      expect(figures.criticalPath).toHaveLength(1);
      expect(figures.pollingDelaySeconds).toBeCloseTo(0.86, 6);
      expect(figures.eventsSeconds - figures.pollingSeconds).toBeCloseTo(figures.eventDelaySeconds - figures.pollingDelaySeconds, 6);
      // 4 looks (3 transitions each) give way to one wait per command: 12 - 12 + 2.
      expect(figures.polling.transitions).toBe(12);
      expect(figures.events.transitions).toBe(2);
    });
  });

  describe('decide', () => {
    const figure = (scenario: string, pollingSeconds: number, eventsSeconds: number) => ({ scenario, pollingSeconds, eventsSeconds }) as ScenarioFigures;

    it('keeps polling while events gain no more than the threshold anywhere', () => {
      const decision = decide([figure('heal', 100, 100 * (1 - WORTH_IT)), figure('bootstrap', 300, 310)]);
      expect(decision).toEqual({ keep: 'polling', missedTargets: [] });
    });

    it('misses a target, naming the scenario, when events would beat polling by more than the threshold', () => {
      const decision = decide([figure('heal', 100, 97), figure('bootstrap', 300, 310)]);
      expect(decision.keep).toBe('events');
      expect(decision.missedTargets).toHaveLength(1);
      expect(decision.missedTargets[0]).toMatch(/^heal: events would take 97\.0 s against polling's 100\.0 s/);
    });
  });
});
