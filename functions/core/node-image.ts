// Prepared node images: an AMI made from the cluster's base image with the pinned containerd, kubelet and
// kubeadm installed and the images kubeadm pulls already in containerd, so a replacement node skips most of
// install-prerequisites and kubeadm's image pulls. The build runs on a builder instance that carries only
// kubeha:image-build (no cluster or role tag: discovery, healing and reconcile never see it), and that
// tag is how the build finds its builder to terminate it, whatever step failed.
//
// Images cost while they exist: the AMI is free, its EBS snapshots are billed per GB-month until deleted, and
// deregistering an AMI deletes none of them (DeregisterImage, EC2 API reference). So a failed build discards its
// own image and snapshots (found by its build tag), and a recorded build removes this cluster's older images,
// keeping the recorded one and the one before it (KEPT_NODE_IMAGES).
import { createHash } from 'node:crypto';
import { readClusterSettings, type ClusterSettings } from './bootstrap.js';
import { BOOT_DEADLINE_MS } from './command-timing.js';
import { ClusterStateError, NodeImageFailedError, SnapshotInUseError } from './errors.js';
import { readLaunchRecords } from './launch-records.js';
import { settingsParameterName } from './join-material.js';
import type { ImageFacts, LaunchSpec, Ports } from './ports.js';

export const IMAGE_BUILD_TAG = 'kubeha:image-build';
export const IMAGE_CLUSTER_TAG = 'kubeha:image-cluster';
export const IMAGE_VERSION_TAG = 'kubeha:kubernetes-version';
export const IMAGE_DIGEST_TAG = 'kubeha:document-digest';

/** What the cluster settings hold about the prepared image that nodes of this cluster launch from. */
export interface NodeImage {
  readonly imageId: string;
  readonly kubernetesVersion: string;
  /** The digest of the document set that prepared it (the functions' KUBEHA_DOCUMENT_SUFFIX). */
  readonly documentDigest: string;
  /** The image it was made from: the next build starts from it again, not from a prepared image. */
  readonly baseImageId: string;
  readonly builtAt: string;
}

/** One build, as it travels between the state machine's steps: identifiers and a small launch spec. */
export interface ImageBuild {
  readonly buildId: string;
  /** The recorded cluster context: SendCommand's document parameters come from it. */
  readonly cluster: ClusterSettings['cluster'];
  readonly clusterName: string;
  readonly kubernetesVersion: string;
  readonly documentDigest: string;
  readonly baseImageId: string;
  readonly builder: LaunchSpec;
}

export type ImageState = 'pending' | 'available' | 'failed';

/** The build id: from the execution, so every retried step of one build agrees on it. */
export function buildIdOf(executionArn: string): string {
  return createHash('sha256').update(executionArn).digest('hex').slice(0, 16);
}

export function imageName(build: Pick<ImageBuild, 'clusterName' | 'kubernetesVersion' | 'buildId'>): string {
  return `kubeha-${build.clusterName}-k8s-${build.kubernetesVersion}-${build.buildId}`;
}

/**
 * Plans a build from what bootstrap recorded: the cluster's Kubernetes version, and a worker's (else a
 * master's) launch facts for the builder's subnet, groups, profile and volumes. Changes nothing.
 */
export async function planImageBuild(input: { clusterName: string; executionArn: string; documentDigest: string }, ports: Pick<Ports, 'ssm' | 'state'>): Promise<ImageBuild> {
  const settings = await readClusterSettings(input.clusterName, ports);
  if (!settings) throw new ClusterStateError(`cluster ${input.clusterName} has no recorded settings: bootstrap it with kubeha before building its node image`);
  const records = (await readLaunchRecords(input.clusterName, ports)).map((item) => item.value);
  const model = records.find((record) => record.role === 'worker') ?? records.find((record) => record.role === 'master');
  if (!model) throw new ClusterStateError(`kubeha holds no launch record of a master or worker of ${input.clusterName} to model the image builder on: run bootstrap-cluster again, which records every running node`);
  const baseImageId = settings.nodeImage?.baseImageId ?? model.imageId;
  const buildId = buildIdOf(input.executionArn);
  return {
    buildId,
    cluster: settings.cluster,
    clusterName: input.clusterName,
    kubernetesVersion: settings.cluster.kubernetesVersion,
    documentDigest: input.documentDigest,
    baseImageId,
    builder: {
      imageId: baseImageId,
      instanceType: model.instanceType,
      subnetId: model.subnetId,
      securityGroupIds: model.securityGroupIds,
      iamInstanceProfileArn: model.iamInstanceProfileArn,
      blockDevices: model.blockDevices,
      tags: { [IMAGE_BUILD_TAG]: buildId, [IMAGE_CLUSTER_TAG]: input.clusterName, Name: `kubeha-image-builder-${input.clusterName}` },
    },
  };
}

