import { describe, expect, it } from 'vitest';
import { readClusterSettings } from '../../functions/core/bootstrap.js';
import type { DrillReport } from '../../functions/core/drill.js';
import { IMAGE_BUILD_TAG, IMAGE_DIGEST_TAG, IMAGE_VERSION_TAG } from '../../functions/core/node-image.js';
import { ports } from '../../functions/adapters/index.js';
import { LOCAL_DOCUMENT_SUFFIX } from '../../sim/control-plane.js';
import { bootstrappedCluster } from '../support/cluster.js';

type Cluster = Awaited<ReturnType<typeof bootstrappedCluster>>;

const builders = ({ fleet }: Cluster) => [...fleet.instances.values()].filter((instance) => instance.tags[IMAGE_BUILD_TAG] !== undefined);
const registered = ({ fleet }: Cluster) => [...fleet.images.values()].filter((image) => image.state !== 'deregistered');

describe('build-node-image', () => {
  it('bakes the image from the base image, records it with its version and digest, and terminates the builder', async () => {
    // Prepare
    const cluster = await bootstrappedCluster();
    const baseImageId = [...cluster.fleet.instances.values()].find((instance) => instance.tags['kubeha:role'] === 'worker')!.imageId;

    // Act
    const run = await cluster.plane.execute('build-node-image', 'image-1', { clusterName: 'demo' });

    // Assess
    expect(run.error).toBeUndefined();
    const output = run.output as { imageId: string; kubernetesVersion: string; documentDigest: string };
    const image = cluster.fleet.images.get(output.imageId)!;
    expect(image.state).toBe('available');
    expect(image.tags[IMAGE_VERSION_TAG]).toBe('1.36.4');
    expect(image.tags[IMAGE_DIGEST_TAG]).toBe(LOCAL_DOCUMENT_SUFFIX.slice(1));
    expect(image.baked).toEqual({ prerequisites: { kubernetesVersion: '1.36.4', role: 'node' }, imagesPulled: '1.36.4' });
    const [builder] = builders(cluster);
    expect(builder!.imageId).toBe(baseImageId);
    expect(['shutting-down', 'terminated']).toContain(builder!.state);
    // The builder was never part of the cluster: no cluster or role tag.
    expect(Object.keys(builder!.tags).filter((key) => key.startsWith('kubernetes.io/cluster/') || key === 'kubeha:role')).toEqual([]);
    expect((await readClusterSettings('demo', ports))?.nodeImage).toMatchObject({ imageId: output.imageId, kubernetesVersion: '1.36.4', baseImageId });
    // CreateImage leaves the AMI pending for minutes: the workflow waited for it, it did not record it early.
    const created = cluster.fleet.calls.findIndex((call) => call.operation === 'CreateImage');
    expect(cluster.fleet.calls.filter((call, index) => index > created && call.operation === 'DescribeImages').length).toBeGreaterThan(2);
    cluster.plane.stop();
  });

  it('leaves no builder and records no image when preparing the builder fails', async () => {
    // Prepare
    const cluster = await bootstrappedCluster();
    cluster.fleet.faults.push({ document: 'PrepareNodeImage', remaining: 1, stderr: 'E: Unable to locate package kubeadm' });

    // Act
    const run = await cluster.plane.execute('build-node-image', 'image-fails', { clusterName: 'demo' });

    // Assess
    expect(run.error?.name).toBe('CommandFailedError');
    expect(builders(cluster).map((builder) => builder.state).filter((state) => state !== 'shutting-down' && state !== 'terminated')).toEqual([]);
    expect(builders(cluster)).toHaveLength(1);
    expect(cluster.fleet.images.size).toBe(0);
    expect((await readClusterSettings('demo', ports))?.nodeImage).toBeUndefined();
    cluster.plane.stop();
  });

  it('leaves no builder and records no image when the image fails after CreateImage', async () => {
    // Prepare
    const cluster = await bootstrappedCluster();
    cluster.fleet.imageFaults = 1;

    // Act
    const run = await cluster.plane.execute('build-node-image', 'image-fails-late', { clusterName: 'demo' });

    // Assess
    expect(run.error?.name).toBe('NodeImageFailedError');
    // CreateImage took a snapshot of the builder's volume; the failed AMI and that snapshot are gone again.
    expect(cluster.fleet.calls.filter((call) => call.operation === 'CreateImage')).toHaveLength(1);
    expect([...cluster.fleet.images.values()].map((image) => image.state)).toEqual(['deregistered']);
    expect(registered(cluster)).toEqual([]);
    expect([...cluster.fleet.ebsSnapshots.keys()]).toEqual([]);
    expect(builders(cluster).every((builder) => builder.state === 'shutting-down' || builder.state === 'terminated')).toBe(true);
    expect((await readClusterSettings('demo', ports))?.nodeImage).toBeUndefined();
    cluster.plane.stop();
  });

  it('discards the available image and its snapshots when recording it fails, and keeps the first error', async () => {
    // Prepare: from the builder's preparation on, Parameter Store refuses every write for longer than the
    // record's retries last (the record is the build's first write).
    const cluster = await bootstrappedCluster();
    const settingsBefore = await readClusterSettings('demo', ports);
    cluster.fleet.commandSentHooks.push((document) => {
      if (document === 'PrepareNodeImage') cluster.fleet.throttle('PutParameter', 1000);
    });

    // Act
    const run = await cluster.plane.execute('build-node-image', 'image-record-fails', { clusterName: 'demo' });

    // Assess
    expect(run.error?.name).toBe('AwsThrottledError');
    const [image] = [...cluster.fleet.images.values()];
    expect(image?.state).toBe('deregistered');
    expect(image?.snapshotIds.length).toBeGreaterThan(0);
    expect([...cluster.fleet.ebsSnapshots.keys()]).toEqual([]);
    expect((await readClusterSettings('demo', ports))?.nodeImage).toEqual(settingsBefore?.nodeImage);
    cluster.plane.stop();
  });

  it('keeps the recorded image and the one before it, and removes older images with their snapshots', async () => {
    // Prepare
    const cluster = await bootstrappedCluster();
    const build = async (name: string) => {
      const run = await cluster.plane.execute('build-node-image', name, { clusterName: 'demo' });
      expect(run.error).toBeUndefined();
      return run.output as { imageId: string; removedImageIds: string[] };
    };

    // Act
    const first = await build('image-first');
    const second = await build('image-second');
    const snapshotsOfFirst = cluster.fleet.images.get(first.imageId)!.snapshotIds;
    const third = await build('image-third');

    // Assess
    expect(first.removedImageIds).toEqual([]);
    expect(second.removedImageIds).toEqual([]);
    expect(third.removedImageIds).toEqual([first.imageId]);
    expect(registered(cluster).map((image) => image.imageId).sort()).toEqual([second.imageId, third.imageId].sort());
    for (const snapshotId of snapshotsOfFirst) expect(cluster.fleet.ebsSnapshots.has(snapshotId)).toBe(false);
    const kept = [second, third].flatMap(({ imageId }) => cluster.fleet.images.get(imageId)!.snapshotIds);
    expect([...cluster.fleet.ebsSnapshots.keys()].sort()).toEqual(kept.sort());
    expect((await readClusterSettings('demo', ports))?.nodeImage?.imageId).toBe(third.imageId);
    cluster.plane.stop();
  });

  it('names the field when the input is wrong, and the cluster when it was never bootstrapped, before launching anything', async () => {
    const cluster = await bootstrappedCluster();

    const bad = await cluster.plane.execute('build-node-image', 'image-bad', { clusterName: 'Not A Name' });
    const unknown = await cluster.plane.execute('build-node-image', 'image-unknown', { clusterName: 'other' });

    expect(bad.error?.name).toBe('InputValidationError');
    expect(bad.error?.message).toContain('clusterName');
    expect(unknown.error?.name).toBe('ClusterStateError');
    expect(unknown.error?.message).toContain('other');
    expect(cluster.fleet.calls.filter((call) => call.operation === 'RunInstances')).toEqual([]);
    cluster.plane.stop();
  });
});

describe('healing with a prepared node image', () => {
  async function healTime(prepared: boolean, target: 'master' | 'worker'): Promise<DrillReport> {
    const cluster = await bootstrappedCluster();
    if (prepared) expect((await cluster.plane.execute('build-node-image', 'image', { clusterName: 'demo' })).error).toBeUndefined();
    cluster.plane.enableEventBridge();
    const run = await cluster.plane.execute('drill-cluster', `drill-${target}`, { clusterName: 'demo', target, action: 'terminate' });
    expect(run.error).toBeUndefined();
    const replacement = [...cluster.fleet.instances.values()].find((instance) => instance.tags['kubeha:replaces'] !== undefined)!;
    expect(replacement.imageId === cluster.fleet.images.keys().next().value).toBe(prepared);
    cluster.plane.stop();
    return run.output as DrillReport;
  }

  it.each(['master', 'worker'] as const)('replaces a terminated %s faster in modelled time than from the base image', async (target) => {
    const base = await healTime(false, target);
    const prepared = await healTime(true, target);

    expect(base.healed && prepared.healed).toBe(true);
    expect(prepared.timeToHealSeconds).toBeLessThan(base.timeToHealSeconds);
  });
});
