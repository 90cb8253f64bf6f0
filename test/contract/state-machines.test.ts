import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { handlers } from '../../functions/registry.js';
import { LOCK_LEASE_MS, LOCK_PATIENCE_MS } from '../../functions/core/cluster-lock.js';
import { forEachState, loadDefinition } from '../../sim/state-machine.js';

const require = createRequire(import.meta.url);
const validator = require('asl-validator') as (definition: unknown) => { isValid: boolean; errors: unknown[] };
const MACHINES = readdirSync(new URL('../../state-machines/', import.meta.url)).filter((file) => file.endsWith('.asl.yaml')).map((file) => file.replace('.asl.yaml', ''));
const serverless = parse(readFileSync(new URL('../../serverless.yml', import.meta.url), 'utf8')) as { functions: Record<string, unknown> };
const ERROR_NAMES = [...readFileSync(new URL('../../functions/core/errors.ts', import.meta.url), 'utf8').matchAll(/override readonly name = '(\w+Error)'/g)].map((match) => match[1]);
const STATES_ERRORS = /^(States\.|Lambda\.|Sandbox\.Timedout$|Runtime\.(OutOfMemory|ExitError)$)/;
const TASK_RETRY = parse(readFileSync(new URL('../../state-machines/task-retry.yaml', import.meta.url), 'utf8')) as unknown[];

