import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { handlers } from '../../functions/registry.js';
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
