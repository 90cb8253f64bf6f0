// Runs kubeha's real ASL files locally under aws-local-stepfunctions, with every Task bound to the
// real handler of the function its Resource names, Waits and retry pauses collapsed to zero
// (modelled time lives in the fleet), and every state's input and output recorded.
//
// aws-local-stepfunctions enforces none of the service's limits and reports errors more kindly than
// Lambda does, so this runner adds what the service does (shared/reality.md, "Step Functions, Lambda"):
// - a state's input or output over 256 KB fails the execution with States.DataLimitExceeded, which no
//   Catch can catch;
// - a Standard execution's history holds 25,000 events, counted as the service writes them;
// - a function error reaches Retry/Catch as the service shapes it: Error = the thrown error's name, Cause
//   = a JSON string {errorType, errorMessage, trace}; a function that runs past its timeout (modelled
//   time, from serverless.yml) fails with Sandbox.Timedout, and any call it would make after the timeout
//   never reaches a service (sim/handler-time.ts, stopIfTimedOut): Lambda stopped it there.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { StateMachine } from 'aws-local-stepfunctions';
import { parse } from 'yaml';
import { handlers } from '../functions/registry.js';
import { readableCause } from '../functions/core/errors.js';
import { asFunction, inInvocation } from './handler-time.js';

export const SERVICE_LIMITS = { payloadBytes: 256 * 1024, historyEvents: 25_000 } as const;

/** History events the service writes per state (GetExecutionHistory event types). */
const HISTORY_EVENTS: Record<string, number> = { Task: 5, Map: 4, Parallel: 4, Choice: 2, Pass: 2, Wait: 2, Succeed: 2, Fail: 1 };

function functionTimeouts(): Map<string, number> {
  const config = parse(readFileSync(`${ROOT}serverless.yml`, 'utf8').replace(/\$\{[^}]*\}/g, 'x')) as {
    provider: { timeout?: number };
    functions: Record<string, { timeout?: number }>;
  };
  return new Map(Object.entries(config.functions).map(([name, fn]) => [name, fn.timeout ?? config.provider.timeout ?? 6]));
}
let timeouts: Map<string, number> | undefined;

/** An error no Retry or Catch may handle (aws-local-stepfunctions reads these two flags). */
class UncatchableError extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** A function error as Step Functions passes it on: the name, and a JSON Cause. */
function lambdaError(name: string, message: string, stack: string | undefined): Error {
  const error = new Error(JSON.stringify({ errorType: name, errorMessage: message, trace: (stack ?? '').split('\n').slice(1, 6).map((line) => line.trim()) }));
  error.name = name;
  return error;
}

/**
 * A Wait's SecondsPath read as the service reads it: the path must resolve to a non-negative integer,
 * or the execution fails with States.Runtime, which no Catch handles (Wait state reference).
 */
function waitSeconds(stateName: string, path: string, input: unknown): number {
  const steps = /^\$((\.[A-Za-z_][\w-]*|\[\d+\])*)$/.exec(path);
  if (!steps) throw new UncatchableError('States.Runtime', `${stateName}: SecondsPath ${path} is not a plain reference path`);
  let value: unknown = input;
  for (const [, key, index] of (steps[1] ?? '').matchAll(/\.([A-Za-z_][\w-]*)|\[(\d+)\]/g)) {
    value = value === null || typeof value !== 'object' ? undefined : (value as Record<string, unknown>)[key ?? Number(index)];
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new UncatchableError('States.Runtime', `${stateName}: SecondsPath ${path} does not resolve to a non-negative integer (${JSON.stringify(value)})`);
  }
  return value;
}

const sizeOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');

export type EventLog = Awaited<ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never>;

const ROOT = fileURLToPath(new URL('..', import.meta.url));

type Json = Record<string, unknown>;
interface StateDefinition extends Json {
  Type: string;
  Resource?: unknown;
  ItemProcessor?: { States: Record<string, StateDefinition> };
  Iterator?: { States: Record<string, StateDefinition> };
  Branches?: { States: Record<string, StateDefinition> }[];
}
export interface Definition extends Json {
  StartAt: string;
  States: Record<string, StateDefinition>;
}

export function fakeFunctionArn(functionName: string): string {
  return `arn:aws:lambda:eu-west-1:123456789012:function:kubeha-local-${functionName}`;
}

/** Reads an ASL file and resolves `Fn::GetAtt: [fn, Arn]` resources to ARNs, remembering which state calls which function. */
export function loadDefinition(name: string): { definition: Definition; taskFunctions: Map<string, string> } {
  const raw = parse(readFileSync(`${ROOT}state-machines/${name}.asl.yaml`, 'utf8'), { merge: true }) as Definition;
  return bindDefinition(structuredClone(raw));
}

