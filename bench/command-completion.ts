// Command completion: polling or events. Today every SSM command is awaited by a Choice → Wait → Task loop
// (functions/await-command.ts; first look at 0.85× the step's typical run, then every 1-2 s, every 15 s once
// late: functions/core/command-timing.ts). The other way is a callback: SSM sends EventBridge an
// "EC2 Command Status-change Notification" when a command's status changes, and a waiting Task
// (`arn:aws:states:::lambda:invoke.waitForTaskToken`) could be completed by a thin handler calling
// SendTaskSuccess. This table measures both on the same recorded runs as the time table, and keeps the better.
//
// What AWS documents, and what the event path would have to live with:
// - The events (https://docs.aws.amazon.com/systems-manager/latest/userguide/monitoring-systems-manager-event-examples.html,
//   "Run Command events"; https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-ssm.html): source `aws.ssm`,
//   detail-type "EC2 Command Status-change Notification" (one per command: detail `command-id`, `document-name`,
//   `expire-after`, `parameters`, `requested-date-time`, `status`) and "EC2 Command Invocation Status-change
//   Notification" (one per instance: the same with `instance-id`). No `comment`: the command id is the only key
//   to find the waiting Task by.
// - Delivery: SSM's events are "Best effort" (events-ref-ssm.html; "in some rare cases an event might not be
//   delivered", https://docs.aws.amazon.com/eventbridge/latest/ref/event-delivery-level.html; "Events are produced
//   on a best effort basis", https://docs.aws.amazon.com/systems-manager/latest/userguide/reference-eventbridge-events.html).
//   AWS gives no latency figure, only "near real time" (https://aws.amazon.com/eventbridge/faqs/). So events are
//   modelled exactly as the simulator delivers EC2 state changes (sim/latency.ts, eventBridgeDeliveryDelays:
//   0.5-3 s, one in ten 1-3 minutes late, one in seven twice), and a polling safety net stays.
// - The callback (https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token):
//   the Task passes `$$.Task.Token` and waits until SendTaskSuccess/SendTaskFailure with that token, or its
//   TimeoutSeconds / HeartbeatSeconds (States.Timeout). The token is up to 2,048 characters
//   (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html); a second
//   completion, or one after the timeout, fails with TaskTimedOut ("the task associated with the token has
//   already been closed") or InvalidToken, so the handler must treat those as done (idempotent on duplicates).
// - SendCommand's Comment holds at most 100 characters
//   (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html) and already carries the
//   ledger's token (functions/core/command-ledger.ts): a task token cannot travel with the command, so the
//   waiting Task would store it in the state table (functions/adapters/state-table.ts) keyed by command id, one
//   PutItem each time it starts waiting, and the handler reads it back with GetItem.
// - Price: AWS management events reach the default bus and a same-account rule for free
//   (https://aws.amazon.com/eventbridge/pricing/); SendTaskSuccess is an API call, not a transition.
//
// The event path modelled (the best one could build without giving up polling):
//   send → Task "wait for the command" (.waitForTaskToken, TimeoutSeconds = the slow poll interval, 15 s):
//   its Lambda stores the token (PutItem) and looks once (ListCommandInvocations) to close the race with an
//   event that came before the token was stored; on States.Timeout the Catch re-enters the same Task (a new
//   token, a new look): that is the safety net, a look every 15 s. The event's handler: GetItem (token by
//   command id), the same reading and recording the poll does today (awaitStep), SendTaskSuccess.
// Neither way counts Lambda's own start (the simulator models none): a handler called once per command would often
// start cold, which would favour polling further.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { StepName } from '../functions/core/commands.js';
import { SLOW_POLL_SECONDS, nextPollSeconds } from '../functions/core/command-timing.js';
import { criticalPath } from '../sim/dag.js';
import type { Invocation, RecordedCall, SimulatedFleet } from '../sim/fleet.js';
import { API_CALL_SECONDS, eventBridgeDeliveryDelays, seededRandom } from '../sim/latency.js';
import type { LocalRun } from '../sim/state-machine.js';
import { price } from './cost.js';
import { HEAL_SCENARIOS, bootstrapRun, healRun, label } from './scenarios.js';
import { type BenchTable, markdownTable } from './table.js';
import { BOOTSTRAP_SIZES } from './time.js';

