// Incidents: one record per failing instance in the state table, written with compare-and-set before
// any healing workflow starts. Healing is keyed by what it changes (the dead instance), not by the
// event that asked: EventBridge delivers at least once, late and out of order, reconcile finds what
// events missed, and a human can ask too; whichever trigger writes the incident first starts the one
// execution, the others find it. A failed heal is retried with a new execution name (names are unique
// per state machine for 90 days), with backoff, within a budget; when the budget is spent kubeha
// tells a human once and waits for one.
import type { Role } from './cluster.js';
import { HEALING_MACHINES } from './healing-decisions.js';
import type { Logger } from './log.js';
import { readLaunchRecords } from './launch-records.js';
import type { Ports } from './ports.js';

export const INCIDENT_PREFIX = 'incident#';
export const incidentKey = (instanceId: string): string => `${INCIDENT_PREFIX}${instanceId}`;

export interface HealingBudget {
  /** Executions per incident before kubeha stops and asks a human. */
  readonly attempts: number;
  /** Pause before the first retry; each further retry waits twice as long. */
  readonly backoffMinutes: number;
}
export const DEFAULT_BUDGET: HealingBudget = { attempts: 3, backoffMinutes: 5 };

export interface Incident {
  readonly instanceId: string;
  readonly role: Role;
  /** What was wrong: the EC2 state, or `running` for a node that runs but is unhealthy. */
  readonly state: string;
  /** Counts incidents of this instance: a master stopped in March and again in May is two. */
  readonly sequence: number;
  readonly attempt: number;
  readonly executionName: string;
  readonly executionArn: string;
  readonly startedAt: number;
  readonly trigger: string;
  readonly notifiedAt?: number | undefined;
}

export type TriggerKind = 'event' | 'reconcile' | 'human';

export interface HealingRequest {
  readonly clusterName: string;
  readonly instanceId: string;
  readonly role: Role;
  readonly state: string;
  readonly trigger: string;
  readonly kind: TriggerKind;
  /** When the trigger saw the problem: the event's time, or now. */
  readonly observedAt: number;
}

export type IncidentDecision =
  | { readonly action: 'start'; readonly sequence: number; readonly attempt: number }
  | { readonly action: 'resume' }
  | { readonly action: 'notify-exhausted' }
  | { readonly action: 'skip'; readonly reason: string };

/** An execution claimed but not found is restarted under its name for this long, then counted as failed. */
const RESUME_WINDOW_MS = 3600_000;

/** Pure: what one trigger should do, given the instance's last incident and how its execution ended. */
export function decideIncident(
  previous: Incident | undefined,
  execution: { status: string; stopDate?: number | undefined } | undefined,
  request: Pick<HealingRequest, 'state' | 'kind' | 'observedAt'>,
  now: number,
  budget: HealingBudget,
  /** Whether a replacement of the instance exists (launch records); asked only when it matters. */
  replaced = false,
): IncidentDecision {
  if (!previous) return { action: 'start', sequence: 1, attempt: 1 };
  const fresh = { action: 'start', sequence: previous.sequence + 1, attempt: 1 } as const;
  if (!execution && now - previous.startedAt < RESUME_WINDOW_MS) return { action: 'resume' };
  const status = execution?.status ?? 'FAILED';
  if (status === 'RUNNING') return { action: 'skip', reason: `healing is already running (${previous.executionName})` };
  if (request.kind === 'human') return fresh;
  if (request.kind === 'event' && request.observedAt <= previous.startedAt) {
    return { action: 'skip', reason: `the event is older than the healing it asks for (${previous.executionName})` };
  }
  // An instance terminates once: once replaced, no trigger replaces it again. (A healing that succeeded
  // for a "terminated" event about an instance that in fact still ran replaced nothing.)
  if (replaced) return { action: 'skip', reason: `already replaced (${previous.executionName})` };
  if (status === 'SUCCEEDED') {
    if (request.kind === 'event' && execution?.stopDate !== undefined && request.observedAt <= execution.stopDate) {
      return { action: 'skip', reason: `the event arrived during a healing that succeeded (${previous.executionName})` };
    }
    return fresh;
  }
  // The last execution failed, timed out or was aborted.
  if (request.kind === 'event' && request.state !== previous.state) return fresh;
  if (previous.attempt >= budget.attempts) {
    return previous.notifiedAt === undefined ? { action: 'notify-exhausted' } : { action: 'skip', reason: `the healing budget of ${budget.attempts} attempts is spent; waiting for a human` };
  }
  const retryAt = previous.startedAt + budget.backoffMinutes * 60_000 * 2 ** (previous.attempt - 1);
  if (request.kind === 'reconcile' && now < retryAt) return { action: 'skip', reason: `backing off until ${new Date(retryAt).toISOString()}` };
  return { action: 'start', sequence: previous.sequence, attempt: previous.attempt + 1 };
}