function bindDefinition(definition: Definition): { definition: Definition; taskFunctions: Map<string, string> } {
  const taskFunctions = new Map<string, string>();
  forEachState(definition.States, (stateName, state) => {
    if (state.Type !== 'Task') return;
    const functionName = functionOf(state.Resource);
    if (!functionName) return;
    if (taskFunctions.has(stateName)) throw new Error(`state name "${stateName}" is used twice; local bindings need unique names`);
    taskFunctions.set(stateName, functionName);
    state.Resource = fakeFunctionArn(functionName);
  });
  return { definition, taskFunctions };
}

function functionOf(resource: unknown): string | undefined {
  if (typeof resource === 'object' && resource !== null && 'Fn::GetAtt' in resource) {
    const [functionName] = (resource as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
    return functionName;
  }
  return undefined;
}

export function forEachState(states: Record<string, StateDefinition>, visit: (name: string, state: StateDefinition) => void): void {
  for (const [name, state] of Object.entries(states)) {
    visit(name, state);
    const nested = state.ItemProcessor ?? state.Iterator;
    if (nested) forEachState(nested.States, visit);
    for (const branch of state.Branches ?? []) forEachState(branch.States, visit);
  }
}

export interface LocalRun {
  readonly output: unknown;
  /** As Step Functions reports it (a function error's cause is JSON), plus the message a human reads. */
  readonly error: { name: string; cause: string; message: string } | undefined;
  readonly events: EventLog[];
  /** Every Task invocation in order: state, function, input and output (or error). */
  readonly tasks: { state: string; functionName: string; input: unknown; output?: unknown; error?: string; elapsedMs?: number }[];
  /** History events as the service would count them, and the largest state input or output in bytes. */
  readonly historyEvents: number;
  readonly peakPayloadBytes: number;
}

export interface RunOptions {
  readonly onEvent?: (event: EventLog) => void;
  readonly executionName?: string;
  /** The execution's start time as the context object reports it (the fleet's modelled clock, usually). */
  readonly startTime?: number;
  /**
   * Called with a Wait state's seconds instead of waiting: the simulator advances its modelled clock.
   * Wait states then run as pass-through Tasks, which is what makes modelled time deterministic.
   */
  readonly onWait?: (seconds: number) => void | Promise<void>;
  /** For the runner's own tests: a definition instead of a file, and functions beside the registry's. */
  readonly definition?: Definition;
  readonly handlers?: Record<string, (event: unknown, context: unknown) => Promise<unknown>>;
}

let requestSequence = 0;

/**
 * aws-local-stepfunctions stamps $$.Execution.StartTime with `new Date()` synchronously inside run().
 * The simulator's time is modelled, so for that one synchronous call `new Date()` reads the model's clock.
 */
function atClock<T>(time: number | undefined, start: () => T): T {
  if (time === undefined) return start();
  const RealDate = globalThis.Date;
  class ModelledDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(time as number);
      else super(...(args as [string]));
    }
  }
  globalThis.Date = ModelledDate as DateConstructor;
  try {
    return start();
  } finally {
    globalThis.Date = RealDate;
  }
}