describe.each(MACHINES)('state machine %s', (name) => {
  const { definition, taskFunctions } = loadDefinition(name);

  it('passes asl-validator', () => {
    const result = validator(structuredClone(definition));
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it('uses JSONPath only, since JSONata runs wrongly under the local runner', () => {
    expect(JSON.stringify(definition)).not.toContain('JSONata');
  });

  it('binds every Task to a function that serverless.yml deploys and the registry exports', () => {
    for (const functionName of taskFunctions.values()) {
      expect(Object.keys(serverless.functions)).toContain(functionName);
      expect(Object.keys(handlers)).toContain(functionName);
    }
  });

  it('gives every Task an explicit, commented Retry, and a Catch unless a Map or Parallel catches for it', () => {
    const insideMaps = new Set<string>();
    forEachState(definition.States, (_, state) => {
      const nested = [state.ItemProcessor?.States, ...(state.Branches ?? []).map((branch) => branch.States)];
      for (const states of nested) for (const inner of Object.keys(states ?? {})) insideMaps.add(inner);
      if (state.Type === 'Parallel' || state.Type === 'Map') expect(state.Catch ?? insideMaps.has(_), `${_} neither catches nor sits inside a state that does`).toBeTruthy();
    });
    forEachState(definition.States, (stateName, state) => {
      if (state.Type !== 'Task') return;
      const retry = state.Retry as { Comment?: string; ErrorEquals: string[] }[] | undefined;
      expect(retry?.length, `${stateName} has no Retry`).toBeGreaterThan(0);
      for (const retrier of retry ?? []) expect(retrier.Comment, `${stateName} has a Retry without a Comment`).toBeTruthy();
      if (!insideMaps.has(stateName)) expect(state.Catch, `${stateName} has no Catch`).toBeDefined();
    });
  });

  it('retries every Lambda Task with the one shared policy: transient Lambda faults, timeouts and out-of-memory included', () => {
    forEachState(definition.States, (stateName, state) => {
      if (state.Type !== 'Task') return;
      const retry = (state.Retry as unknown[] | undefined) ?? [];
      expect(retry.slice(-TASK_RETRY.length), `${stateName} does not end its Retry with state-machines/task-retry.yaml`).toEqual(TASK_RETRY);
    });
  });

  it('retries and catches only errors that exist: kubeha typed errors, States.* or Lambda.*', () => {
    forEachState(definition.States, (stateName, state) => {
      for (const field of ['Retry', 'Catch'] as const) {
        for (const entry of (state[field] as { ErrorEquals: string[] }[] | undefined) ?? []) {
          for (const error of entry.ErrorEquals) {
            expect(STATES_ERRORS.test(error) || ERROR_NAMES.includes(error), `${stateName} ${field} names unknown error ${error}`).toBe(true);
          }
        }
      }
    });
  });

  it('names states as sentences or questions, unique across the whole machine', () => {
    const names: string[] = [];
    forEachState(definition.States, (stateName) => names.push(stateName));
    expect(new Set(names).size).toBe(names.length);
    for (const stateName of names) expect(stateName).toMatch(/^[A-Z][a-z]+( [\w'-]+)+[?]?$/);
  });

  it('never uses "IsPresent: false", which aws-local-stepfunctions 3.0 evaluates as never true (use Not with IsPresent: true)', () => {
    expect(JSON.stringify(definition)).not.toContain('"IsPresent":false');
  });

  it('reaches every state that reads $.failure only along paths that set it (the service fails uncatchably on a missing path)', () => {
    // Edges into each top-level state, and whether each edge carries $.failure.
    type Edge = { from: string; setsFailure: boolean };
    const incoming = new Map<string, Edge[]>([[definition.StartAt, [{ from: '(input)', setsFailure: false }]]]);
    const add = (to: unknown, edge: Edge) => {
      if (typeof to === 'string') incoming.set(to, [...(incoming.get(to) ?? []), edge]);
    };
    for (const [stateName, state] of Object.entries(definition.States)) {
      const setsOnExit = state.ResultPath === '$.failure';
      add(state.Next, { from: stateName, setsFailure: setsOnExit });
      add(state.Default, { from: stateName, setsFailure: setsOnExit });
      for (const choice of (state.Choices as { Next: string }[] | undefined) ?? []) add(choice.Next, { from: stateName, setsFailure: setsOnExit });
      for (const catcher of (state.Catch as { Next: string; ResultPath?: string }[] | undefined) ?? []) add(catcher.Next, { from: stateName, setsFailure: catcher.ResultPath === '$.failure' });
    }
    // Greatest fixpoint: a state has $.failure on entry if every edge into it sets it or leaves a state that had it.
    const withFailure = new Set(Object.keys(definition.States));
    for (let changed = true; changed; ) {
      changed = false;
      for (const stateName of withFailure) {
        const edges = incoming.get(stateName) ?? [{ from: '(unreachable)', setsFailure: false }];
        if (!edges.every((edge) => edge.setsFailure || withFailure.has(edge.from))) {
          withFailure.delete(stateName);
          changed = true;
        }
      }
    }
    for (const [stateName, state] of Object.entries(definition.States)) {
      const { Next: _next, Catch: _catch, Retry: _retry, ResultPath: _resultPath, ...reading } = state;
      if (JSON.stringify(reading).includes('$.failure.') || JSON.stringify(reading).includes('"$.failure"')) {
        expect(withFailure.has(stateName), `${stateName} reads $.failure but can be reached without it`).toBe(true);
      }
    }
  });

  it('polls SSM with Wait states rather than sleeping inside a Lambda', () => {
    const waits: string[] = [];
    forEachState(definition.States, (stateName, state) => {
      if (state.Type === 'Wait') waits.push(stateName);
    });
    expect(waits.length).toBeGreaterThan(0);
  });
});

describe.each(['heal-master', 'heal-worker', 'heal-load-balancer'])('the wait for EC2 capacity in %s', (name) => {
  const { definition } = loadDefinition(name);
  const raw = parse(readFileSync(new URL(`../../state-machines/${name}.asl.yaml`, import.meta.url), 'utf8')) as { TimeoutSeconds: number };
  const caps: number[] = [];
  const waits: number[] = [];
  const told: unknown[] = [];
  const catchers: string[] = [];
  forEachState(definition.States, (stateName, state) => {
    for (const choice of (state.Choices as { Variable?: string; NumericGreaterThanEquals?: number }[] | undefined) ?? []) {
      if (choice.Variable === '$.capacity.rounds' && choice.NumericGreaterThanEquals !== undefined) caps.push(choice.NumericGreaterThanEquals);
    }
    if (state.Type === 'Wait' && /^Wait for EC2 capacity/.test(stateName)) waits.push(state.Seconds as number);
    const parameters = state.Parameters as { waitingForCapacity?: unknown } | undefined;
    if (parameters?.waitingForCapacity) told.push(parameters.waitingForCapacity);
    for (const catcher of (state.Catch as { ErrorEquals: string[] }[] | undefined) ?? []) if (catcher.ErrorEquals.includes('InsufficientCapacityError')) catchers.push(stateName);
  });

  it('catches a capacity refusal of both the start of a stopped node and the launch of a replacement', () => {
    expect(catchers.sort()).toEqual(expect.arrayContaining([expect.stringMatching(/^Start the stopped/), expect.stringMatching(/^Launch a replacement/)]));
    expect(catchers).toHaveLength(2);
  });

  it('tells the human the cap and the interval the machine really waits with', () => {
    expect(told.length).toBe(2);
    // The human is told after the first wait, when EC2 refused again: the rounds left are one fewer than the cap.
    for (const message of told) expect(message).toEqual({ retryEverySeconds: waits[0], rounds: caps[0]! - 1 });
    expect(new Set(caps).size).toBe(1);
    expect(new Set(waits).size).toBe(1);
  });

  it('waits at most half the time the execution has once it holds the lock, so the heal after the wait has the rest', () => {
    // Prepare: heal-master may first wait for the lock (its patience) and must end within the lock's lease.
    const patience = name === 'heal-master' ? LOCK_PATIENCE_MS / 1000 : 0;
    const waited = caps[0]! * waits[0]!;

    // Assess
    expect(waited).toBeGreaterThan(0);
    expect(waited).toBeLessThanOrEqual((raw.TimeoutSeconds - patience) / 2);
    if (name === 'heal-master') expect(waited).toBeLessThanOrEqual(LOCK_LEASE_MS / 1000 / 2);
  });
});