/** Events must beat polling by more than this share of a scenario's time before the event path is worth building. */
export const WORTH_IT = 0.02;
/** The safety net's interval: a waiting Task times out and looks again this often. */
export const SAFETY_NET_SECONDS = SLOW_POLL_SECONDS;
/** What cost.ts adds to each invocation's modelled duration, and the platform log lines each one writes. */
const COMPUTE_MS_PER_INVOCATION = 50;
const PLATFORM_LOG_BYTES = 350;
const API_MS = API_CALL_SECONDS * 1000;
/** The fastest delivery eventBridgeDeliveryDelays draws. */
const FASTEST_DELIVERY_SECONDS = 0.5;

/** One command a state machine awaited, as the recorded run shows it. Times in ms of modelled time. */
export interface AwaitedCommand {
  readonly commandId: string;
  readonly step: StepName;
  readonly sentAt: number;
  /** When its last invocation ended: when SSM's command status becomes final and its event is sent. */
  readonly endedAt: number;
  /** When each ListCommandInvocations of the poll loop answered (the call's latency already past). */
  readonly polls: readonly number[];
  /** Modelled ms of each await-command invocation on it, in order; the last is the one that saw the end. */
  readonly pollInvocationMs: readonly number[];
}

/** What a recorded run holds, reduced to what the computation needs (plain data, so a test can build it). */
export interface RecordedRun {
  readonly invocations: readonly Pick<Invocation, 'commandId' | 'startedAt' | 'finishesAt'>[];
  readonly calls: readonly Pick<RecordedCall, 'operation' | 'input' | 'at' | 'by'>[];
  readonly tasks: readonly Pick<LocalRun['tasks'][number], 'functionName' | 'input' | 'elapsedMs'>[];
}

/** Every command a poll loop awaited in the run (await-command's invocations, by the command they name). */
export function awaitedCommands(run: RecordedRun): AwaitedCommand[] {
  const byCommand = new Map<string, { step: StepName; sentAt: number; elapsed: number[] }>();
  for (const task of run.tasks) {
    if (task.functionName !== 'awaitCommand') continue;
    const command = (task.input as { command?: { commandId?: string; step?: StepName; sentAt?: number } }).command;
    if (!command?.commandId || !command.step || command.sentAt === undefined) continue;
    const entry = byCommand.get(command.commandId) ?? { step: command.step, sentAt: command.sentAt, elapsed: [] };
    entry.elapsed.push(task.elapsedMs ?? 0);
    byCommand.set(command.commandId, entry);
  }
  return [...byCommand.entries()].map(([commandId, entry]) => {
    const ends = run.invocations.filter((invocation) => invocation.commandId === commandId).map((invocation) => invocation.finishesAt);
    if (ends.length === 0) throw new Error(`command ${commandId} was polled but never sent`);
    const polls = run.calls
      .filter((call) => call.by === 'awaitCommand' && call.operation === 'ListCommandInvocations' && (call.input as { CommandId?: string }).CommandId === commandId)
      .map((call) => call.at)
      .sort((a, b) => a - b);
    return { commandId, step: entry.step, sentAt: entry.sentAt, endedAt: Math.max(...ends), polls, pollInvocationMs: entry.elapsed };
  });
}

/**
 * What polling paid for a command: from its end to the end of the await-command invocation whose look saw
 * it ended (that invocation's own reading and recording included: what the state machine waited for before
 * it could act). The look that saw the end is the first ListCommandInvocations answered at or after it.
 */
export function pollingDelaySeconds(command: AwaitedCommand): number {
  const seen = command.polls.find((at) => at >= command.endedAt);
  if (seen === undefined) throw new Error(`command ${command.commandId} (${command.step}): no look saw its end`);
  const report = command.pollInvocationMs.at(-1) ?? API_MS;
  // The look is the invocation's first call: it started one call's latency before the answer.
  return (seen - API_MS + report - command.endedAt) / 1000;
}

