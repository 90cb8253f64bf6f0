// `kubeha plan` on a cluster that already has warm standbys: the ones it keeps, the ones reconcile will
// retire and the ones still missing, per role and zone, read from the simulated account's EC2.
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../cli/backend.js';
import { plan } from '../../cli/commands/plan.js';
import { createSimulatedBackend } from '../../cli/simulated-backend.js';
import type { SimInstance } from '../../sim/fleet.js';
import { capturedOutput, EXAMPLE, inputFile, temporaryDirectory } from './support.js';

let backend: Backend | undefined;
afterEach(async () => {
  await backend?.close();
  backend = undefined;
});

const captured = (json = false) => capturedOutput({ json, columns: 80 });

/** A standby as reconcile leaves it: the cluster and standby tags, no role; a ready one stopped. */
function addStandby(role: 'master' | 'worker', zone: string, state: 'ready' | 'preparing', version = '1.36.4'): SimInstance {
  const fleet = backend!.simulation!.fleet;
  const subnet = [...fleet.subnets.values()].find((candidate) => candidate.availabilityZone === zone)!;
  const standby = fleet.addInstance({ clusterName: 'prod-eu', subnetId: subnet.subnetId, extraTags: { 'kubeha:standby-for': role, 'kubeha:standby-state': state, 'kubeha:standby-version': version } });
  if (state === 'ready') standby.state = 'stopped';
  return standby;
}

describe('kubeha plan with warm standbys', () => {
  it('shows per role and zone which are ready, preparing, missing and retiring, and keeps them out of the instances', async () => {
    // Prepare: three master standbys and one worker asked for; ready in a, preparing in b, one of an older
    // version in c, a worker standby ready.
    backend = createSimulatedBackend({ clusterName: 'prod-eu', elasticIpAllocationId: 'eipalloc-0abc12345def67890' });
    const ready = addStandby('master', 'eu-west-1a', 'ready');
    const preparing = addStandby('master', 'eu-west-1b', 'preparing');
    const outdated = addStandby('master', 'eu-west-1c', 'ready', '1.36.3');
    const worker = addStandby('worker', 'eu-west-1b', 'ready');
    const input = inputFile(temporaryDirectory(), { healing: { standbys: { master: 3, worker: 1 } } });
    const out = captured();
    const json = captured(true);

    // Act
    const code = await plan({ clusterName: 'prod-eu', inputPath: input }, backend, out);
    await plan({ clusterName: 'prod-eu', inputPath: input }, backend, json);

    // Assess
    expect(code).toBe(0);
    const lines = out.text().split('\n');
    const row = (instanceId: string) => lines.find((line) => line.includes(instanceId));
    expect(row(ready.instanceId)).toMatch(/^master +eu-west-1a +ready +i-[0-9a-f]+$/);
    expect(row(preparing.instanceId)).toMatch(/^master +eu-west-1b +preparing /);
    expect(row(outdated.instanceId)).toMatch(/^master +eu-west-1c +retiring +i-[0-9a-f]+ +prepared for Kubernetes$/);
    expect(row(worker.instanceId)).toMatch(/^worker +eu-west-1b +ready /);
    expect(lines).toContainEqual(expect.stringMatching(/^master +eu-west-1c +missing +- +reconcile launches it$/));
    expect(out.text()).toContain('Cluster prod-eu: 8 tagged instance(s)');
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(80);
    const parsed = JSON.parse(json.text()) as { instances: { instanceId: string }[]; standbys: { state: string; instanceId?: string }[] };
    expect(parsed.instances.map((instance) => instance.instanceId)).not.toContain(ready.instanceId);
    expect(parsed.standbys.map((standby) => standby.state)).toEqual(['ready', 'preparing', 'missing', 'retiring', 'ready']);
  });

  it('shows the standbys a lowered setting leaves as retiring', async () => {
    backend = createSimulatedBackend({ clusterName: 'prod-eu', elasticIpAllocationId: 'eipalloc-0abc12345def67890' });
    const standby = addStandby('master', 'eu-west-1a', 'ready');
    const out = captured(true);

    await plan({ clusterName: 'prod-eu', inputPath: EXAMPLE }, backend, out);

    expect((JSON.parse(out.text()) as { standbys: unknown[] }).standbys).toEqual([
      { role: 'master', zone: 'eu-west-1a', state: 'retiring', instanceId: standby.instanceId, note: 'more master standbys than the 0 wanted' },
    ]);
  });
});