export async function runStateMachine(name: string, input: unknown, options: RunOptions = {}): Promise<LocalRun> {
  const { definition, taskFunctions } = options.definition ? bindDefinition(structuredClone(options.definition)) : loadDefinition(name);
  const tasks: LocalRun['tasks'] = [];
  const taskResourceLocalHandlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  const waitTimeOverrides: Record<string, number> = {};
  const retryIntervalOverrides: Record<string, number> = {};

  for (const [stateName, functionName] of taskFunctions) {
    const handler = options.handlers?.[functionName] ?? handlers[functionName as keyof typeof handlers];
    if (!handler) throw new Error(`state "${stateName}" calls ${functionName}, which functions/registry.ts does not export`);
    taskResourceLocalHandlers[stateName] = async (taskInput: unknown) => {
      const record: LocalRun['tasks'][number] = { state: stateName, functionName, input: taskInput };
      tasks.push(record);
      requestSequence += 1;
      const timeout = (timeouts ??= functionTimeouts()).get(functionName) ?? 6;
      const invocation = inInvocation(
        () => asFunction(functionName, () => (handler as (event: unknown, context: unknown) => Promise<unknown>)(taskInput, { awsRequestId: `local-${requestSequence}` })),
        timeout * 1000,
      );
      let output: unknown;
      try {
        output = await invocation.result;
      } catch (error: unknown) {
        record.elapsedMs = invocation.elapsedMs();
        // Stopped at its timeout, the function reports nothing of its own: Step Functions sees Sandbox.Timedout.
        if (invocation.elapsedMs() > timeout * 1000) {
          record.error = `Sandbox.Timedout: ran past ${timeout} s`;
          throw lambdaError('Sandbox.Timedout', `Task timed out after ${timeout.toFixed(2)} seconds`, undefined);
        }
        record.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        throw error instanceof Error ? lambdaError(error.name, error.message, error.stack) : lambdaError('Error', String(error), undefined);
      }
      record.elapsedMs = invocation.elapsedMs();
      if (invocation.elapsedMs() > timeout * 1000) {
        record.error = `Sandbox.Timedout: ran past ${timeout} s`;
        throw lambdaError('Sandbox.Timedout', `Task timed out after ${timeout.toFixed(2)} seconds`, undefined);
      }
      if (sizeOf(output) > SERVICE_LIMITS.payloadBytes) {
        record.error = 'States.DataLimitExceeded';
        throw new UncatchableError('States.DataLimitExceeded', `The state/task '${stateName}' returned a result with a size exceeding the maximum number of bytes service limit.`);
      }
      record.output = output;
      return output;
    };
  }
  forEachState(definition.States, (stateName, state) => {
    if (state.Type === 'Wait' && options.onWait) {
      const fixed = state.Seconds;
      const secondsPath = typeof state.SecondsPath === 'string' ? state.SecondsPath : undefined;
      const onWait = options.onWait;
      for (const key of Object.keys(state)) if (key !== 'Next' && key !== 'End' && key !== 'Comment') delete state[key];
      Object.assign(state, { Type: 'Task', Resource: fakeFunctionArn('modelled-wait') });
      taskResourceLocalHandlers[stateName] = async (waitInput: unknown) => {
        await onWait(secondsPath ? waitSeconds(stateName, secondsPath, waitInput) : Number(fixed ?? 0));
        return waitInput;
      };
    } else if (state.Type === 'Wait') {
      waitTimeOverrides[stateName] = 0;
    }
    if (state.Type === 'Task' || state.Type === 'Map' || state.Type === 'Parallel') retryIntervalOverrides[stateName] = 0;
  });

  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: true, checkPaths: true } });
  const executionId = `arn:aws:states:eu-west-1:123456789012:execution:kubeha-local-${name}:${options.executionName ?? 'local'}`;
  const execution = atClock(options.startTime, () =>
    machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: taskResourceLocalHandlers as never, waitTimeOverrides, retryIntervalOverrides },
      context: { Execution: { Id: executionId, Name: options.executionName ?? 'local', Input: input } } as never,
    }),
  );
  const events: EventLog[] = [];
  let historyEvents = 2;
  let peakPayloadBytes = sizeOf(input);
  let limitError: { name: string; cause: string } | undefined;
  const stop = (name: string, cause: string) => {
    if (limitError) return;
    limitError = { name, cause };
    execution.abort();
  };
  const collecting = (async () => {
    for await (const event of execution.eventLogs) {
      events.push(event);
      options.onEvent?.(event);
      const stateEvent = event as { type: string; state?: { type?: string; input?: unknown; output?: unknown } };
      if (stateEvent.type === 'StateEntered') historyEvents += HISTORY_EVENTS[stateEvent.state?.type ?? ''] ?? 2;
      if (stateEvent.type === 'StateRetried') historyEvents += 3;
      if (stateEvent.type === 'MapIterationStarted' || stateEvent.type === 'MapIterationSucceeded' || stateEvent.type === 'MapIterationFailed') historyEvents += 1;
      const data = stateEvent.type === 'StateEntered' ? stateEvent.state?.input : stateEvent.type === 'StateExited' ? stateEvent.state?.output : undefined;
      if (data !== undefined) {
        const bytes = sizeOf(data);
        peakPayloadBytes = Math.max(peakPayloadBytes, bytes);
        if (bytes > SERVICE_LIMITS.payloadBytes) stop('States.DataLimitExceeded', `a state's ${stateEvent.type === 'StateEntered' ? 'input' : 'output'} of ${bytes} bytes exceeds the 256 KB limit`);
      }
      if (historyEvents > SERVICE_LIMITS.historyEvents) stop('States.Runtime', `the execution history exceeds ${SERVICE_LIMITS.historyEvents} events`);
    }
  })();
  let output: unknown;
  let error: { name: string; cause: string } | undefined;
  try {
    output = await execution.result;
  } catch (failure: unknown) {
    const asRecord = failure as { name?: string; message?: string; cause?: unknown };
    error = { name: asRecord.name ?? 'Error', cause: asRecord.message ?? String(failure) };
  }
  await collecting;
  // Report the failure the way Step Functions does: the Fail state's Error and Cause.
  const failed = events.find((event) => event.type === 'ExecutionFailed') as { Error?: string; Cause?: unknown } | undefined;
  if (error && failed?.Error) error = { name: failed.Error, cause: typeof failed.Cause === 'string' ? failed.Cause : JSON.stringify(failed.Cause ?? '') };
  if (limitError) error = limitError;
  return {
    output: limitError ? undefined : output,
    error: error ? { ...error, message: readableCause(error.cause) } : undefined,
    events,
    tasks,
    historyEvents,
    peakPayloadBytes,
  };
}
