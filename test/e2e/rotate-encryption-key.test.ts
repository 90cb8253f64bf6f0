import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { installFleet } from '../../sim/aws.js';
import { bootstrapOnFleet, consoleInput } from '../../sim/bootstrap.js';
import { encryptionOf } from '../../sim/encryption.js';
import { SimulatedFleet } from '../../sim/fleet.js';
import { restoreFleet, snapshotFleet } from '../../sim/snapshot.js';
import { type LocalRun, runStateMachine } from '../../sim/state-machine.js';
import { everythingRecorded } from '../support/cluster.js';

let bootstrapped: Buffer;
let seed = 7000;

beforeAll(async () => {
  const fleet = SimulatedFleet.standard();
  const run = await bootstrapOnFleet(fleet, consoleInput(fleet));
  if (run.error) throw new Error(`bootstrap failed: ${run.error.message}`);
  bootstrapped = snapshotFleet(fleet);
});

function freshCluster(): SimulatedFleet {
  seed += 1;
  return restoreFleet(bootstrapped, seed);
}

async function rotate(fleet: SimulatedFleet, rotationId: string, executionName: string): Promise<LocalRun> {
  const uninstall = installFleet(fleet);
  try {
    return await runStateMachine('rotate-encryption-key', { clusterName: 'demo', rotationId }, { executionName, startTime: fleet.now(), onWait: (seconds) => fleet.advance(seconds) });
  } finally {
    uninstall();
  }
}

const masterIdsOf = (fleet: SimulatedFleet) => fleet.byRole('master').map((master) => master.instanceId);

