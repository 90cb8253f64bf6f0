// Preflight: can the discovered fleet host the requested cluster? Every check runs before any
// change, and every finding names the field or instance, the reason and the fix.
import { overlaps, parseCidr } from './cidr.js';
import {
  type ClusterInstance,
  type Fleet,
  ROLES,
  ROLE_TAG,
  clusterTagKey,
  groupFleet,
} from './cluster.js';
import type { ClusterConfig } from './config.js';
import type { ElasticIp } from './ports.js';

export interface Finding {
  readonly field: string;
  readonly reason: string;
  readonly fix: string;
  readonly blocking: boolean;
}

export interface NetworkFacts {
  readonly subnets: readonly { subnetId: string; vpcId: string; cidr: string }[];
  readonly vpcs: readonly { vpcId: string; cidrs: readonly string[] }[];
}

export interface PreflightFacts {
  readonly instances: readonly ClusterInstance[];
  readonly network: NetworkFacts;
  readonly elasticIp: ElasticIp | undefined;
  readonly onlineInstanceIds: ReadonlySet<string>;
  /** Per-cluster secrets the stack should hold but does not. */
  readonly missingSecrets: readonly string[];
}

const MAX_MASTERS = 7;

export function preflightFindings(config: ClusterConfig, facts: PreflightFacts): Finding[] {
  const findings: Finding[] = [];
  const block = (field: string, reason: string, fix: string) => findings.push({ field, reason, fix, blocking: true });
  const warn = (field: string, reason: string, fix: string) => findings.push({ field, reason, fix, blocking: false });
  const tag = clusterTagKey(config.clusterName);

  for (const instance of facts.instances) {
    if (!instance.role || !ROLES.includes(instance.role)) {
      block(instance.instanceId, `has the ${tag} tag but no valid ${ROLE_TAG} tag`, `tag it ${ROLE_TAG}=master, worker or lb, or remove ${tag}`);
    } else if (instance.ec2State !== 'running') {
      block(instance.instanceId, `is ${instance.ec2State}`, 'start it, or remove its cluster tag to leave it out');
    } else if (!instance.privateIp) {
      block(instance.instanceId, 'has no private IPv4 address', 'attach a network interface with an IPv4 address');
    } else if (!facts.onlineInstanceIds.has(instance.instanceId)) {
      block(instance.instanceId, 'has no online SSM agent', 'attach the kubeha node instance profile and check the SSM agent and its route to the SSM endpoints');
    }
  }

  const fleet = groupFleet(facts.instances);
  checkCounts(fleet, block, warn);
  checkNetwork(config, facts, block, warn);
  checkElasticIp(config, facts.elasticIp, block);
  for (const secret of facts.missingSecrets) {
    block('clusterName', `the stack holds no secret ${secret}`, `add ${config.clusterName} to the stack's clusters parameter and deploy again`);
  }
  return findings;
}

type Report = (field: string, reason: string, fix: string) => void;

function checkCounts(fleet: Fleet, block: Report, warn: Report): void {
  const masters = fleet.masters.length;
  if (masters === 0) block('masters', 'none found', `tag 3 or 5 instances ${ROLE_TAG}=master`);
  else if (masters % 2 === 0) block('masters', `${masters} found; etcd needs an odd count to keep a majority`, 'use 3 or 5 masters');
  else if (masters > MAX_MASTERS) block('masters', `${masters} found; etcd slows down past ${MAX_MASTERS} members`, 'use 3 or 5 masters');
  else if (masters === 1) warn('masters', 'a single master has no failover', 'use 3 masters for high availability');

  const zones = new Set(fleet.masters.map((master) => master.availabilityZone));
  if (masters >= 3 && zones.size < 2) warn('masters', `all masters are in ${[...zones].join('')}`, 'spread masters over at least 2 availability zones');

  const balancers = fleet.loadBalancers.length;
  if (balancers === 0) block('loadBalancers', 'none found', `tag two instances ${ROLE_TAG}=lb`);
  else if (balancers > 2) block('loadBalancers', `${balancers} found; keepalived runs an active/standby pair`, 'tag exactly two instances as lb');
  else if (balancers === 1) warn('loadBalancers', 'a single load balancer has no standby', 'tag a second instance as lb');

  if (fleet.workers.length === 0) warn('workers', 'none found; workloads will not be scheduled on masters', `tag instances ${ROLE_TAG}=worker`);
}

function checkNetwork(config: ClusterConfig, facts: PreflightFacts, block: Report, warn: Report): void {
  const vpcIds = new Set(facts.network.subnets.map((subnet) => subnet.vpcId));
  if (vpcIds.size > 1) block('instances', `span ${vpcIds.size} VPCs (${[...vpcIds].join(', ')})`, 'keep all cluster instances in one VPC');

  const networkRanges = [
    ...facts.network.vpcs.flatMap((vpc) => vpc.cidrs.map((cidr) => ({ cidr, what: `VPC ${vpc.vpcId}` }))),
    ...facts.network.subnets.map((subnet) => ({ cidr: subnet.cidr, what: `subnet ${subnet.subnetId}` })),
  ];
  for (const field of ['podCidr', 'serviceCidr'] as const) {
    const range = parseCidr(config[field]);
    const clashes = networkRanges.filter((network) => overlaps(range, parseCidr(network.cidr)));
    for (const clash of clashes) {
      block(field, `${config[field]} overlaps ${clash.what} (${clash.cidr}) where the nodes live`, `choose a ${field} outside ${clash.cidr}`);
    }
  }
  if (facts.network.subnets.length === 0 && facts.instances.length > 0) {
    warn('instances', 'their subnets could not be described', 'check that the instances are in a VPC');
  }
}

function checkElasticIp(config: ClusterConfig, elasticIp: ElasticIp | undefined, block: Report): void {
  const tag = clusterTagKey(config.clusterName);
  if (!elasticIp) {
    block('elasticIpAllocationId', `${config.elasticIpAllocationId} does not exist in this account and region`, 'allocate an Elastic IP and pass its allocation id');
  } else if (elasticIp.tags[tag] !== 'owned') {
    block('elasticIpAllocationId', `${config.elasticIpAllocationId} is not tagged ${tag}=owned`, `tag the Elastic IP ${tag}=owned so kubeha (and the load balancers' role) may move it`);
  }
}

export function blockingFindings(findings: readonly Finding[]): Finding[] {
  return findings.filter((finding) => finding.blocking);
}