export interface EventCompletion {
  readonly delaySeconds: number;
  /** The event came too late (or never): the safety net's look completed the Task. */
  readonly bySafetyNet: boolean;
  /** How often the Task started waiting (one token stored, one look each). */
  readonly waits: number;
  /** Events the handler received for it before or after the Task closed. */
  readonly eventsHandled: number;
}

/**
 * What the event path would pay for the same command, given when EventBridge delivers its status change
 * (seconds after the end; empty: lost). The handler needs GetItem, the poll's own reading and recording
 * (the same work, `pollInvocationMs` of the look that saw the end), and SendTaskSuccess. The safety net:
 * the Task times out every SAFETY_NET_SECONDS after the send and its next Lambda stores a new token (PutItem),
 * looks, and completes the Task itself.
 */
export function eventCompletion(command: AwaitedCommand, deliveries: readonly number[], safetyNetSeconds = SAFETY_NET_SECONDS): EventCompletion {
  const work = (command.pollInvocationMs.at(-1) ?? API_MS) / 1000;
  const endedAfter = (command.endedAt - command.sentAt) / 1000;
  const nextLook = (Math.floor(endedAfter / safetyNetSeconds) + 1) * safetyNetSeconds;
  const bySafetyNet = nextLook - endedAfter + API_CALL_SECONDS + work;
  const first = deliveries.length > 0 ? Math.min(...deliveries) + API_CALL_SECONDS + work + API_CALL_SECONDS : Infinity;
  const delaySeconds = Math.min(first, bySafetyNet);
  const closedAfter = endedAfter + delaySeconds;
  return {
    delaySeconds,
    bySafetyNet: bySafetyNet < first,
    waits: Math.floor((closedAfter - API_CALL_SECONDS) / safetyNetSeconds) + 1,
    eventsHandled: deliveries.length,
  };
}

/** The worst either way pays for a command: an end just after a look (polling), or its event lost (events). */
export function worstCaseSeconds(command: AwaitedCommand): { polling: number; events: number } {
  const work = (command.pollInvocationMs.at(-1) ?? API_MS) / 1000;
  const endedAfter = (command.endedAt - command.sentAt) / 1000;
  return { polling: nextPollSeconds(command.step, endedAfter) + work, events: SAFETY_NET_SECONDS + API_CALL_SECONDS + work };
}

// ---- usage and price, both ways ---------------------------------------------------------------------

type Usage = Parameters<typeof price>[0];

function memoryOf(): (functionName: string) => number {
  const config = parse(readFileSync(join(new URL('..', import.meta.url).pathname, 'serverless.yml'), 'utf8').replace(/\$\{[^}]*\}/g, 'x')) as {
    provider: { memorySize?: number };
    functions: Record<string, { memorySize?: number }>;
  };
  return (name) => config.functions[name]?.memorySize ?? config.provider.memorySize ?? 1024;
}
const memory = memoryOf();
const gbSeconds = (functionName: string, elapsedMs: number) => (memory(functionName) / 1024) * (Math.ceil(elapsedMs + COMPUTE_MS_PER_INVOCATION) / 1000);

/** What the executions of a workflow used, as cost.ts counts it (S3 and snapshots left out: the same both ways). */
function usageOf(runs: readonly Pick<LocalRun, 'events' | 'tasks'>[], calls: readonly RecordedCall[]): Usage {
  const usage: Usage = { transitions: 0, invocations: 0, gbSeconds: 0, calls: {}, s3Puts: 0, snapshots: 0, logBytes: 0, notifications: 0 };
  for (const run of runs) {
    usage.transitions += run.events.filter((event) => event.type === 'StateEntered' || event.type === 'StateRetried').length;
    for (const task of run.tasks) {
      usage.invocations += 1;
      usage.gbSeconds += gbSeconds(task.functionName, task.elapsedMs ?? 0);
    }
  }
  for (const call of calls) usage.calls[`${call.service}:${call.operation}`] = (usage.calls[`${call.service}:${call.operation}`] ?? 0) + 1;
  usage.logBytes = usage.invocations * PLATFORM_LOG_BYTES;
  return usage;
}

