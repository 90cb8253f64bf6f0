import { DeleteSnapshotCommand, DeregisterImageCommand, DescribeImagesCommand, DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { handler as discardNodeImage } from '../../functions/discard-node-image.js';
import { ABANDONED_IMAGE_MS, IMAGE_BUILD_TAG, IMAGE_CLUSTER_TAG, KEPT_NODE_IMAGES, ORPHAN_SNAPSHOT_MS, planImagePrune } from '../../functions/core/node-image.js';
import type { ImageFacts } from '../../functions/core/ports.js';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const HOUR = 3_600_000;

/** An image a kubeha build made `ageHours` ago, with one snapshot named after it. */
function image(name: string, ageHours: number, state: ImageFacts['state'] = 'available'): ImageFacts {
  return { imageId: `ami-${name}`, state, createdAt: NOW - ageHours * HOUR, snapshotIds: [`snap-${name}`], tags: { [IMAGE_BUILD_TAG]: `build-${name}`, [IMAGE_CLUSTER_TAG]: 'demo' } };
}

/** The snapshots DescribeSnapshots lists for these images (tagged like them), plus any extra ones. */
function snapshotsOf(images: readonly ImageFacts[], extra: { snapshotId: string; build: string; ageHours: number }[] = []) {
  return [
    ...images.map((candidate) => ({ snapshotId: candidate.snapshotIds[0]!, startedAt: candidate.createdAt, tags: candidate.tags })),
    ...extra.map((snapshot) => ({ snapshotId: snapshot.snapshotId, startedAt: NOW - snapshot.ageHours * HOUR, tags: { [IMAGE_BUILD_TAG]: snapshot.build, [IMAGE_CLUSTER_TAG]: 'demo' } })),
  ];
}

describe('planImagePrune', () => {
  it('keeps the recorded image and the one before it, and removes older ones with their snapshots', () => {
    // Prepare
    const images = [image('a', 72), image('b', 48), image('c', 24), image('d', 1)];

    // Act
    const plan = planImagePrune({ images, snapshots: snapshotsOf(images), recordedImageId: 'ami-d', keep: KEPT_NODE_IMAGES, now: NOW });

    // Assess
    expect(plan.kept.sort()).toEqual(['ami-c', 'ami-d']);
    expect(plan.deregister.sort()).toEqual(['ami-a', 'ami-b']);
    expect(plan.deleteSnapshots.sort()).toEqual(['snap-a', 'snap-b']);
  });

  it('keeps the recorded image even when a newer one exists, plus the newest other', () => {
    const images = [image('old', 72), image('recorded', 48), image('mid', 24), image('newest', 1)];

    const plan = planImagePrune({ images, snapshots: snapshotsOf(images), recordedImageId: 'ami-recorded', keep: 2, now: NOW });

    expect(plan.kept.sort()).toEqual(['ami-newest', 'ami-recorded']);
    expect(plan.deregister.sort()).toEqual(['ami-mid', 'ami-old']);
  });

  it('removes failed images whatever their age, and never counts them among the kept', () => {
    const images = [image('previous', 48), image('failed', 2, 'failed'), image('current', 1)];

    const plan = planImagePrune({ images, snapshots: snapshotsOf(images), recordedImageId: 'ami-current', keep: 2, now: NOW });

    expect(plan.kept.sort()).toEqual(['ami-current', 'ami-previous']);
    expect(plan.deregister).toEqual(['ami-failed']);
    expect(plan.deleteSnapshots).toEqual(['snap-failed']);
  });

  it("leaves a build still running alone (its pending image and its snapshots), and removes one abandoned past the workflow's timeout", () => {
    // Prepare: a running build's snapshot may not be listed by its image yet; an abandoned build's image is old.
    const running = image('running', 0.2, 'pending');
    const abandoned = image('abandoned', ABANDONED_IMAGE_MS / HOUR + 1, 'pending');
    const images = [image('previous', 48), image('current', 1), running, abandoned];

    // Act
    const plan = planImagePrune({ images, snapshots: snapshotsOf(images, [{ snapshotId: 'snap-running-2', build: 'build-running', ageHours: 0.2 }]), recordedImageId: 'ami-current', keep: 2, now: NOW });

    // Assess
    expect(plan.kept).toContain('ami-running');
    expect(plan.deregister).toEqual(['ami-abandoned']);
    expect(plan.deleteSnapshots).toEqual(['snap-abandoned']);
  });

  it('deletes snapshots an interrupted clean-up left without an image once they are old, not a young one EC2 may not list yet', () => {
    const images = [image('previous', 48), image('current', 1)];
    const extra = [
      { snapshotId: 'snap-left-behind', build: 'build-gone', ageHours: ORPHAN_SNAPSHOT_MS / HOUR + 1 },
      { snapshotId: 'snap-just-taken', build: 'build-new', ageHours: 0.1 },
    ];

    const plan = planImagePrune({ images, snapshots: snapshotsOf(images, extra), recordedImageId: 'ami-current', keep: 2, now: NOW });

    expect(plan.deregister).toEqual([]);
    expect(plan.deleteSnapshots).toEqual(['snap-left-behind']);
  });

  it('never removes an image no kubeha build made (no build tag), nor a snapshot a kept image lists', () => {
    const foreign: ImageFacts = { ...image('foreign', 100), tags: { [IMAGE_CLUSTER_TAG]: 'demo' } };
    const shared: ImageFacts = { ...image('old', 72), snapshotIds: ['snap-old', 'snap-current'] };
    const images = [foreign, shared, image('previous', 48), image('current', 1)];

    const plan = planImagePrune({ images, snapshots: snapshotsOf(images), recordedImageId: 'ami-current', keep: 2, now: NOW });

    expect(plan.deregister).toEqual(['ami-old']);
    expect(plan.deleteSnapshots).toEqual(['snap-old']);
  });

  it('keeps only the recorded image when asked to keep one', () => {
    const images = [image('previous', 48), image('current', 1)];

    const plan = planImagePrune({ images, snapshots: snapshotsOf(images), recordedImageId: 'ami-current', keep: 1, now: NOW });

    expect(plan.kept).toEqual(['ami-current']);
    expect(plan.deregister).toEqual(['ami-previous']);
  });
});

describe('discard-node-image handler', () => {
  const ec2 = mockClient(EC2Client);
  const ssm = mockClient(SSMClient);
  const context = { awsRequestId: 'test-request' } as never;
  const awsError = (name: string) => Object.assign(new Error(name), { name });

  beforeEach(() => {
    ec2.reset();
    ssm.reset();
    ssm.on(GetParameterCommand).rejects(awsError('ParameterNotFound'));
  });

  it('refuses a malformed build id, naming the field, before any EC2 call', async () => {
    // Act
    const run = discardNodeImage({ buildId: 'not-a-build', clusterName: 'demo', executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:x:y' }, context);

    // Assess
    await expect(run).rejects.toMatchObject({ name: 'InputValidationError', message: expect.stringContaining('buildId') });
    expect(ec2.calls()).toHaveLength(0);
  });

  it('deregisters the image first, and fails with SnapshotInUseError for Step Functions to retry while EC2 still holds its snapshot', async () => {
    // Prepare: EC2 still reports the snapshot in use just after the deregistration.
    const tags = [{ Key: IMAGE_BUILD_TAG, Value: '0123456789abcdef' }, { Key: IMAGE_CLUSTER_TAG, Value: 'demo' }];
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-0123456789abcdef0', State: 'failed', CreationDate: '2026-11-30T11:00:00.000Z', BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { SnapshotId: 'snap-0123456789abcdef0' } }], Tags: tags }] });
    ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: 'snap-0123456789abcdef0', Tags: tags }] });
    ec2.on(DeregisterImageCommand).resolves({});
    ec2.on(DeleteSnapshotCommand).rejects(awsError('InvalidSnapshot.InUse'));

    // Act
    const run = discardNodeImage({ buildId: '0123456789abcdef', clusterName: 'demo', executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:x:y' }, context);

    // Assess
    await expect(run).rejects.toMatchObject({ name: 'SnapshotInUseError', message: expect.stringContaining('snap-0123456789abcdef0') });
    expect(ec2).toHaveReceivedCommandWith(DeregisterImageCommand, { ImageId: 'ami-0123456789abcdef0' });
    expect(ec2).toHaveReceivedCommandWith(DescribeImagesCommand, { Owners: ['self'], Filters: [{ Name: `tag:${IMAGE_BUILD_TAG}`, Values: ['0123456789abcdef'] }] });
  });
});