/** Launches the builder; the build id is the client token, so a retried Task gets the same instance. */
export async function launchImageBuilder(build: ImageBuild, ports: Pick<Ports, 'ec2' | 'clock'>): Promise<{ builderId: string; readyBy: number; launchedAt: number }> {
  const launched = await ports.ec2.runInstance(build.builder, { clientToken: `kubeha-image-${build.buildId}` });
  if (launched === 'addressInUse') throw new NodeImageFailedError('EC2 reported an address conflict for a builder that asked for no address');
  // Boot and SSM registration take 30-90 s (shared/reality.md); past 15 minutes the build gives up. The launch
  // time lets the boot poll take a builder DescribeInstances does not list yet for one not yet listed (awaitInstance).
  const now = ports.clock.now();
  return { builderId: launched.instanceId, readyBy: now + BOOT_DEADLINE_MS, launchedAt: now };
}

/**
 * Creates the image from the builder once, and reports its state: a retried or repeated call finds the
 * image of this build by its tag instead of making a second one. A failed image is final for the build.
 */
export async function ensureNodeImage(build: ImageBuild, builderId: string, ports: Pick<Ports, 'ec2'>): Promise<{ imageId: string; state: ImageState }> {
  const [existing] = await ports.ec2.findImages({ [IMAGE_BUILD_TAG]: build.buildId });
  const image =
    existing ??
    {
      imageId: await ports.ec2.createImage(builderId, imageName(build), {
        [IMAGE_BUILD_TAG]: build.buildId,
        [IMAGE_CLUSTER_TAG]: build.clusterName,
        [IMAGE_VERSION_TAG]: build.kubernetesVersion,
        [IMAGE_DIGEST_TAG]: build.documentDigest,
      }),
      state: 'pending' as ImageState,
    };
  if (image.state === 'failed') throw new NodeImageFailedError(`image ${image.imageId} of build ${build.buildId} failed`);
  return { imageId: image.imageId, state: image.state };
}

/** Records an available image in the cluster settings, the one step that makes nodes use it. */
export async function recordNodeImage(build: ImageBuild, imageId: string, ports: Pick<Ports, 'ec2' | 'ssm' | 'clock'>): Promise<NodeImage> {
  const [image] = await ports.ec2.findImages({ [IMAGE_BUILD_TAG]: build.buildId });
  if (image?.imageId !== imageId || image.state !== 'available') throw new NodeImageFailedError(`image ${imageId} of build ${build.buildId} is not available (${image?.state ?? 'missing'})`);
  const settings = await readClusterSettings(build.clusterName, ports);
  if (!settings) throw new ClusterStateError(`cluster ${build.clusterName} lost its recorded settings during the build`);
  const nodeImage: NodeImage = { imageId, kubernetesVersion: build.kubernetesVersion, documentDigest: build.documentDigest, baseImageId: build.baseImageId, builtAt: new Date(ports.clock.now()).toISOString() };
  const updated: ClusterSettings = { ...settings, nodeImage };
  await ports.ssm.putParameter(settingsParameterName(build.clusterName), JSON.stringify(updated));
  return nodeImage;
}

