// Prepared node images: an AMI made from the cluster's base image with the pinned containerd, kubelet and
// kubeadm installed and the images kubeadm pulls already in containerd, so a replacement node skips most of
// install-prerequisites and kubeadm's image pulls. The build runs on a builder instance that carries only
// kubeha:image-build (no cluster or role tag: discovery, healing and reconcile never see it), and that
// tag is how the build finds its builder to terminate it, whatever step failed.
import { createHash } from 'node:crypto';
import { readClusterSettings, type ClusterSettings } from './bootstrap.js';
import { BOOT_DEADLINE_MS } from './command-timing.js';
import { ClusterStateError, NodeImageFailedError } from './errors.js';
import { readLaunchRecords } from './launch-records.js';
import { settingsParameterName } from './join-material.js';
import type { LaunchSpec, Ports } from './ports.js';

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
export async function launchImageBuilder(build: ImageBuild, ports: Pick<Ports, 'ec2' | 'clock'>): Promise<{ builderId: string; readyBy: number }> {
  const launched = await ports.ec2.runInstance(build.builder, { clientToken: `kubeha-image-${build.buildId}` });
  if (launched === 'addressInUse') throw new NodeImageFailedError('EC2 reported an address conflict for a builder that asked for no address');
  // Boot and SSM registration take 30-90 s (shared/reality.md); past 15 minutes the build gives up.
  return { builderId: launched.instanceId, readyBy: ports.clock.now() + BOOT_DEADLINE_MS };
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
