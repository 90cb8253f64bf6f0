// Healing decisions, as pure functions over plain data: which events matter, which workflow heals
// what, whether etcd can afford a membership change, who holds the lock, where the Elastic IP goes.
import { type ClusterInstance, type Role, ROLES, clusterTagKey } from './cluster.js';
import { QuorumLostError } from './errors.js';

/** Tag kubeha puts on instances it is terminating itself, so their events start no healing. */
export const RETIRING_TAG = 'kubeha:retiring';

export const HEALING_STATES = ['stopping', 'stopped', 'shutting-down', 'terminated'] as const;
export type HealingState = (typeof HEALING_STATES)[number];

/** States that start a healing workflow; the earlier ones only trigger the Elastic IP fast path. */
const WORKFLOW_STATES = new Set<string>(['stopped', 'terminated']);

export const HEALING_MACHINES = { master: 'heal-master', worker: 'heal-worker', lb: 'heal-load-balancer' } as const satisfies Record<Role, string>;
export type HealingMachine = (typeof HEALING_MACHINES)[Role];

export interface InstanceStateChange {
  readonly id: string;
  readonly time: string;
  readonly instanceId: string;
  readonly state: string;
}

export type EventVerdict =
  | { readonly action: 'ignore'; readonly reason: string }
  | {
      readonly action: 'heal';
      readonly clusterName: string;
      readonly role: Role;
      readonly machine: HealingMachine | undefined;
      /** True when the failed instance is a load balancer: move the Elastic IP before anything slower. */
      readonly failOverElasticIp: boolean;
    };

/** The instance's cluster, from its kubernetes.io/cluster/<name>=owned tag. */
export function clusterOfTags(tags: Readonly<Record<string, string>>): string | undefined {
  const key = Object.keys(tags).find((candidate) => candidate.startsWith('kubernetes.io/cluster/') && tags[candidate] === 'owned');
  return key?.slice('kubernetes.io/cluster/'.length);
}

/** Decides what an EC2 state-change event means for kubeha. `instance` is undefined when EC2 no longer knows it. */
export function triageEvent(
  event: InstanceStateChange,
  instance: { tags: Readonly<Record<string, string>> } | undefined,
  servedClusters: readonly string[],
): EventVerdict {
  if (!(HEALING_STATES as readonly string[]).includes(event.state)) return { action: 'ignore', reason: `state ${event.state} needs no healing` };
  if (!instance) return { action: 'ignore', reason: 'EC2 no longer describes the instance' };
  const clusterName = clusterOfTags(instance.tags);
  const role = instance.tags['kubeha:role'] as Role | undefined;
  if (!clusterName || !role || !ROLES.includes(role)) return { action: 'ignore', reason: 'not a kubeha instance' };
  if (!servedClusters.includes(clusterName)) return { action: 'ignore', reason: `cluster ${clusterName} is not served by this stack` };
  if (instance.tags[RETIRING_TAG]) return { action: 'ignore', reason: 'kubeha is retiring this instance itself' };
  return {
    action: 'heal',
    clusterName,
    role,
    machine: WORKFLOW_STATES.has(event.state) ? HEALING_MACHINES[role] : undefined,
    failOverElasticIp: role === 'lb',
  };
}


// ---- etcd quorum ---------------------------------------------------------------------------------

/** An etcd member as cluster-status.sh reports it. */
export interface EtcdMemberView {
  readonly id: string;
  readonly name: string;
  readonly peerIp: string;
  readonly healthy: boolean;
  readonly isLearner?: boolean;
}

export interface QuorumVerdict {
  /** The member to remove (the target's), or undefined when it is no longer in the member list. */
  readonly memberToRemove: EtcdMemberView | undefined;
  readonly membersAfter: number;
  readonly healthyAfter: number;
}

/**
 * The guard before any etcd membership change: the member of `targetIp` may be removed only if
 * every other voting member is healthy and they keep a majority of the voters that remain. Otherwise
 * QuorumLostError, and nothing changes. A learner does not vote, so it neither counts nor blocks: etcd
 * itself judges a removal by its voting members only (RaftCluster.IsReadyToRemoveVotingMember iterates
 * VotingMembers(), and mayRemoveMember skips the check for a learner; etcd server/etcdserver). The one a
 * failed join left unstarted is removed by refresh-join-material.sh before the next join; refusing on it
 * would page "quorum at risk" on every later master heal while quorum is whole.
 */
