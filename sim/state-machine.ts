// Runs kubeha's real ASL files locally under aws-local-stepfunctions, with every Task bound to the
// real handler of the function its Resource names, Waits and retry pauses collapsed to zero
// (modelled time lives in the fleet), and every state's input and output recorded.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { StateMachine } from 'aws-local-stepfunctions';
import { parse } from 'yaml';
import { handlers } from '../functions/registry.js';

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
  const definition = structuredClone(raw);
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
  readonly error: { name: string; cause: string } | undefined;
  readonly events: EventLog[];
  /** Every Task invocation in order: state, function, input and output (or error). */
  readonly tasks: { state: string; functionName: string; input: unknown; output?: unknown; error?: string }[];
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
  const { definition, taskFunctions } = loadDefinition(name);
  const tasks: LocalRun['tasks'] = [];
  const taskResourceLocalHandlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  const waitTimeOverrides: Record<string, number> = {};
  const retryIntervalOverrides: Record<string, number> = {};

  for (const [stateName, functionName] of taskFunctions) {
    const handler = handlers[functionName as keyof typeof handlers];
    if (!handler) throw new Error(`state "${stateName}" calls ${functionName}, which functions/registry.ts does not export`);
    taskResourceLocalHandlers[stateName] = async (taskInput: unknown) => {
      const record: LocalRun['tasks'][number] = { state: stateName, functionName, input: taskInput };
      tasks.push(record);
      requestSequence += 1;
      try {
        const output = await (handler as (event: unknown, context: unknown) => Promise<unknown>)(taskInput, { awsRequestId: `local-${requestSequence}` });
        record.output = output;
        return output;
      } catch (error: unknown) {
        record.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        throw error;
      }
    };
  }
  forEachState(definition.States, (stateName, state) => {
    if (state.Type === 'Wait' && options.onWait) {
      const seconds = Number(state.Seconds ?? 0);
      const onWait = options.onWait;
      for (const key of Object.keys(state)) if (key !== 'Next' && key !== 'End' && key !== 'Comment') delete state[key];
      Object.assign(state, { Type: 'Task', Resource: fakeFunctionArn('modelled-wait') });
      taskResourceLocalHandlers[stateName] = async (waitInput: unknown) => {
        await onWait(seconds);
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
  const collecting = (async () => {
    for await (const event of execution.eventLogs) {
      events.push(event);
      options.onEvent?.(event);
    }
  })();
  let output: unknown;
  let error: LocalRun['error'];
  try {
    output = await execution.result;
  } catch (failure: unknown) {
    const asRecord = failure as { name?: string; message?: string; cause?: unknown };
    error = { name: asRecord.name ?? 'Error', cause: asRecord.message ?? String(failure) };
  }
  await collecting;
  // Report the failure the way Step Functions does: the Fail state's Error and Cause.
  const failed = events.find((event) => event.type === 'ExecutionFailed') as { Error?: string; Cause?: string } | undefined;
  if (error && failed?.Error) error = { name: failed.Error, cause: failed.Cause ?? '' };
  return { output, error, events, tasks };
}
