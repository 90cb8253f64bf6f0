// The simulated account on disk: the fleet survives a save and a load whole, identifiers never
// repeat across runs, and two commands on one account take turns.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openAccount } from '../../cli/simulated-account.js';
import { SimulatedFleet } from '../../sim/fleet.js';
import { restoreFleet, snapshotFleet } from '../../sim/snapshot.js';
import { temporaryDirectory } from './support.js';

let directory: string;
let env: Record<string, string>;

beforeEach(() => {
  directory = temporaryDirectory();
  env = { KUBEHA_STATE_DIR: directory };
});
afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('snapshotFleet and restoreFleet', () => {
  it('bring back every instance, address, secret and the clock, and a fleet that still works', () => {
    // Prepare
    const fleet = SimulatedFleet.standard({ clusterName: 'prod-eu' });
    fleet.advance(90);
    fleet.stopInstance(fleet.byRole('worker')[0]!.instanceId);

    // Act
    const restored = restoreFleet(snapshotFleet(fleet), 99);

    // Assess
    expect([...restored.instances.values()]).toEqual([...fleet.instances.values()]);
    expect([...restored.addresses.values()]).toEqual([...fleet.addresses.values()]);
    expect([...restored.secrets.keys()]).toEqual([...fleet.secrets.keys()]);
    expect(restored.now()).toBe(fleet.now());
    expect(restored.byRole('worker').map((worker) => worker.state)).toEqual(['stopped', 'running', 'running']);
    expect(restored.instances.get(fleet.byRole('master')[0]!.instanceId)?.launchTime).toBeInstanceOf(Date);
  });

  it('hands out new identifiers after a restore with a new seed, never one that exists', () => {
    // Prepare: the standard fleet draws its identifiers from seed 7.
    const fleet = SimulatedFleet.standard({ clusterName: 'prod-eu' });
    const restored = restoreFleet(snapshotFleet(fleet), 7 + 7919);
    const subnet = [...restored.subnets.keys()][0]!;

    // Act: as many instances again (with seed 7 again, the third would repeat the first's id).
    const added = Array.from({ length: 8 }, () => restored.addInstance({ clusterName: 'prod-eu', role: 'worker', subnetId: subnet }).instanceId);

    // Assess
    expect(added.filter((instanceId) => fleet.instances.has(instanceId))).toEqual([]);
  });
});

describe('openAccount', () => {
  it('keeps what a command saved for the next one', async () => {
    // Prepare
    const first = await openAccount(env, 'default');
    first.addCluster('prod-eu');
    await first.save();
    await first.release();

    // Act
    const second = await openAccount(env, 'default');

    // Assess
    expect(second.clusters()).toEqual(['prod-eu']);
    expect(second.fleet.byRole('master')).toHaveLength(3);
    await second.release();
  });

  it('makes a second command wait until the first lets go of the account', async () => {
    // Prepare
    const first = await openAccount(env, 'default');
    const events: string[] = [];

    // Act
    const second = openAccount(env, 'default').then((account) => {
      events.push('second opened');
      return account;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    events.push('first releases');
    await first.release();
    await (await second).release();

    // Assess
    expect(events).toEqual(['first releases', 'second opened']);
  });

  it('keeps one file per simulated account', async () => {
    const account = await openAccount(env, 'runbook');
    await account.save();
    await account.release();
    expect(account.path).toBe(join(directory, 'simulated-runbook.v8'));
  });
});