export function assessQuorum(members: readonly EtcdMemberView[], targetIp: string): QuorumVerdict {
  const target = members.find((member) => member.peerIp === targetIp);
  const otherVoters = members.filter((member) => member !== target && !member.isLearner);
  const unhealthyOthers = otherVoters.filter((member) => !member.healthy);
  if (otherVoters.length === 0) throw new QuorumLostError('no other voting etcd member is left to keep the cluster');
  if (unhealthyOthers.length > 0) {
    throw new QuorumLostError(
      `etcd members ${unhealthyOthers.map((member) => member.name).join(', ')} are unhealthy besides the one being healed; changing membership now could lose quorum`,
    );
  }
  // Every remaining voter is healthy, so they are trivially a majority of what remains.
  return { memberToRemove: target, membersAfter: otherVoters.length, healthyAfter: otherVoters.length };
}

// ---- the per-cluster lock ------------------------------------------------------------------------

export interface LockRecord {
  readonly executionArn: string;
  readonly purpose: string;
  readonly acquiredAt: string;
  /** The holder's lease ends here even if Step Functions still calls it running (it never runs longer). */
  readonly leaseUntil?: number;
}

export type LockDecision = { readonly verdict: 'held-by-us' } | { readonly verdict: 'take-over'; readonly staleHolder: string } | { readonly verdict: 'wait'; readonly holder: string };

/** What to do with an existing lock: ours already (a retried Task), stale (holder not running, or its lease over), or wait. */
export function decideOnLock(existing: LockRecord, ourExecutionArn: string, holderStatus: string | undefined, now: number): LockDecision {
  if (existing.executionArn === ourExecutionArn) return { verdict: 'held-by-us' };
  if (holderStatus !== 'RUNNING' || (existing.leaseUntil !== undefined && now > existing.leaseUntil)) return { verdict: 'take-over', staleHolder: existing.executionArn };
  return { verdict: 'wait', holder: existing.executionArn };
}

// ---- load balancers ------------------------------------------------------------------------------

/** The running load balancer other than the failed one, or undefined when there is none. */
export function healthyStandby(loadBalancers: readonly ClusterInstance[], failedInstanceId: string): ClusterInstance | undefined {
  return loadBalancers.find((balancer) => balancer.instanceId !== failedInstanceId && balancer.ec2State === 'running');
}

/** Load balancer addresses with the Elastic IP holder first, so keepalived's priorities agree with where the address is. */
export function loadBalancerOrder(loadBalancers: readonly { instanceId: string; privateIp: string }[], holderId: string | undefined): string[] {
  const holder = loadBalancers.filter((balancer) => balancer.instanceId === holderId);
  const others = loadBalancers.filter((balancer) => balancer.instanceId !== holderId);
  return [...holder, ...others].map((balancer) => balancer.privateIp);
}

export function isClusterTagged(tags: Readonly<Record<string, string>>, clusterName: string): boolean {
  return tags[clusterTagKey(clusterName)] === 'owned';
}

const GONE = new Set(['shutting-down', 'terminated']);

/**
 * The heals of one cluster under way, as EC2 shows them, each named by the instance it heals (sorted, so
 * every heal ranks the others alike): a dead instance (shutting down, or terminated within the hour EC2
 * still describes it) that no live instance tagged `kubeha:replaces` stands in for; a live replacement
 * not yet joined (or, for a load balancer, configured); a stopped or stopping instance, or one pending
 * that replaces nothing (being started), when the policy starts stopped instances. A replacement counts
 * under the instance it replaces, so a heal is counted once whichever step it has reached. What it misses
 * (a heal verifying a node already joined, a running node re-joining) polls for seconds, not minutes.
 */
export function healsUnderWay(instances: readonly ClusterInstance[], startsStoppedInstances: boolean): string[] {
  const replaced = new Set(instances.filter((instance) => !GONE.has(instance.ec2State)).flatMap((instance) => instance.tags?.['kubeha:replaces'] ?? []));
  const healing = instances.filter((instance) => {
    if (!instance.role) return false;
    const replaces = instance.tags?.['kubeha:replaces'];
    if (GONE.has(instance.ec2State)) return !replaced.has(instance.instanceId);
    if (replaces) return instance.nodeState !== (instance.role === 'lb' ? 'configured' : 'joined');
    return startsStoppedInstances && ['stopping', 'stopped', 'pending'].includes(instance.ec2State);
  });
  return [...new Set(healing.map((instance) => instance.tags?.['kubeha:replaces'] ?? instance.instanceId))].sort();
}
