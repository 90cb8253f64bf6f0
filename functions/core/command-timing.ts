// When to look at a running command again. A fixed poll interval costs up to one interval per step on
// the critical path (a 15 s Wait after a 6 s command); polling every second costs transitions for
// nothing while a 95 s install runs. So each step first waits for the fast end of its typical run,
// polls briefly while it is likely to finish, then falls back to a slow poll that bounds the history
// of a command that hangs.
import type { StepName } from './commands.js';

/**
 * How long each step's document usually runs on a t3.medium with Ubuntu 24.04, in seconds: apt
 * installs dominate prerequisites, kubeadm init waits for the static pods, a control-plane join
 * includes the etcd learner's promotion. sim/latency.ts models the same runs (±15 %); a test keeps
 * the two in step.
 */
export const TYPICAL_STEP_SECONDS: Readonly<Record<StepName, number>> = {
  'install-prerequisites': 95,
  'configure-load-balancer': 9,
  'init-first-master': 80,
  'install-cni': 30,
  'refresh-join-material': 6,
  'join-control-plane': 65,
  'join-worker': 35,
  'verify-cluster': 12,
  'cluster-status': 3,
  'remove-etcd-member': 4,
  'snapshot-etcd': 8,
  'reset-node': 6,
  'check-load-balancer': 2,
  'deploy-test-app': 20,
  'start-probe': 2,
  'stop-probe': 2,
  'configure-node-proxy': 3,
  'probe-load-balancer': 2,
  'apply-node-profile': 8,
  'check-external-services': 3,
  'grant-user-access': 4,
  'revoke-user-access': 3,
  'apply-encryption-config': 10,
  'rewrite-secrets': 10,
  'prepare-node-image': 125,
  // kubeadm certs renew all, then the static pods moved out and back: two of the kubelet's 20 s file checks and their start.
  'renew-certificates': 60,
};

/** The fast end of a typical run, as a fraction of it: the first poll comes no earlier. */
export const FAST_END = 0.85;
/** Past this fraction of a typical run (plus SLOW_AFTER_EXTRA_SECONDS), a command is late: poll slowly. */
export const SLOW_END = 1.2;
export const SLOW_AFTER_EXTRA_SECONDS = 5;
/**
 * Poll intervals while a command is likely to finish, and once it is late. Steps that run one at a time
 * on the critical path (a master's upload and join, init, healing's short steps) are looked at every
 * second; batch steps, which many Map iterations poll at once, every 2 s (history events and API rate).
 */
export const FAST_POLL_SECONDS = 1;
export const BATCH_POLL_SECONDS = 2;
export const SLOW_POLL_SECONDS = 15;

/**
 * How many polls (ListCommandInvocations, DescribeInstanceInformation) kubeha lets one cluster's workflows
 * land in one second: half the SSM request rate it budgets for (10 a second, bench/rate-limits.ts RATE_LIMITS:
 * SSM publishes no per-API default, so the floor is assumed), leaving the other half for sends, outputs and
 * everything else of that second. Bootstrap's prerequisite batches (plan.ts) and concurrent heals
 * (sharePolls) each space their polls to stay within it.
 */
export const POLLS_PER_SECOND = 5;

/**
 * A heal's share of the cluster's polling rate: it looks every `pollEverySeconds` while a command or boot is
 * likely to finish, in the seconds whose number modulo `pollEverySeconds` is `pollSlot`.
 */
export interface PollShare {
  readonly pollEverySeconds: number;
  readonly pollSlot: number;
}

/**
 * Seconds from `nowMs` until the next second of the share's slot (0 within it): when a heal that is one of
 * many sends its first command, so that an Availability Zone's heals, started by events that arrive within
 * a few seconds of each other, do not all call SendCommand in the same one.
 */
export function secondsUntilPollSlot(nowMs: number, share: PollShare): number {
  return (((share.pollSlot - Math.floor(nowMs / 1000)) % share.pollEverySeconds) + share.pollEverySeconds) % share.pollEverySeconds;
}