const add = (usage: Usage, key: string, count: number) => {
  usage.calls[key] = (usage.calls[key] ?? 0) + count;
};

/**
 * The same workflow with the event path: each poll loop (a first Wait, then Task → Choice → Wait per look:
 * three transitions and one await-command invocation per look) gives way to one Task entered per wait, one
 * Lambda per wait (PutItem + a look), the handler per event (GetItem, the poll's reading, SendTaskSuccess).
 */
function withEvents(polling: Usage, commands: readonly { command: AwaitedCommand; completion: EventCompletion }[]): Usage {
  const usage: Usage = { ...polling, calls: { ...polling.calls } };
  for (const { command, completion } of commands) {
    const looks = command.pollInvocationMs.length;
    const work = command.pollInvocationMs.at(-1) ?? API_MS;
    usage.transitions += completion.waits - 3 * looks;
    usage.invocations += completion.waits - looks;
    usage.gbSeconds -= command.pollInvocationMs.reduce((sum, ms) => sum + gbSeconds('awaitCommand', ms), 0);
    usage.gbSeconds += completion.waits * gbSeconds('awaitCommand', 2 * API_MS);
    add(usage, 'ssm:ListCommandInvocations', completion.waits - looks);
    add(usage, 'dynamodb:PutItem', completion.waits);
    // The handler: every delivery reads the token; the one that closes the Task does the poll's work and
    // SendTaskSuccess; a duplicate or late one gets TaskTimedOut and stops there.
    usage.invocations += completion.eventsHandled;
    add(usage, 'dynamodb:GetItem', completion.eventsHandled);
    add(usage, 'states:SendTaskSuccess', completion.eventsHandled);
    usage.gbSeconds += completion.eventsHandled * gbSeconds('awaitCommand', 2 * API_MS);
    if (completion.bySafetyNet) usage.gbSeconds += gbSeconds('awaitCommand', work) - gbSeconds('awaitCommand', 2 * API_MS);
    else usage.gbSeconds += gbSeconds('awaitCommand', work);
  }
  usage.logBytes = usage.invocations * PLATFORM_LOG_BYTES;
  return usage;
}

// ---- the table ----------------------------------------------------------------------------------------

export interface ScenarioFigures {
  readonly scenario: string;
  readonly pollingSeconds: number;
  readonly eventsSeconds: number;
  /** The best events could do: every event delivered at the model's fastest, none lost or late. */
  readonly eventsFastestSeconds: number;
  /** Commands on the critical path (sim/dag.ts) that a poll loop awaited, with what each way paid. */
  readonly criticalPath: { step: StepName; pollingDelay: number; eventDelay: number; bySafetyNet: boolean }[];
  readonly pollingDelaySeconds: number;
  readonly eventDelaySeconds: number;
  readonly worstCase: { polling: number; events: number };
  readonly eventsBySafetyNet: number;
  readonly polling: { transitions: number; invocations: number; usd: number };
  readonly events: { transitions: number; invocations: number; usd: number };
}

