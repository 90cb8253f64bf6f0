// The modelled durations of the simulated fleet, in seconds of modelled time. They follow what a
// t3.medium on Ubuntu 24.04 takes (apt installs dominate prerequisites; kubeadm init waits for
// the static pods; a control-plane join includes etcd learner promotion).

export const DOCUMENT_SECONDS: Readonly<Record<string, number>> = {
  InstallPrerequisites: 95,
  ConfigureLoadBalancer: 9,
  ConfigureNodeProxy: 3,
  InitFirstMaster: 80,
  InstallCni: 30,
  RefreshJoinMaterial: 6,
  JoinControlPlane: 65,
  JoinWorker: 35,
  VerifyCluster: 12,
  ClusterStatus: 3,
  RemoveEtcdMember: 4,
  SnapshotEtcd: 8,
  ResetNode: 6,
  CheckLoadBalancer: 2,
  ProbeLoadBalancer: 2,
  DeployTestApp: 20,
  StartProbe: 2,
  StopProbe: 2,
  ApplyNodeProfile: 8,
  CheckExternalServices: 3,
  GrantUserAccess: 4,
  RevokeUserAccess: 3,
  ApplyEncryptionConfig: 10,
  RewriteSecrets: 10,
  /** Prerequisites, kubeadm's images pulled, identity cleaned (documentSeconds below times a real build). */
  PrepareNodeImage: 125,
  RenewCertificates: 60,
};

/**
 * The part of a document's time spent pulling images from registry.k8s.io: kubeadm init and join pull the
 * control-plane images in their preflight phase ("This might take a minute or two, depending on the speed of
 * your internet connection", cmd/kubeadm/app/cmd/phases/init/preflight.go); a worker pulls kube-proxy and
 * pause. A node made from a prepared image has them already (`kubeadm config images pull` on the builder).
 */
export const IMAGE_PULL_SECONDS: Readonly<Record<string, number>> = { InitFirstMaster: 25, JoinControlPlane: 25, JoinWorker: 8 };

/**
 * probe-load-balancer.sh through a hung nginx: three tries that each wait out curl's 3 s `--max-time`, a
 * second apart (a refused or answered try returns at once).
 */
export const HUNG_PROBE_SECONDS = 3 * 3 + 2;

/** A document whose script finds its work done (the marker and the pinned versions present) only checks. */
export const ALREADY_DONE_SECONDS = 2;

/**
 * CreateImage to `available`: the AMI stays `pending` while EBS snapshots the volumes, "a few minutes"
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/creating-an-ami-ebs.html); an 8-20 GB root volume
 * of a fresh node takes about five.
 */
export const IMAGE_PENDING_SECONDS = 300;

/**
 * Modelled seconds of one document on one node, as it is when the command is sent: installing what a
 * prepared image holds already is a check, and so is pulling images it holds.
 */
export function documentSeconds(document: string, node: { prerequisites?: { kubernetesVersion: string }; imagesPulled?: string; nginx?: { hung?: boolean } }, parameters: Readonly<Record<string, string>>): number {
  const full = DOCUMENT_SECONDS[document] ?? 10;
  if (document === 'ProbeLoadBalancer' && node.nginx?.hung) return HUNG_PROBE_SECONDS;
  const version = parameters.KubernetesVersion;
  if (document === 'InstallPrerequisites' && version !== undefined && node.prerequisites?.kubernetesVersion === version) return ALREADY_DONE_SECONDS;
  if (document === 'PrepareNodeImage') return node.prerequisites?.kubernetesVersion === version ? ALREADY_DONE_SECONDS + (node.imagesPulled === version ? 0 : 25) : (DOCUMENT_SECONDS.InstallPrerequisites ?? 95) + 25 + 5;
  if (node.imagesPulled !== undefined && (version === undefined || node.imagesPulled === version) && IMAGE_PULL_SECONDS[document]) return full - IMAGE_PULL_SECONDS[document];
  return full;
}

/** What one AWS API round trip costs in modelled time. */
export const API_CALL_SECONDS = 0.12;

/**
 * When EventBridge delivers one event from an AWS service to a rule's Lambda target, in modelled seconds
 * after the change, one entry per delivery: usually within seconds, one in ten minutes late, about one
 * in seven twice (the same id). AWS gives no latency figure ("near real time",
 * https://aws.amazon.com/eventbridge/faqs/); EC2's and SSM's events are sent "best effort": "in some rare
 * cases an event might not be delivered" (https://docs.aws.amazon.com/eventbridge/latest/ref/event-delivery-level.html,
 * https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-ssm.html). The local control plane plays EC2
 * state-change events with it; bench/command-completion.ts plays SSM command status-change events with it.
 */
export function eventBridgeDeliveryDelays(random: () => number): number[] {
  const first = random() < 0.1 ? 60 + random() * 120 : 0.5 + random() * 2.5;
  return random() < 0.15 ? [first, first + 1 + random() * 20] : [first];
}

/** Deterministic jitter (±15 %) so runs are repeatable but not lock-step. */
export function jittered(seconds: number, random: () => number): number {
  return seconds * (0.85 + random() * 0.3);
}

/** A small seeded PRNG (mulberry32): the same seed gives the same fleet timings. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}
