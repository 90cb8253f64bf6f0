// Seeded random schedules of compound faults, on the faithful simulator with EventBridge delivering at
// least once, late and out of order. Named scenarios test what we thought of; this asserts what must
// hold whatever happens: the cluster converges back to its configured shape, or kubeha halts safely
// (its last word a quorum-loss notification, and no etcd change after it).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { setLogSink } from '../../functions/core/log.js';
import { consoleInput } from '../../sim/bootstrap.js';
import { LocalControlPlane } from '../../sim/control-plane.js';
import { SimulatedFleet, type SimInstance, type SimRole } from '../../sim/fleet.js';

const CONFIGURED = { master: 3, worker: 3, lb: 2 } as const;
const RUNS = Number(process.env.KUBEHA_CHAOS_RUNS ?? 50);

type FaultKind = 'stop' | 'terminate' | 'wedge' | 'resend-terminated' | 'capacity';
interface Fault {
  readonly kind: FaultKind;
  readonly role: SimRole;
  readonly index: number;
  /** Fires once this many commands have been sent after the schedule starts: 0 is at once, others mid-heal. */
  readonly afterCommands: number;
}

const faultArbitrary: fc.Arbitrary<Fault> = fc.record({
  kind: fc.constantFrom<FaultKind>('stop', 'terminate', 'wedge', 'resend-terminated', 'capacity'),
  role: fc.constantFrom<SimRole>('master', 'worker', 'lb'),
  index: fc.nat({ max: 2 }),
  afterCommands: fc.oneof(fc.constant(0), fc.nat({ max: 25 })),
});

/** How long a capacity fault keeps its zone short. */
const CAPACITY_SHORTAGE_SECONDS = 30 * 60;

function pick(fleet: SimulatedFleet, fault: Fault): SimInstance | undefined {
  const candidates = [...fleet.instances.values()].filter((instance) => instance.tags['kubeha:role'] === fault.role && instance.state === 'running');
  return candidates[fault.index % Math.max(1, candidates.length)];
}

function apply(fleet: SimulatedFleet, plane: LocalControlPlane, fault: Fault, pending: Promise<unknown>[]): void {
  const target = pick(fleet, fault);
  if (!target) return;
  if (fault.kind === 'stop') fleet.requestStop(target.instanceId);
  else if (fault.kind === 'terminate') fleet.requestTerminate(target.instanceId);
  else if (fault.kind === 'wedge' && fault.role !== 'lb') fleet.wedgeNode(target.instanceId);
  // The target's zone runs short of on-demand capacity: launches and starts there fail until it comes back,
  // longer than a launch's own retries and shorter than a heal waits (90 minutes), so heals wait it out.
  else if (fault.kind === 'capacity') fleet.shortOfCapacity(target.availabilityZone, CAPACITY_SHORTAGE_SECONDS);
  else if (fault.kind === 'resend-terminated') {
    // A terminated event with a new id for an instance that is still fine: a confused or malicious sender.
    // Nothing may be replaced for it (the instance runs); it is as harmless as a late duplicate.
    pending.push(plane.deliver(target.instanceId, 'terminated', `evt-resent-${target.instanceId}`).catch(() => undefined));
  }
}

interface Outcome {
  readonly quorumLost: boolean;
  readonly problems: string[];
  /** Launches and starts asked of a zone while it was short of capacity. */
  readonly launchesIntoShortZones?: number;
}

export async function runSchedule(faults: readonly Fault[], seed: number): Promise<Outcome> {
  const fleet = SimulatedFleet.standard({ seed });
  const plane = new LocalControlPlane(fleet).start();
  try {
    const bootstrap = await plane.execute('bootstrap-cluster', 'bootstrap-demo', consoleInput(fleet));
    if (bootstrap.error) return { quorumLost: false, problems: [`bootstrap failed: ${bootstrap.error.message}`] };
    plane.enableEventBridge();

    // Act: faults fire at once or after a number of commands, i.e. in the middle of the healing of earlier ones.
    const pending: Promise<unknown>[] = [];
    let commands = 0;
    const due = [...faults];
    const fire = () => {
      for (const fault of due.filter((candidate) => candidate.afterCommands <= commands)) {
        due.splice(due.indexOf(fault), 1);
        apply(fleet, plane, fault, pending);
      }
    };
    fleet.commandSentHooks.push(() => {
      commands += 1;
      fire();
    });
    fire();
    await plane.settle();
    // Whatever never got its trigger fires now; then reconcile runs on its schedule until nothing moves.
    for (const fault of due.splice(0)) apply(fleet, plane, fault, pending);
    await Promise.all(pending);
    await plane.settle();
    for (let run = 0, quiet = 0; run < 12 && quiet < 2; run += 1) {
      const before = fleet.executions.size;
      fleet.advance(11 * 60);
      await plane.reconcile();
      await plane.settle();
      quiet = fleet.executions.size === before ? quiet + 1 : 0;
    }
    fleet.advance(30);
    const assessed = assess(fleet);
    // A shortage shorter than a heal's wait is waited out: no heal fails for it (and pages on-call).
    const failedForCapacity = [...fleet.executions.values()].filter((execution) => execution.error?.name === 'InsufficientCapacityError');
    const outcome = {
      ...assessed,
      problems: [...assessed.problems, ...failedForCapacity.map((execution) => `${execution.name} failed for capacity during a ${CAPACITY_SHORTAGE_SECONDS / 60}-minute shortage`)],
      launchesIntoShortZones: fleet.capacityRefusals,
    };
    if (process.env.KUBEHA_CHAOS_DEBUG && outcome.problems.length > 0) console.log(outcome.problems, fleet.history.map((entry) => `${new Date(entry.at).toISOString().slice(11, 19)} ${entry.what}`).join('\n'), fleet.notifications.map((n) => n.subject));
    return outcome;
  } finally {
    plane.stop();
  }
}