/** The figures of one recorded run: the critical path's commands both ways, and the workflow's usage both ways. */
export function measure(
  scenario: string,
  seconds: number,
  fleet: Pick<SimulatedFleet, 'invocations' | 'calls'>,
  runs: readonly Pick<LocalRun, 'events' | 'tasks'>[],
  dag: Parameters<typeof criticalPath>[0],
  since: number,
  seed = 17,
): ScenarioFigures {
  const recorded: RecordedRun = { invocations: fleet.invocations.filter((invocation) => invocation.startedAt >= since), calls: fleet.calls.filter((call) => call.at >= since), tasks: runs.flatMap((run) => run.tasks) };
  const commands = awaitedCommands(recorded).sort((a, b) => a.endedAt - b.endedAt);
  // Each command's status-change event, delivered as the simulator delivers EC2's (same model, own seed).
  const random = seededRandom(seed);
  const completions = commands.map((command) => ({ command, completion: eventCompletion(command, eventBridgeDeliveryDelays(random)) }));
  const byEnd = new Map<number, (typeof completions)[number]>();
  for (const entry of completions) byEnd.set(entry.command.endedAt, entry);
  // A critical-path node is a command's work when the command ended with it (its last invocation).
  const spans = new Map(dag.nodes.filter((node) => node.span).map((node) => [node.id, node.span!]));
  const onPath = criticalPath(dag)
    .path.map((id) => byEnd.get(spans.get(id)!.end))
    .filter((entry): entry is (typeof completions)[number] => entry !== undefined);
  const path = onPath.map(({ command, completion }) => ({ step: command.step, pollingDelay: pollingDelaySeconds(command), eventDelay: completion.delaySeconds, bySafetyNet: completion.bySafetyNet }));
  const pollingDelay = path.reduce((sum, entry) => sum + entry.pollingDelay, 0);
  const eventDelay = path.reduce((sum, entry) => sum + entry.eventDelay, 0);
  const fastestDelay = onPath.reduce((sum, { command }) => sum + eventCompletion(command, [FASTEST_DELIVERY_SECONDS]).delaySeconds, 0);
  const worst = onPath.map(({ command }) => worstCaseSeconds(command));
  const pollingUsage = usageOf(runs, recorded.calls as RecordedCall[]);
  const eventsUsage = withEvents(pollingUsage, completions);
  return {
    scenario,
    pollingSeconds: seconds,
    // The run as it went, with each critical-path command completed the other way.
    eventsSeconds: seconds - pollingDelay + eventDelay,
    eventsFastestSeconds: seconds - pollingDelay + fastestDelay,
    criticalPath: path,
    pollingDelaySeconds: pollingDelay,
    eventDelaySeconds: eventDelay,
    worstCase: { polling: worst.reduce((sum, entry) => sum + entry.polling, 0), events: worst.reduce((sum, entry) => sum + entry.events, 0) },
    eventsBySafetyNet: completions.filter(({ completion }) => completion.bySafetyNet).length,
    polling: { transitions: pollingUsage.transitions, invocations: pollingUsage.invocations, usd: price(pollingUsage).usd },
    events: { transitions: eventsUsage.transitions, invocations: eventsUsage.invocations, usd: price(eventsUsage).usd },
  };
}

/** Which way wins, and the targets that say so: events beating polling by more than WORTH_IT anywhere is a miss. */
export function decide(figures: readonly ScenarioFigures[]): { keep: 'polling' | 'events'; missedTargets: string[] } {
  const missedTargets = figures
    .filter((entry) => entry.pollingSeconds - entry.eventsSeconds > WORTH_IT * entry.pollingSeconds)
    .map((entry) => `${entry.scenario}: events would take ${entry.eventsSeconds.toFixed(1)} s against polling's ${entry.pollingSeconds.toFixed(1)} s (more than ${WORTH_IT * 100} % faster): polling has regressed, or build the event path`);
  return { keep: missedTargets.length > 0 ? 'events' : 'polling', missedTargets };
}

const usd = (value: number) => `$${value.toFixed(4)}`;
const s = (value: number) => `${value.toFixed(1)} s`;