/** Terminates whatever instance carries this build's tag, found by the tag (so even a launch whose answer was lost). */
export async function terminateImageBuilder(buildId: string, ports: Pick<Ports, 'ec2'>): Promise<{ terminated: string[] }> {
  const builders = await ports.ec2.findTaggedInstances(IMAGE_BUILD_TAG, buildId);
  const live = builders.filter((builder) => builder.ec2State !== 'terminated' && builder.ec2State !== 'shutting-down').map((builder) => builder.instanceId);
  if (live.length > 0) await ports.ec2.terminateTaggedInstances(live, IMAGE_BUILD_TAG);
  return { terminated: live };
}

/** The prepared image a node of this role launches from, when one is recorded for the cluster's version. */
export function preparedImageFor(settings: Pick<ClusterSettings, 'nodeImage' | 'cluster'> | undefined, role: string): string | undefined {
  const image = settings?.nodeImage;
  if (!image || role === 'lb') return undefined;
  return image.kubernetesVersion === settings.cluster.kubernetesVersion ? image.imageId : undefined;
}

/**
 * Images of a cluster kept after a build is recorded: the recorded one and the one before it, for a rollback and
 * for a heal that read the settings just before the record changed them. Older ones are removed.
 */
export const KEPT_NODE_IMAGES = 2;
/**
 * A pending image older than this belongs to a build that ended without reaching its Catch (build-node-image
 * times out after 2 hours; CreateImage takes minutes): nothing will ever record or discard it.
 */
export const ABANDONED_IMAGE_MS = 3 * 3_600_000;
/**
 * A snapshot no registered image lists is removed once it is this old: an interrupted clean-up left it (the image
 * was deregistered, the snapshot not yet deleted). A younger one may belong to an image EC2 does not list yet.
 */
export const ORPHAN_SNAPSHOT_MS = 3 * 3_600_000;

export interface ImagePrunePlan {
  readonly kept: string[];
  readonly deregister: string[];
  readonly deleteSnapshots: string[];
}

/**
 * Pure: which of a cluster's images and snapshots to remove. Never the recorded image, never one of the newest
 * `keep` available images, never a pending image of a build still running, never a snapshot a kept image lists.
 * Instances launched from a removed image are unaffected: deregistering an AMI "has no effect on any instances
 * that were launched from the AMI" (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/deregister-ami.html), and
 * the only thing DeleteSnapshot refuses is a snapshot a registered AMI lists (InvalidSnapshot.InUse; DeleteSnapshot,
 * EC2 API reference), not one volumes were created from: a created volume holds its own blocks. So neither a
 * running or stopped member nor a warm standby holds an image back, and the cost stays bounded.
 */
export function planImagePrune(input: {
  images: readonly ImageFacts[];
  snapshots: readonly { snapshotId: string; startedAt: number; tags: Readonly<Record<string, string>> }[];
  recordedImageId: string;
  keep: number;
  now: number;
}): ImagePrunePlan {
  const ours = input.images.filter((image) => image.tags[IMAGE_BUILD_TAG] !== undefined);
  const newest = ours.filter((image) => image.state === 'available' && image.imageId !== input.recordedImageId).sort((a, b) => b.createdAt - a.createdAt || b.imageId.localeCompare(a.imageId));
  const kept = new Set([input.recordedImageId, ...newest.map((image) => image.imageId)].slice(0, Math.max(1, input.keep)));
  for (const image of ours) if (image.state === 'pending' && input.now - image.createdAt < ABANDONED_IMAGE_MS) kept.add(image.imageId);
  const keptImages = ours.filter((image) => kept.has(image.imageId));
  const deregister = ours.filter((image) => !kept.has(image.imageId));
  // Every image that stays registered (a foreign one too) holds its snapshots: EC2 would refuse them (InUse).
  const keptSnapshots = new Set(input.images.filter((image) => !deregister.includes(image)).flatMap((image) => image.snapshotIds));
  const keptBuilds = new Set(keptImages.map((image) => image.tags[IMAGE_BUILD_TAG]));
  const listed = new Set(input.images.flatMap((image) => image.snapshotIds));
  // The removed images' snapshots, and snapshots no image lists that are old enough not to be a new image's.
  const ofRemoved = deregister.flatMap((image) => image.snapshotIds).filter((snapshotId) => !keptSnapshots.has(snapshotId));
  const orphans = input.snapshots
    .filter((snapshot) => !listed.has(snapshot.snapshotId) && !keptBuilds.has(snapshot.tags[IMAGE_BUILD_TAG]) && input.now - snapshot.startedAt >= ORPHAN_SNAPSHOT_MS)
    .map((snapshot) => snapshot.snapshotId);
  return {
    kept: keptImages.map((image) => image.imageId),
    deregister: deregister.map((image) => image.imageId),
    deleteSnapshots: [...new Set([...ofRemoved, ...orphans])],
  };
}

