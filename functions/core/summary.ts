// The bootstrap summary: what the execution's output tells the user at the end.
import type { ClusterContext, StepResult } from './commands.js';
import type { ExternalCheckReport } from './external-services.js';
import type { BootstrapPlan } from './plan.js';

interface Span {
  readonly sentAt?: number;
  readonly finishedAt?: number;
}

/** A phase in the payload is either one command (`{command, progress}`) or a Map's list of spans. */
export function phaseSeconds(phase: unknown): number | undefined {
  const spans = collectSpans(phase);
  const starts = spans.map((span) => span.sentAt).filter((value): value is number => typeof value === 'number');
  const ends = spans.map((span) => span.finishedAt).filter((value): value is number => typeof value === 'number');
  if (starts.length === 0 || ends.length === 0) return undefined;
  return Math.round((Math.max(...ends) - Math.min(...starts)) / 100) / 10;
}

function collectSpans(value: unknown): Span[] {
  if (Array.isArray(value)) return value.flatMap(collectSpans);
  if (typeof value !== 'object' || value === null) return [];
  const record = value as Record<string, unknown>;
  const command = record.command as { sentAt?: number } | undefined;
  const progress = record.progress as { finishedAt?: number } | undefined;
  const own: Span[] = [];
  if (command?.sentAt !== undefined || progress?.finishedAt !== undefined) {
    own.push({ sentAt: command?.sentAt, finishedAt: progress?.finishedAt } as Span);
  }
  const nested = Object.entries(record)
    .filter(([key]) => key !== 'command' && key !== 'progress')
    .flatMap(([, child]) => collectSpans(child));
  return [...own, ...nested];
}

export interface BootstrapSummary {
  readonly clusterName: string;
  readonly endpoint: string;
  readonly kubernetesVersion: string;
  readonly nodes: { masters: number; workers: number; loadBalancers: number };
  readonly firstMasterId: string;
  readonly skippedAsAlreadyDone: BootstrapPlan['skipped'];
  readonly verification: Record<string, unknown>;
  readonly timings: { totalSeconds: number; phases: Record<string, number> };
  /** The external services as one worker saw them at verify (absent when none is configured). */
  readonly externalServices?: ExternalCheckReport;
}

export function summarizeBootstrap(input: {
  cluster: ClusterContext;
  plan: BootstrapPlan;
  phases: Record<string, unknown>;
  verification: StepResult | undefined;
  startedAt: number;
  now: number;
}): BootstrapSummary {
  const phases: Record<string, number> = {};
  for (const [name, phase] of Object.entries(input.phases)) {
    const seconds = phaseSeconds(phase);
    if (seconds !== undefined) phases[name] = seconds;
  }
  const { instanceId: _verifiedOn, ...verification } = input.verification ?? { instanceId: '' };
  return {
    clusterName: input.cluster.clusterName,
    endpoint: input.cluster.endpoint,
    kubernetesVersion: input.cluster.kubernetesVersion,
    nodes: { masters: input.cluster.masterIps.length, workers: input.cluster.workerCount, loadBalancers: input.cluster.loadBalancerIps.length },
    firstMasterId: input.plan.firstMaster.instanceId,
    skippedAsAlreadyDone: input.plan.skipped,
    verification,
    timings: { totalSeconds: Math.round((input.now - input.startedAt) / 1000), phases },
  };
}