/**
 * The share of the `rank`-th (from 0) of `inFlight` heals of one cluster: each polls every
 * ⌈inFlight / POLLS_PER_SECOND⌉ s (as bootstrap spaces its batches), and the heals take the slots of that
 * period in turn, so that at most POLLS_PER_SECOND of them share a second of the period (twice that when a
 * poll's Lambda ends past a second boundary) instead of all twenty of an Availability Zone's workers looking in
 * the same one. One heal alone keeps looking every second. Beyond 15 × POLLS_PER_SECOND heals the interval
 * stops at SLOW_POLL_SECONDS, the poll of a late command.
 */
export function sharePolls(inFlight: number, rank: number): PollShare {
  const pollEverySeconds = Math.min(SLOW_POLL_SECONDS, Math.max(FAST_POLL_SECONDS, Math.ceil(inFlight / POLLS_PER_SECOND)));
  return { pollEverySeconds, pollSlot: ((Math.floor(rank) % pollEverySeconds) + pollEverySeconds) % pollEverySeconds };
}

/**
 * `seconds` moved by at most half a period to land in the share's slot, counted from `nowMs`. Moving both
 * ways keeps the mean interval: a poll whose Lambda ended past a second boundary waits one second less next
 * time rather than a whole period more. Without a share (or with a period of 1 s) nothing moves.
 */
export function onPollSlot(seconds: number, nowMs: number, share?: { readonly pollEverySeconds?: number | undefined; readonly pollSlot?: number | undefined }): number {
  const every = share?.pollEverySeconds ?? FAST_POLL_SECONDS;
  if (every <= 1 || share?.pollSlot === undefined) return seconds;
  let shift = (((share.pollSlot - (Math.floor(nowMs / 1000) + seconds)) % every) + every) % every;
  if (shift > every / 2) shift -= every;
  return Math.max(1, seconds + shift);
}

const BATCH_STEPS: ReadonlySet<StepName> = new Set(['install-prerequisites', 'join-worker', 'install-cni', 'deploy-test-app']);
/** `every`: the sender's own interval (StepRequest.pollEverySeconds), e.g. 1 s for a healing's one node. */
const fastPoll = (step: StepName, every?: number) => every ?? (BATCH_STEPS.has(step) ? BATCH_POLL_SECONDS : FAST_POLL_SECONDS);

/**
 * What a prepared node image (`kubeha image build`) takes off a step on a node launched from it: the pinned
 * packages are installed already (install-prerequisites.sh only checks them), and the images kubeadm's
 * preflight pulls are on disk (init and join skip the pull). sim/latency.ts models the same savings.
 */
export const PREPARED_IMAGE_SAVES_SECONDS: Readonly<Partial<Record<StepName, number>>> = {
  'install-prerequisites': 93,
  'join-control-plane': 25,
  'join-worker': 8,
};

/** How long a step usually runs, on a node from a prepared image or not. */
export function typicalSeconds(step: StepName, preparedImage = false): number {
  return TYPICAL_STEP_SECONDS[step] - (preparedImage ? (PREPARED_IMAGE_SAVES_SECONDS[step] ?? 0) : 0);
}

/** Seconds to wait after sending a step before its first poll. */
export function firstPollSeconds(step: StepName, preparedImage = false): number {
  return Math.max(1, Math.floor(typicalSeconds(step, preparedImage) * FAST_END));
}

/**
 * Seconds to wait before the next poll of a step sent `elapsedSeconds` ago that is still running;
 * `every`: the sender's interval (1 s for the one command of a healing, which no other Map iteration polls
 * beside it; more for a large bootstrap's prerequisite batches), else the step's own.
 */
export function nextPollSeconds(step: StepName, elapsedSeconds: number, every?: number): number {
  return elapsedSeconds < TYPICAL_STEP_SECONDS[step] * SLOW_END + SLOW_AFTER_EXTRA_SECONDS ? fastPoll(step, every) : SLOW_POLL_SECONDS;
}

/** The most polls one step makes before it is late (what the history budget counts per batch). */
export function fastPollsAtMost(step: StepName, every?: number): number {
  const window = TYPICAL_STEP_SECONDS[step] * SLOW_END + SLOW_AFTER_EXTRA_SECONDS - firstPollSeconds(step);
  return 1 + Math.ceil(window / fastPoll(step, every));
}