/** Deregisters the images, then deletes the snapshots; a snapshot EC2 still reports in use fails the Task to retry it. */
async function removeImages(plan: Pick<ImagePrunePlan, 'deregister' | 'deleteSnapshots'>, ports: Pick<Ports, 'ec2'>): Promise<{ deregistered: string[]; deletedSnapshots: string[] }> {
  for (const imageId of plan.deregister) await ports.ec2.deregisterImage(imageId);
  const deletedSnapshots: string[] = [];
  const inUse: string[] = [];
  for (const snapshotId of plan.deleteSnapshots) {
    const outcome = await ports.ec2.deleteSnapshot(snapshotId);
    if (outcome === 'deleted') deletedSnapshots.push(snapshotId);
    if (outcome === 'inUse') inUse.push(snapshotId);
  }
  if (inUse.length > 0) throw new SnapshotInUseError(`EC2 still reports snapshot${inUse.length > 1 ? 's' : ''} ${inUse.join(', ')} in use by a registered image`);
  return { deregistered: [...plan.deregister], deletedSnapshots };
}

/**
 * After a failed build: deregisters this build's image and deletes its snapshots, both found by the build tag,
 * so a retry, or a run after the image is gone, finds only what is left. The image the cluster settings record
 * is never touched (a record that succeeded although its Task was reported failed).
 */
export async function discardBuildImage(input: { buildId: string; clusterName: string }, ports: Pick<Ports, 'ec2' | 'ssm'>): Promise<{ deregistered: string[]; deletedSnapshots: string[]; keptRecorded?: string }> {
  const recorded = (await readClusterSettings(input.clusterName, ports))?.nodeImage?.imageId;
  const images = await ports.ec2.findImages({ [IMAGE_BUILD_TAG]: input.buildId });
  const snapshots = await ports.ec2.findSnapshots({ [IMAGE_BUILD_TAG]: input.buildId });
  const discarded = images.filter((image) => image.imageId !== recorded);
  const keptSnapshots = new Set(images.filter((image) => image.imageId === recorded).flatMap((image) => image.snapshotIds));
  const removed = await removeImages(
    {
      deregister: discarded.map((image) => image.imageId),
      deleteSnapshots: [...new Set([...discarded.flatMap((image) => image.snapshotIds), ...snapshots.map((snapshot) => snapshot.snapshotId)])].filter((id) => !keptSnapshots.has(id)),
    },
    ports,
  );
  return { ...removed, ...(discarded.length < images.length && recorded ? { keptRecorded: recorded } : {}) };
}

/** After a build is recorded: removes this cluster's images beyond the recorded one and the one before it (planImagePrune). */
export async function pruneNodeImages(clusterName: string, ports: Pick<Ports, 'ec2' | 'ssm' | 'clock'>, keep = KEPT_NODE_IMAGES): Promise<ImagePrunePlan & { deletedSnapshots: string[] }> {
  const recorded = (await readClusterSettings(clusterName, ports))?.nodeImage?.imageId;
  // Without a recorded image, nothing tells which image nodes launch from: remove nothing.
  if (!recorded) throw new ClusterStateError(`cluster ${clusterName} records no node image: older images are removed only after a build is recorded`);
  const [images, snapshots] = await Promise.all([ports.ec2.findImages({ [IMAGE_CLUSTER_TAG]: clusterName }), ports.ec2.findSnapshots({ [IMAGE_CLUSTER_TAG]: clusterName })]);
  const plan = planImagePrune({ images, snapshots, recordedImageId: recorded, keep, now: ports.clock.now() });
  const removed = await removeImages(plan, ports);
  return { ...plan, deletedSnapshots: removed.deletedSnapshots };
}