describe('rotate-encryption-key on a simulated cluster of 3 masters', () => {
  it('encrypts Secrets from the first master on: the cluster holds one key and every API server loaded it', () => {
    // Prepare + Act: beforeAll bootstrapped the cluster.
    const fleet = freshCluster();

    // Assess
    const model = encryptionOf(fleet.clusters.get('demo')!);
    const [first] = [...model.apiServers.values()];
    expect(first).toHaveLength(2);
    expect(first![0]).toMatch(/^key-\d{14}$/);
    expect([...model.apiServers.keys()].sort()).toEqual(masterIdsOf(fleet).sort());
    for (const providers of model.apiServers.values()) expect(providers).toEqual(first);
    expect([...model.secrets.values()].every((key) => key === first![0])).toBe(true);
    expect(model.violations).toEqual([]);
  });

  it('adds the key second everywhere, then first everywhere, rewrites every Secret, then drops the old key everywhere, one API server at a time', async () => {
    // Prepare
    const fleet = freshCluster();
    const model = encryptionOf(fleet.clusters.get('demo')!);
    const old = [...model.apiServers.values()][0]![0]!;
    const startsBefore = model.starts.length;

    // Act
    const run = await rotate(fleet, 'r1', 'rotate-r1');

    // Assess
    expect(run.error).toBeUndefined();
    const starts = model.starts.slice(startsBefore);
    const masters = masterIdsOf(fleet);
    const inPhase = (keys: string[]) => masters.map((instanceId) => ({ instanceId, keys }));
    expect(starts.map(({ instanceId, keys }) => ({ instanceId, keys }))).toEqual([
      ...inPhase([old, 'key-r1', 'identity']),
      ...inPhase(['key-r1', old, 'identity']),
      ...inPhase(['key-r1', 'identity']),
    ]);
    // One at a time: each restart began after the previous one had finished (modelled time moves on).
    for (let index = 1; index < starts.length; index += 1) expect(starts[index]!.at).toBeGreaterThan(starts[index - 1]!.at);
    const rewrite = fleet.invocations.filter((invocation) => invocation.document === 'RewriteSecrets');
    expect(rewrite).toHaveLength(1);
    expect(rewrite[0]!.startedAt).toBeGreaterThan(starts[5]!.at);
    expect(rewrite[0]!.finishesAt).toBeLessThan(starts[6]!.at);
    expect([...model.secrets.values()].every((key) => key === 'key-r1')).toBe(true);
    expect(model.violations).toEqual([]);
    expect(fleet.parameters.size).toBeGreaterThan(0);
  });

  it('changes nothing when the same rotation runs again: no key move, no restart', async () => {
    // Prepare
    const fleet = freshCluster();
    await rotate(fleet, 'r2', 'rotate-r2-first');
    const model = encryptionOf(fleet.clusters.get('demo')!);
    const starts = model.starts.length;
    const puts = fleet.calls.filter((call) => call.operation === 'PutSecretValue').length;

    // Act
    const again = await rotate(fleet, 'r2', 'rotate-r2-again');

    // Assess
    expect(again.error).toBeUndefined();
    expect(model.starts.length).toBe(starts);
    expect(fleet.calls.filter((call) => call.operation === 'PutSecretValue').length).toBe(puts);
  });

  it('never lets a key reach a payload, a command parameter, a command output or a log line', async () => {
    // Prepare: a failure too, so the error path is covered.
    const fleet = freshCluster();
    fleet.failDocument({ document: 'ApplyEncryptionConfig', skip: 4 });

    // Act
    const runs = [await rotate(fleet, 'r3', 'rotate-r3-first'), await rotate(fleet, 'r3', 'rotate-r3-again')];

    // Assess
    expect(runs[0]!.error).toBeDefined();
    expect(runs[1]!.error).toBeUndefined();
    const keys = fleet.secretValues().filter((value) => /^[A-Za-z0-9+/]{43}=$/.test(value));
    expect(keys.length).toBeGreaterThanOrEqual(2);
    const recorded = everythingRecorded(fleet, runs);
    for (const key of keys) expect(recorded.includes(key), `key ${key.slice(0, 4)}… leaked`).toBe(false);
  });

  it('refuses to rotate while a master is stopped, before any key moves', async () => {
    // Prepare
    const fleet = freshCluster();
    const master = fleet.byRole('master')[1]!;
    master.state = 'stopped';
    const puts = fleet.calls.filter((call) => call.operation === 'PutSecretValue').length;

    // Act
    const run = await rotate(fleet, 'r4', 'rotate-r4');

    // Assess
    expect(run.error?.name).toBe('ClusterStateError');
    expect(run.error?.message).toContain(`${master.instanceId} (stopped`);
    expect(fleet.calls.filter((call) => call.operation === 'PutSecretValue').length).toBe(puts);
  });

  it('never breaks a master when a rotation is interrupted at any step and resumed, however often', async () => {
    // 9 restarts (3 phases x 3 masters) and one rewrite per rotation: interrupt at any of them, once or twice.
    const interruption = fc.oneof(
      fc.record({ document: fc.constant('ApplyEncryptionConfig'), skip: fc.integer({ min: 0, max: 8 }) }),
      fc.record({ document: fc.constant('RewriteSecrets'), skip: fc.constant(0) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(interruption, { minLength: 1, maxLength: 2 }), async (interruptions) => {
        // Prepare
        const fleet = freshCluster();
        const model = encryptionOf(fleet.clusters.get('demo')!);
        for (const fault of interruptions) fleet.failDocument(fault);

        // Act: run until it succeeds, as an operator resuming with the same rotation id would.
        const runs: LocalRun[] = [];
        for (let attempt = 0; attempt <= interruptions.length; attempt += 1) {
          runs.push(await rotate(fleet, 'prop', `rotate-prop-${attempt}`));
          if (!runs.at(-1)!.error) break;
        }

        // Assess
        expect(runs.at(-1)!.error).toBeUndefined();
        expect(model.violations).toEqual([]);
        expect([...model.apiServers.values()].every((providers) => providers.join() === 'key-prop,identity')).toBe(true);
        expect([...model.secrets.values()].every((key) => key === 'key-prop')).toBe(true);
      }),
      { numRuns: 8, seed: 4242 },
    );
  });
});