/**
 * How an instance kubeha waits for came up: `start` boots a stopped instance whose SSM agent registered
 * long ago (it reconnects as the instance boots); `launch` boots a new one whose agent must register
 * first ("often 30–90 s after running", shared/reality.md).
 */
export type BootKind = 'start' | 'launch';
/**
 * How long each usually takes until DescribeInstanceInformation lists the agent online, in seconds: an
 * Ubuntu 24.04 t3.medium reaches `running` and boots in about 45 s; a new instance's agent registers
 * about 40 s later. sim/fleet.ts models the same (BOOT_SECONDS, agentRegistrationSeconds); a test keeps
 * the two in step.
 */
export const TYPICAL_READY_SECONDS: Readonly<Record<BootKind, number>> = { start: 45, launch: 85 };
/** Once a boot is late, the poll interval it had before it was timed (history and DescribeInstances rate). */
export const BOOT_SLOW_POLL_SECONDS = 5;

/** Seconds from the start or launch to the first look at the instance: the fast end of its typical boot. */
export function firstBootPollSeconds(kind: BootKind): number {
  return Math.max(1, Math.floor(TYPICAL_READY_SECONDS[kind] * FAST_END));
}

/**
 * Seconds until an instance booting for `elapsedSeconds` is expected up (the fast end of its typical boot, 0 once
 * past it): a command sent to a started standby as it boots (StepRequest.bootingSince) runs from then on.
 */
export function secondsUntilBooted(kind: BootKind, elapsedSeconds: number): number {
  return Math.max(0, Math.ceil(firstBootPollSeconds(kind) - elapsedSeconds));
}

/**
 * Seconds until that boot is late (0 once it is): the step's own timing (nextPollSeconds) counts from there, so
 * a short step behind a boot of usual length is still polled every second rather than slowly.
 */
export function secondsUntilBootIsLate(kind: BootKind, elapsedSeconds: number): number {
  return Math.max(0, Math.ceil(TYPICAL_READY_SECONDS[kind] * SLOW_END + SLOW_AFTER_EXTRA_SECONDS - elapsedSeconds));
}

/** How long an instance may take to boot and register its agent before waiting for it fails (NodeNotReadyError). */
export const BOOT_DEADLINE_MS = 15 * 60_000;

/** What a workflow carries while an instance boots: its deadline, and when and how to look at it (awaitInstance). */
export interface BootWait {
  readonly readyBy: number;
  readonly boot: BootKind;
  readonly bootingSince: number;
  readonly pollAfterSeconds: number;
}

/**
 * The wait for an instance started or launched at `now`; one that was already booting is looked at again at
 * once. With a heal's share of the polling rate, the first look lands in its slot (onPollSlot).
 */
export function bootWait(kind: BootKind, now: number, alreadyBooting = false, share?: { readonly pollEverySeconds?: number | undefined; readonly pollSlot?: number | undefined }): BootWait {
  return { readyBy: now + BOOT_DEADLINE_MS, boot: kind, bootingSince: now, pollAfterSeconds: alreadyBooting ? FAST_POLL_SECONDS : onPollSlot(firstBootPollSeconds(kind), now, share) };
}

/**
 * Seconds to wait before looking again at an instance that has been booting `elapsedSeconds`: until the
 * fast end of a typical boot when the look came early (a launch whose address change kept the workflow
 * busy first), every second (or `every`, a heal's share of the rate) while it is likely to come up, every
 * BOOT_SLOW_POLL_SECONDS once it is late.
 */
export function nextBootPollSeconds(kind: BootKind, elapsedSeconds: number, every: number = FAST_POLL_SECONDS): number {
  const first = firstBootPollSeconds(kind);
  if (elapsedSeconds < first - every) return Math.ceil(first - elapsedSeconds);
  return elapsedSeconds < TYPICAL_READY_SECONDS[kind] * SLOW_END + SLOW_AFTER_EXTRA_SECONDS ? every : Math.max(every, BOOT_SLOW_POLL_SECONDS);
}