export async function run(): Promise<BenchTable> {
  const figures: ScenarioFigures[] = [];
  for (const size of BOOTSTRAP_SIZES) {
    const measured = await bootstrapRun(size);
    figures.push(measure(`bootstrap ${label(size)}`, measured.seconds, measured.fleet, [measured.run], measured.dag, measured.execution.startedAt));
  }
  for (const scenario of HEAL_SCENARIOS) {
    const measured = await healRun(scenario);
    figures.push(measure(`heal: ${scenario}`, measured.seconds, measured.fleet, measured.runs, measured.dag, measured.dag.origin));
  }
  for (const scenario of ['terminate master', 'terminate worker'] as const) {
    const measured = await healRun(scenario, 7, { preparedImage: true });
    figures.push(measure(`heal: ${scenario}, prepared image`, measured.seconds, measured.fleet, measured.runs, measured.dag, measured.dag.origin));
  }
  const { keep, missedTargets } = decide(figures);
  const gain = (entry: ScenarioFigures, events = entry.eventsSeconds) => ((entry.pollingSeconds - events) / entry.pollingSeconds) * 100;
  const signed = (percent: number) => `${percent > 0 ? '-' : '+'}${Math.abs(percent).toFixed(1)} %`;
  const best = figures.reduce((a, b) => (gain(b) > gain(a) ? b : a));
  const fastest = figures.reduce((a, b) => (gain(b, b.eventsFastestSeconds) > gain(a, a.eventsFastestSeconds) ? b : a));
  const markdown = [
    markdownTable(
      [
        'scenario',
        'with polling',
        'with events (+: slower)',
        'events, every one at 0.5 s',
        'critical-path commands',
        'their delay: polling / events',
        'worst case: polling / events',
        'events left to the safety net',
        'transitions',
        'Lambda invocations',
        '$ per workflow',
      ],
      figures.map((entry) => [
        entry.scenario,
        s(entry.pollingSeconds),
        `${s(entry.eventsSeconds)} (${signed(gain(entry))})`,
        `${s(entry.eventsFastestSeconds)} (${signed(gain(entry, entry.eventsFastestSeconds))})`,
        entry.criticalPath.length,
        `${s(entry.pollingDelaySeconds)} / ${s(entry.eventDelaySeconds)}`,
        `${s(entry.worstCase.polling)} / ${s(entry.worstCase.events)}`,
        entry.eventsBySafetyNet,
        `${entry.polling.transitions} / ${entry.events.transitions}`,
        `${entry.polling.invocations} / ${entry.events.invocations}`,
        `${usd(entry.polling.usd)} / ${usd(entry.events.usd)}`,
      ]),
    ),
    '',
    `Kept: **${keep}**. ${
      keep === 'polling'
        ? `${gain(best) < 0 ? `Events are slower in every scenario (by ${Math.abs(gain(best)).toFixed(1)} % at the least, ${best.scenario})` : `Events would save at most ${gain(best).toFixed(1)} % (${best.scenario})`}; even with every event delivered at the model's fastest they would save at most ${gain(fastest, fastest.eventsFastestSeconds).toFixed(1)} % (${fastest.scenario}), under the ${WORTH_IT * 100} % that would pay for a second completion path. A look every 1-2 s where a step usually ends costs less than EventBridge's delivery, and a late or lost event waits for the ${SAFETY_NET_SECONDS} s safety net. Events would save transitions (the 1-2 s looks), a fraction of a cent per workflow.`
        : `Events save more than ${WORTH_IT * 100} % somewhere (best: ${gain(best).toFixed(1)} %, ${best.scenario}).`
    }`,
    '',
    'Per command on the critical path (sim/dag.ts) that a poll loop awaited, from its end: polling pays until the await-command',
    'invocation whose look saw the end has read and recorded it; events pay the delivery (modelled as the simulator delivers EC2',
    `events: 0.5-3 s, one in ten 1-3 min late, one in seven twice), GetItem for the token, the same reading, SendTaskSuccess (${API_CALL_SECONDS} s per call),`,
    `or the safety net's next look (a callback Task that times out every ${SAFETY_NET_SECONDS} s). "With events" is the run with those delays swapped.`,
    `Worst case: polling, each command ending just after a look (at the interval it ended in; a late command is looked at every ${SLOW_POLL_SECONDS} s`,
    `either way); events, every event lost. Transitions, invocations and $ are the workflow's executions both ways (S3 left out; prices as in the cost table).`,
  ].join('\n');
  return { title: 'Command completion: polling or events', markdown, json: { keep, worthIt: WORTH_IT, safetyNetSeconds: SAFETY_NET_SECONDS, figures }, missedTargets };
}
