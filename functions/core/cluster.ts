// The cluster scope: how kubeha names, tags and groups the instances of one cluster.
// Pure data and decisions; the adapters turn AWS answers into these shapes.

export const ROLE_TAG = 'kubeha:role';
export const NODE_STATE_TAG = 'kubeha:node-state';
/** Set on a load balancer and a worker: the master addresses its nginx or local API proxy was last rendered with (reconcile compares). */
export const UPSTREAMS_TAG = 'kubeha:upstreams';
export const CLUSTER_TAG_VALUE = 'owned';
/** A warm standby's role-to-be (standbys.ts): it carries this and the cluster tag, never ROLE_TAG. */
export const STANDBY_FOR_TAG = 'kubeha:standby-for';

/** A warm standby, not a member: kubeha's own spare, prepared and stopped until a heal claims it. */
export function isStandby(instance: { readonly tags?: Readonly<Record<string, string>> | undefined }): boolean {
  return instance.tags?.[STANDBY_FOR_TAG] !== undefined && instance.tags[ROLE_TAG] === undefined;
}
export const clusterTagKey = (clusterName: string): string => `kubernetes.io/cluster/${clusterName}`;

export const ROLES = ['master', 'worker', 'lb'] as const;
export type Role = (typeof ROLES)[number];

/** How far kubeha got with a node, recorded as the NODE_STATE_TAG so a re-run can skip done work. */
export const NODE_STATES = ['prepared', 'initialized', 'joined', 'configured'] as const;
export type NodeState = (typeof NODE_STATES)[number];

export interface ClusterInstance {
  readonly instanceId: string;
  readonly role?: Role | undefined;
  readonly ec2State: string;
  readonly privateIp?: string | undefined;
  readonly publicIp?: string | undefined;
  readonly subnetId?: string | undefined;
  readonly vpcId?: string | undefined;
  readonly availabilityZone?: string | undefined;
  readonly nodeState?: NodeState | undefined;
  readonly launchTime?: string | undefined;
  /** The security groups attached (preflight checks their rules). */
  readonly securityGroupIds?: readonly string[] | undefined;
  /** The instance metadata service's settings, where EC2 reported them (preflight checks what pods can reach). */
  readonly metadata?: InstanceMetadataSettings | undefined;
  /** All tags, where the caller needs them (event triage, replacement); left out of payloads otherwise. */
  readonly tags?: Readonly<Record<string, string>> | undefined;
}

/** DescribeInstances' MetadataOptions: HttpTokens optional|required, HttpPutResponseHopLimit 1-64, HttpEndpoint enabled|disabled. */
export interface InstanceMetadataSettings {
  readonly httpTokens: string;
  readonly hopLimit: number;
  readonly httpEndpoint: string;
}

/** A compact view of an instance that travels in state-machine payloads. */
export interface Member {
  readonly instanceId: string;
  readonly privateIp: string;
  readonly availabilityZone: string;
  readonly nodeState?: NodeState;
}

export interface Fleet {
  readonly masters: Member[];
  readonly workers: Member[];
  readonly loadBalancers: Member[];
}

export function toMember(instance: ClusterInstance): Member {
  return {
    instanceId: instance.instanceId,
    privateIp: instance.privateIp ?? '',
    availabilityZone: instance.availabilityZone ?? '',
    ...(instance.nodeState ? { nodeState: instance.nodeState } : {}),
  };
}

/** Orders members deterministically so that "the first master" is stable across re-runs. */
export function byLaunchThenId(a: ClusterInstance, b: ClusterInstance): number {
  return (a.launchTime ?? '').localeCompare(b.launchTime ?? '') || a.instanceId.localeCompare(b.instanceId);
}

export function groupFleet(instances: readonly ClusterInstance[]): Fleet {
  const running = instances.filter((instance) => instance.ec2State === 'running').sort(byLaunchThenId);
  const pick = (role: Role) => running.filter((instance) => instance.role === role).map(toMember);
  return { masters: pick('master'), workers: pick('worker'), loadBalancers: pick('lb') };
}

export function allMembers(fleet: Fleet): Member[] {
  return [...fleet.masters, ...fleet.workers, ...fleet.loadBalancers];
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const batches: T[][] = [];
  for (let index = 0; index < items.length; index += size) batches.push(items.slice(index, index + size));
  return batches;
}

export function isKubernetesNodeDone(member: Member): boolean {
  return member.nodeState === 'joined' || member.nodeState === 'initialized';
}
