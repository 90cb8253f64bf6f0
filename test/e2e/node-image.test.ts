import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { readClusterSettings } from '../../functions/core/bootstrap.js';
import type { DrillReport } from '../../functions/core/drill.js';
import { IMAGE_BUILD_TAG, IMAGE_CLUSTER_TAG, IMAGE_DIGEST_TAG, IMAGE_VERSION_TAG, discardBuildImage } from '../../functions/core/node-image.js';
import { ports } from '../../functions/adapters/index.js';
import { settingsParameterName } from '../../functions/core/join-material.js';
import { LOCAL_DOCUMENT_SUFFIX } from '../../sim/control-plane.js';
import { DEREGISTERED_VISIBLE_SECONDS } from '../../sim/ec2.js';
import { IMAGE_PENDING_SECONDS } from '../../sim/latency.js';
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

  it('waits for a builder DescribeInstances does not list for minutes after its launch (EC2 is eventually consistent)', async () => {
    // Prepare
    const cluster = await bootstrappedCluster();
    cluster.fleet.describeLagSeconds = 120;

    // Act
    const run = await cluster.plane.execute('build-node-image', 'image-lag', { clusterName: 'demo' });

    // Assess
    expect(run.error).toBeUndefined();
    expect(cluster.fleet.images.get((run.output as { imageId: string }).imageId)?.state).toBe('available');
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

  it('still heals from the recorded image after older images were removed', async () => {
    // Prepare: three builds, the first one removed by the third.
    const cluster = await bootstrappedCluster();
    for (const name of ['image-1', 'image-2', 'image-3']) expect((await cluster.plane.execute('build-node-image', name, { clusterName: 'demo' })).error).toBeUndefined();
    const recorded = (await readClusterSettings('demo', ports))!.nodeImage!.imageId;
    cluster.plane.enableEventBridge();

    // Act
    const run = await cluster.plane.execute('drill-cluster', 'drill-after-prune', { clusterName: 'demo', target: 'worker', action: 'terminate' });

    // Assess
    expect(run.error).toBeUndefined();
    expect((run.output as DrillReport).healed).toBe(true);
    const replacement = [...cluster.fleet.instances.values()].find((instance) => instance.tags['kubeha:replaces'] !== undefined)!;
    expect(replacement.imageId).toBe(recorded);
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

describe('images and snapshots in the simulated EC2, through the adapter', () => {
  /** An available image of a running worker, made as a build makes it (tagged, its snapshots too). */
  async function madeImage(cluster: Cluster, buildId: string) {
    const worker = cluster.fleet.byRole('worker')[0]!;
    const imageId = await ports.ec2.createImage(worker.instanceId, `kubeha-demo-test-${buildId}`, { [IMAGE_BUILD_TAG]: buildId, [IMAGE_CLUSTER_TAG]: 'demo' });
    cluster.fleet.advance(IMAGE_PENDING_SECONDS + 1);
    const [facts] = await ports.ec2.findImages({ [IMAGE_BUILD_TAG]: buildId });
    return { imageId, facts: facts!, worker };
  }

  it('refuses to delete a snapshot a registered image lists, deletes it once the image is deregistered, and tolerates both being gone', async () => {
    // Prepare
    const cluster = await bootstrappedCluster();
    const { imageId, facts } = await madeImage(cluster, '0123456789abcdef');
    const [snapshotId] = facts.snapshotIds;

    // Act
    const whileRegistered = await ports.ec2.deleteSnapshot(snapshotId!);
    const first = await ports.ec2.deregisterImage(imageId);
    const again = await ports.ec2.deregisterImage(imageId);
    const listedAfter = await ports.ec2.findImages({ [IMAGE_BUILD_TAG]: '0123456789abcdef' });
    const raw = await new EC2Client({}).send(new DescribeImagesCommand({ ImageIds: [imageId] }));
    const deleted = await ports.ec2.deleteSnapshot(snapshotId!);
    const deletedAgain = await ports.ec2.deleteSnapshot(snapshotId!);
    cluster.fleet.advance(DEREGISTERED_VISIBLE_SECONDS + 1);
    const forgotten = await ports.ec2.deregisterImage(imageId);

    // Assess
    expect(facts).toMatchObject({ state: 'available', tags: { [IMAGE_BUILD_TAG]: '0123456789abcdef', [IMAGE_CLUSTER_TAG]: 'demo' } });
    expect(facts.snapshotIds).toHaveLength(cluster.fleet.byRole('worker')[0]!.volumes.length);
    expect(cluster.fleet.ebsSnapshots.has(snapshotId!)).toBe(false);
    expect([whileRegistered, first, again, deleted, deletedAgain, forgotten]).toEqual(['inUse', 'deregistered', 'gone', 'deleted', 'gone', 'gone']);
    // DescribeImages still lists a deregistered image for a while; the adapter leaves it out.
    expect(raw.Images?.map((image) => image.State)).toEqual(['deregistered']);
    expect(listedAfter).toEqual([]);
  });

  it('tags the snapshots CreateImage takes as the image, so a build finds them by its tag', async () => {
    const cluster = await bootstrappedCluster();
    const { facts } = await madeImage(cluster, 'fedcba9876543210');

    const found = await ports.ec2.findSnapshots({ [IMAGE_BUILD_TAG]: 'fedcba9876543210' });

    expect(found.map((snapshot) => snapshot.snapshotId).sort()).toEqual([...facts.snapshotIds].sort());
    expect(found[0]!.tags).toEqual({ [IMAGE_BUILD_TAG]: 'fedcba9876543210', [IMAGE_CLUSTER_TAG]: 'demo' });
  });

  it('launches nothing from a deregistered image', async () => {
    const cluster = await bootstrappedCluster();
    const { imageId, worker } = await madeImage(cluster, '00112233445566ff');
    await ports.ec2.deregisterImage(imageId);

    const launch = ports.ec2.runInstance({ imageId, instanceType: 't3.medium', subnetId: worker.subnetId, securityGroupIds: [], tags: { [IMAGE_BUILD_TAG]: 'x' } }, { clientToken: 'deregistered-launch' });

    await expect(launch).rejects.toMatchObject({ message: expect.stringContaining('no longer available') });
  });

  it("discards a build's image once, finds nothing the second time, and never discards the recorded image", async () => {
    // Prepare: two builds' images; the second is the one the settings record.
    const cluster = await bootstrappedCluster();
    const failed = await madeImage(cluster, 'aaaaaaaaaaaaaaaa');
    const recorded = await madeImage(cluster, 'bbbbbbbbbbbbbbbb');
    const settings = (await readClusterSettings('demo', ports))!;
    await ports.ssm.putParameter(settingsParameterName('demo'), JSON.stringify({ ...settings, nodeImage: { imageId: recorded.imageId, kubernetesVersion: '1.36.4', documentDigest: 'local', baseImageId: recorded.worker.imageId, builtAt: new Date(0).toISOString() } }));

    // Act
    const first = await discardBuildImage({ buildId: 'aaaaaaaaaaaaaaaa', clusterName: 'demo' }, ports);
    const second = await discardBuildImage({ buildId: 'aaaaaaaaaaaaaaaa', clusterName: 'demo' }, ports);
    const ofRecorded = await discardBuildImage({ buildId: 'bbbbbbbbbbbbbbbb', clusterName: 'demo' }, ports);

    // Assess
    expect(first).toEqual({ deregistered: [failed.imageId], deletedSnapshots: [...failed.facts.snapshotIds] });
    expect(second).toEqual({ deregistered: [], deletedSnapshots: [] });
    expect(ofRecorded).toEqual({ deregistered: [], deletedSnapshots: [], keptRecorded: recorded.imageId });
    expect(cluster.fleet.images.get(recorded.imageId)?.state).toBe('available');
    for (const snapshotId of recorded.facts.snapshotIds) expect(cluster.fleet.ebsSnapshots.has(snapshotId)).toBe(true);
  });
});