/** A replacement exists: recorded, or launched already (tagged kubeha:replaces) and not recorded yet. */
async function hasReplacement(clusterName: string, instanceId: string, ports: Pick<Ports, 'state' | 'ec2'>): Promise<boolean> {
  const records = await readLaunchRecords(clusterName, ports);
  if (records.some((item) => item.value.replaces === instanceId || (item.value.instanceId === instanceId && item.value.replacedBy !== undefined))) return true;
  const instances = await ports.ec2.findClusterInstances(clusterName);
  return instances.some((instance) => instance.tags?.['kubeha:replaces'] === instanceId && instance.ec2State !== 'terminated' && instance.ec2State !== 'shutting-down');
}

/** Execution names allow 80 characters of [A-Za-z0-9-_] and stay unique per state machine for 90 days. */
export function incidentExecutionName(instanceId: string, state: string, sequence: number, attempt: number): string {
  return `${instanceId}-${state}-${sequence}-${attempt}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 80);
}

export type HealingOutcome =
  | { readonly started: true; readonly executionName: string; readonly executionArn: string; readonly attempt: number }
  | { readonly started: false; readonly reason: string; readonly executionName?: string };

/**
 * Starts (or finds) the healing of one instance. The incident is written conditionally on the version
 * read, so of two triggers racing for one instance exactly one starts an execution.
 */
export async function startHealing(
  request: HealingRequest,
  ports: Pick<Ports, 'state' | 'ec2' | 'workflows' | 'notifier' | 'clock'>,
  environment: { stateMachineArnPrefix: string },
  log: Logger,
  budget: HealingBudget = DEFAULT_BUDGET,
): Promise<HealingOutcome> {
  const key = incidentKey(request.instanceId);
  const stored = await ports.state.get<Incident>(request.clusterName, key);
  const execution = stored ? await ports.workflows.describeExecution(stored.value.executionArn) : undefined;
  const now = ports.clock.now();
  const replaced = stored !== undefined && execution?.status === 'SUCCEEDED' && (await hasReplacement(request.clusterName, request.instanceId, ports));
  const decision = decideIncident(stored?.value, execution, request, now, budget, replaced);
  const machineArn = `${environment.stateMachineArnPrefix}${HEALING_MACHINES[request.role]}`;
  const input = { clusterName: request.clusterName, instanceId: request.instanceId, role: request.role, state: request.state, trigger: request.trigger };
  // A running node whose re-join already failed once is replaced instead (workers and masters; masters
  // still pass the quorum guard before their member is removed).
  const escalate = (attempt: number) => request.state === 'running' && request.role !== 'lb' && attempt >= 2;

  switch (decision.action) {
    case 'skip':
      log.info('healing not started', { instanceId: request.instanceId, reason: decision.reason });
      return { started: false, reason: decision.reason, ...(stored ? { executionName: stored.value.executionName } : {}) };
    case 'resume': {
      const incident = stored!.value;
      const started = await ports.workflows.startExecution(machineArn, incident.executionName, { ...input, state: incident.state, trigger: incident.trigger, escalate: escalate(incident.attempt) });
      return { started: true, executionName: incident.executionName, executionArn: started.executionArn, attempt: incident.attempt };
    }
    case 'notify-exhausted': {
      const incident = stored!.value;
      if (!(await ports.state.put(request.clusterName, key, { ...incident, notifiedAt: now }, stored!.version))) {
        return { started: false, reason: 'another trigger handled the incident first' };
      }
      await ports.notifier.publish(
        `kubeha ${request.clusterName}: healing of ${request.instanceId} failed ${incident.attempt} times`,
        [
          `kubeha tried to heal ${request.role} ${request.instanceId} (${incident.state}) ${incident.attempt} times and stops retrying until a human acts.`,
          `Last execution: ${incident.executionArn}`,
          `Fix the cause (the execution history says what failed), then run: kubeha heal --cluster ${request.clusterName} --instance ${request.instanceId}`,
          'That starts a fresh incident with a new budget. README.md, "When healing gives up", says more.',
        ].join('\n'),
      );
      log.warn('healing budget spent; told a human', { instanceId: request.instanceId, attempts: incident.attempt });
      return { started: false, reason: `the healing budget of ${budget.attempts} attempts is spent; a human was told` };
    }
    case 'start': {
      const executionName = incidentExecutionName(request.instanceId, request.state, decision.sequence, decision.attempt);
      const executionArn = `${machineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
      const incident: Incident = {
        instanceId: request.instanceId,
        role: request.role,
        state: request.state,
        sequence: decision.sequence,
        attempt: decision.attempt,
        executionName,
        executionArn,
        startedAt: now,
        trigger: request.trigger,
      };
      if (!(await ports.state.put(request.clusterName, key, incident, stored?.version ?? 'absent'))) {
        log.info('another trigger started this healing first', { instanceId: request.instanceId });
        return { started: false, reason: 'another trigger started this healing first' };
      }
      const started = await ports.workflows.startExecution(machineArn, executionName, { ...input, escalate: escalate(decision.attempt) });
      log.info('started healing', { instanceId: request.instanceId, execution: executionName, attempt: decision.attempt, trigger: request.trigger });
      return { started: true, executionName, executionArn: started.executionArn, attempt: decision.attempt };
    }
  }
}
