// kubeha image build: bakes a prepared node image for a cluster through the build-node-image workflow
// and follows it; replacements of masters and workers launch from the image once it is recorded.
import type { Backend } from '../backend.js';
import { type Asker, type ChangeOptions, confirmChange } from '../confirm.js';
import { EXIT } from '../errors.js';
import { type Output, wrap } from '../format.js';
import { requireCluster } from './cluster.js';
import { type Following, executionName, failure, startAndFollow } from './follow.js';

export const IMAGE_PHASES: readonly { name: string; states: RegExp }[] = [
  { name: 'Plan the build', states: /^Plan the image build$/ },
  { name: 'Launch the builder', states: /image builder|builder time to boot|builder on the network|builder booted/ },
  { name: 'Prepare the builder', states: /Prepare the node image|builder time to prepare|Check on the builder|builder prepared/ },
  { name: 'Create the image', states: /Create the image|image available|time to make the image/ },
  { name: 'Record and clean up', states: /Record the image|Terminate the builder|older images|Discard the build's image|Report the image/ },
];

interface BuiltImage {
  readonly clusterName: string;
  readonly imageId: string;
  readonly kubernetesVersion: string;
  readonly documentDigest: string;
  readonly builderId: string;
  /** Older images of the cluster the build deregistered, with their snapshots (all but the previous one). */
  readonly removedImageIds: readonly string[];
}

export async function imageBuild(options: { clusterName: string } & ChangeOptions, backend: Backend, out: Output & Following, asker: Asker): Promise<number> {
  const settings = await requireCluster(options.clusterName, backend);
  const version = settings.cluster.kubernetesVersion;
  const plan = [
    `Launch a builder instance from ${options.clusterName}'s base image, tagged kubeha:image-build (never part of the cluster)`,
    `Install containerd, kubelet and kubeadm ${version}, pull the images kubeadm ${version} needs, clean the builder's identity`,
    'Create the image, wait until it is available, tag it with the Kubernetes version and the document digest',
    `Record it in ${options.clusterName}'s settings: replacements of masters and workers launch from it`,
    'Terminate the builder, also when a step fails; then deregister a failed build\'s image and delete its snapshots',
    `Keep the new image and the one before it; deregister ${options.clusterName}'s older images and delete their snapshots`,
  ];
  if (!(await confirmChange({ verb: `Image build for ${options.clusterName}`, plan, cluster: options.clusterName }, options, out, asker))) return EXIT.ok;
  const { executionArn, result } = await startAndFollow(backend, out, {
    machine: 'build-node-image',
    name: executionName(`${options.clusterName}-image`, backend.now()),
    input: { clusterName: options.clusterName },
    title: `kubeha image build${backend.mode === 'simulated' ? ' (simulated)' : ''}`,
    phases: IMAGE_PHASES,
    clusterName: options.clusterName,
  });
  if (result.status !== 'SUCCEEDED') throw failure(result, backend, executionArn, 'The image build');
  const image = result.output as BuiltImage;
  if (out.json) out.write(`${JSON.stringify({ ...image, executionArn }, null, 2)}\n`);
  else {
    const removed = image.removedImageIds.length > 0 ? ` Removed older image${image.removedImageIds.length > 1 ? 's' : ''} ${image.removedImageIds.join(', ')} and ${image.removedImageIds.length > 1 ? 'their' : 'its'} snapshots.` : '';
    out.write(`\n${wrap(`Image ${image.imageId} (Kubernetes ${image.kubernetesVersion}, documents ${image.documentDigest}) is recorded for ${image.clusterName}; builder ${image.builderId} is terminated.${removed}`, out.columns)}\n`);
  }
  return EXIT.ok;
}