export function assess(fleet: SimulatedFleet): Outcome {
  const problems = convergenceProblems(fleet);
  if (problems.length === 0) return { quorumLost: false, problems };
  // Not converged: acceptable only if kubeha told a human it stops - quorum lost, or too many nodes sick
  // at once to be node failures - and changed no etcd membership after saying so.
  const notice = fleet.notifications.filter((notification) => notification.subject.includes('etcd quorum at risk') || notification.subject.includes('healing held back')).at(-1);
  if (!notice) return { quorumLost: false, problems };
  const changedAfter = fleet.history.filter((entry) => entry.at > notice.at && /^etcd member .* (added|removed)/.test(entry.what));
  return { quorumLost: true, problems: changedAfter.map((entry) => `etcd changed after the quorum-loss notification: ${entry.what}`) };
}

function convergenceProblems(fleet: SimulatedFleet): string[] {
  const cluster = fleet.clusters.get('demo')!;
  const problems: string[] = [];
  const running = (role: SimRole) => fleet.byRole(role).filter((instance) => instance.state === 'running');
  for (const role of ['master', 'worker', 'lb'] as const) {
    if (running(role).length !== CONFIGURED[role]) problems.push(`${running(role).length} ${role}s running, ${CONFIGURED[role]} configured`);
  }
  const masterIds = new Set(running('master').map((master) => master.instanceId));
  if (cluster.etcdMembers.length !== masterIds.size) problems.push(`${cluster.etcdMembers.length} etcd members for ${masterIds.size} masters`);
  for (const member of cluster.etcdMembers) {
    if (!member.healthy) problems.push(`etcd member ${member.name} unhealthy`);
    if (!masterIds.has(member.instanceId)) problems.push(`etcd member ${member.name} belongs to no running master`);
  }
  for (const instance of [...running('master'), ...running('worker')]) {
    const node = cluster.nodes.find((candidate) => candidate.instanceId === instance.instanceId);
    if (!node?.ready) problems.push(`${instance.tags['kubeha:role']} ${instance.instanceId} has ${node ? 'a NotReady Node' : 'no Node'}`);
  }
  if (cluster.nodes.length !== CONFIGURED.master + CONFIGURED.worker) problems.push(`${cluster.nodes.length} Nodes, ${CONFIGURED.master + CONFIGURED.worker} expected`);
  if (!fleet.apiAnswers()) problems.push('the API does not answer through the Elastic IP');
  if (fleet.items.has('cluster#demo|lock')) problems.push('a lock is left behind');
  return problems;
}

describe('healing under random compound faults', () => {
  it(`converges, or halts safely after losing quorum, in ${RUNS} seeded schedules of 2-4 faults`, { timeout: 600_000 }, async () => {
    const restoreLogs = setLogSink(() => undefined);
    const outcomes: Outcome[] = [];
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(faultArbitrary, { minLength: 2, maxLength: 4 }), fc.integer({ min: 1, max: 1_000_000 }), async (faults, seed) => {
          const outcome = await runSchedule(faults, seed);
          outcomes.push(outcome);
          expect(outcome.problems, JSON.stringify(faults)).toEqual([]);
        }),
        { numRuns: RUNS, seed: Number(process.env.KUBEHA_CHAOS_SEED ?? 20261130), endOnFailure: true },
      );
    } finally {
      restoreLogs();
    }
    // Both kinds of ending occur, so the property is not passing on one kind alone.
    expect(outcomes.some((outcome) => !outcome.quorumLost)).toBe(true);
    // Some heals met a zone short of capacity, so converging is not owed to the fault never mattering.
    expect(outcomes.some((outcome) => (outcome.launchesIntoShortZones ?? 0) > 0)).toBe(true);
  });
});
