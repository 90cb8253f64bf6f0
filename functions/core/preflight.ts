// Preflight: can the discovered fleet host the requested cluster? Every check runs before any
// change, and every finding names the field or instance, the reason and the fix.
import { containsAddress, overlaps, parseCidr, prefixLength } from './cidr.js';
import {
  type ClusterInstance,
  type Fleet,
  type Member,
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

/** One inbound rule of a security group, as DescribeSecurityGroups reports it (IpPermissions). */
export interface IngressRule {
  /** 'tcp', 'udp', '-1' (everything) or an IP protocol number such as '4' (IP-in-IP) or '112' (VRRP). */
  readonly protocol: string;
  readonly fromPort?: number | undefined;
  readonly toPort?: number | undefined;
  readonly sourceGroupIds: readonly string[];
  readonly cidrs: readonly string[];
}

export interface SecurityGroupFacts {
  /** The groups attached to each cluster instance. */
  readonly groupsOf: Readonly<Record<string, readonly string[]>>;
  readonly ingress: Readonly<Record<string, readonly IngressRule[]>>;
}

/** One IPv4 route of a route table, as DescribeRouteTables reports it (Routes[]). */
export interface RouteFacts {
  /** DestinationCidrBlock. */
  readonly destination: string;
  /** Whichever target the route has: NatGatewayId, GatewayId (igw-…, vgw-…, local), TransitGatewayId, NetworkInterfaceId, InstanceId, VpcPeeringConnectionId… */
  readonly target: string;
  /** 'blackhole' when the target is gone (a deleted NAT gateway, a detached internet gateway). */
  readonly state: string;
}

/** A route table of the VPC: the subnets explicitly associated with it, whether it is the main table, its routes. */
export interface RouteTableFacts {
  readonly routeTableId: string;
  readonly vpcId: string;
  /** Associations[].Main: the table of every subnet with no explicit association. */
  readonly main: boolean;
  readonly subnetIds: readonly string[];
  readonly routes: readonly RouteFacts[];
}

/** A NAT gateway of the VPC (DescribeNatGateways): a public one sends its traffic from its public addresses. */
export interface NatGatewayFacts {
  readonly natGatewayId: string;
  /** pending | failed | available | deleting | deleted */
  readonly state: string;
  /** ConnectivityType: a private NAT gateway has no public address and never reaches the internet gateway. */
  readonly connectivity: string;
  /** NatGatewayAddresses[].PublicIp: a connection may leave from any of them. */
  readonly publicIps: readonly string[];
}

/** How the instances' traffic leaves the VPC: what decides the address it reaches the Elastic IP from. */
export interface EgressFacts {
  readonly routeTables: readonly RouteTableFacts[];
  readonly natGateways: readonly NatGatewayFacts[];
}

export interface PreflightFacts {
  readonly instances: readonly ClusterInstance[];
  /** When gathered: the instances' security groups, checked for every path the cluster needs. */
  readonly securityGroups?: SecurityGroupFacts | undefined;
  /** When gathered: the VPC's route tables and NAT gateways, from which each node's public source address follows. */
  readonly egress?: EgressFacts | undefined;
  readonly network: NetworkFacts;
  readonly elasticIp: ElasticIp | undefined;
  readonly onlineInstanceIds: ReadonlySet<string>;
  /** The SSM agent version of each online instance, where SSM reports it. */
  readonly agentVersions?: ReadonlyMap<string, string> | undefined;
  /** Per-cluster secrets the stack should hold but does not. */
  readonly missingSecrets: readonly string[];
}

const MAX_MASTERS = 7;
/** The first SSM Agent release that honours interpolationType ENV_VAR, which every kubeha document relies on. */
export const MINIMUM_SSM_AGENT_VERSION = '3.3.2746.0';

/** True when dotted version `have` is at least `want` (numeric, field by field). */
export function versionAtLeast(have: string, want: string): boolean {
  const a = have.split('.').map(Number);
  const b = want.split('.').map(Number);
  for (let index = 0; index < Math.max(a.length, b.length); index += 1) {
    const difference = (a[index] ?? 0) - (b[index] ?? 0);
    if (Number.isNaN(difference)) return false;
    if (difference !== 0) return difference > 0;
  }
  return true;
}

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
    } else {
      const version = facts.agentVersions?.get(instance.instanceId);
      if (version && !versionAtLeast(version, MINIMUM_SSM_AGENT_VERSION)) {
        block(
          instance.instanceId,
          `runs SSM Agent ${version}, which ignores interpolationType ENV_VAR (kubeha's documents need ${MINIMUM_SSM_AGENT_VERSION} or later)`,
          'update the agent (snap refresh amazon-ssm-agent, or the AWS-UpdateSSMAgent document)',
        );
      }
    }
  }

  const fleet = groupFleet(facts.instances);
  checkCounts(fleet, block, warn);
  checkStandbys(config, fleet, warn);
  checkNetwork(config, facts, block, warn);
  checkElasticIp(config, facts.elasticIp, block);
  for (const finding of metadataFindings(facts.instances)) findings.push(finding);
  if (facts.securityGroups) {
    for (const finding of securityGroupFindings(config, facts.instances, facts.securityGroups)) findings.push(finding);
    if (facts.egress && facts.elasticIp) {
      for (const finding of endpointPathFindings(config, facts.instances, facts.securityGroups, facts.egress, facts.elasticIp.publicIp)) findings.push(finding);
    }
  }
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

/**
 * A master standby waits only in a zone of the masters, one per zone (standbys.ts): asking for more than the
 * masters hold zones is said once here, where the user set it, rather than only in every reconcile's findings.
 */
function checkStandbys(config: ClusterConfig, fleet: Fleet, warn: Report): void {
  const wanted = config.healing.standbys.master;
  const zones = new Set(fleet.masters.map((master) => master.availabilityZone).filter(Boolean)).size;
  if (fleet.masters.length === 0 || wanted <= zones) return;
  warn(
    'healing.standbys.master',
    `${wanted} asked for, but the masters are in ${zones} availability zone${zones === 1 ? '' : 's'}: a master standby waits only in a zone of the masters, one per zone, so ${wanted - zones} will not be kept`,
    `set healing.standbys.master to at most ${zones}, or spread the masters over more zones`,
  );
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

type Tier = 'masters' | 'workers' | 'loadBalancers';

/** A path the cluster needs: traffic from one tier to another on a protocol and port range. */
interface RequiredPath {
  readonly from: Tier;
  readonly to: Tier;
  readonly protocol: string;
  readonly ports?: readonly [number, number];
  readonly what: string;
  /** Alternatives: the path is open when any one of these is (e.g. Calico's IP-in-IP or VXLAN). */
  readonly or?: readonly { protocol: string; ports?: readonly [number, number] }[];
}

/**
 * Every path a kubeadm cluster behind kubeha's load balancers needs between its instances
 * (kubernetes.io "Ports and Protocols"; Calico's requirements). Workers reach the masters on 6443
 * directly: the kubernetes Service's endpoints are the masters' own addresses.
 */
export function requiredPaths(config: Pick<ClusterConfig, 'loadBalancerPort'>): RequiredPath[] {
  const nodes: Tier[] = ['masters', 'workers'];
  const paths: RequiredPath[] = [];
  for (const from of ['masters', 'workers', 'loadBalancers'] as const) paths.push({ from, to: 'masters', protocol: 'tcp', ports: [6443, 6443], what: 'the Kubernetes API' });
  paths.push({ from: 'masters', to: 'masters', protocol: 'tcp', ports: [2379, 2380], what: 'etcd' });
  for (const to of nodes) paths.push({ from: 'masters', to, protocol: 'tcp', ports: [10250, 10250], what: 'the kubelet API' });
  for (const from of nodes) {
    for (const to of nodes) {
      paths.push({ from, to, protocol: 'tcp', ports: [179, 179], what: 'Calico BGP' });
      paths.push({ from, to, protocol: '4', what: "Calico's pod network (IP-in-IP, or VXLAN 4789/udp)", or: [{ protocol: 'udp', ports: [4789, 4789] }] });
    }
    paths.push({ from, to: 'loadBalancers', protocol: 'tcp', ports: [config.loadBalancerPort, config.loadBalancerPort], what: 'the API through the load balancers' });
  }
  paths.push({ from: 'loadBalancers', to: 'loadBalancers', protocol: '112', what: 'VRRP between the keepalived pair' });
  return paths;
}


function admits(rule: IngressRule, source: Member, sourceGroups: readonly string[], protocol: string, ports?: readonly [number, number]): boolean {
  const protocolMatches = rule.protocol === '-1' || rule.protocol === protocol || (protocol === '4' && rule.protocol === 'ipip');
  if (!protocolMatches) return false;
  if (ports && rule.protocol !== '-1' && (rule.fromPort ?? 0) > ports[0]) return false;
  if (ports && rule.protocol !== '-1' && (rule.toPort ?? 65535) < ports[1]) return false;
  return rule.sourceGroupIds.some((group) => sourceGroups.includes(group)) || (source.privateIp !== '' && rule.cidrs.some((cidr) => containsAddress(cidr, source.privateIp)));
}

/**
 * Paths the instances' security groups do not open, one finding per missing path, naming a source and
 * a target instance and the rule that would open it. Rules are matched against private addresses,
 * the only ones that group references match; the nodes' public path to the Elastic IP, which kubeadm
 * join takes, is endpointPathFindings'.
 */
export function securityGroupFindings(config: Pick<ClusterConfig, 'loadBalancerPort'>, instances: readonly ClusterInstance[], groups: SecurityGroupFacts): Finding[] {
  const fleet = groupFleet(instances);
  const tiers: Record<Tier, readonly Member[]> = { masters: fleet.masters, workers: fleet.workers, loadBalancers: fleet.loadBalancers };
  const findings: Finding[] = [];
  for (const path of requiredPaths(config)) {
    const alternatives = [{ protocol: path.protocol, ports: path.ports }, ...(path.or ?? [])];
    let missing: { source: Member; target: Member } | undefined;
    for (const target of tiers[path.to]) {
      const rules = (groups.groupsOf[target.instanceId] ?? []).flatMap((group) => groups.ingress[group] ?? []);
      for (const source of tiers[path.from]) {
        if (source.instanceId === target.instanceId) continue;
        const sourceGroups = groups.groupsOf[source.instanceId] ?? [];
        const open = alternatives.some((alternative) => rules.some((rule) => admits(rule, source, sourceGroups, alternative.protocol, alternative.ports)));
        if (!open && !missing) missing = { source, target };
      }
    }
    if (!missing) continue;
    const portText = path.ports ? (path.ports[0] === path.ports[1] ? ` ${path.ports[0]}` : ` ${path.ports[0]}-${path.ports[1]}`) : '';
    const protocolText = path.protocol === '4' ? 'IP protocol 4' : path.protocol === '112' ? 'IP protocol 112' : `${path.protocol}${portText}`;
    const targetGroup = (groups.groupsOf[missing.target.instanceId] ?? [])[0] ?? 'its security group';
    const sourceGroup = (groups.groupsOf[missing.source.instanceId] ?? [])[0] ?? `${missing.source.privateIp}/32`;
    findings.push({
      field: 'securityGroups',
      reason: `${path.to} do not accept ${protocolText} (${path.what}) from ${path.from}: ${missing.target.instanceId} refuses ${missing.source.instanceId}`,
      fix: `add an inbound rule to ${targetGroup} allowing ${protocolText} from ${sourceGroup}`,
      blocking: true,
    });
  }
  return findings;
}

/** Where a node's connections to a public address come from, as the receiving security group sees them. */
export type Egress =
  | { readonly kind: 'public'; readonly addresses: readonly string[]; readonly via: string }
  | { readonly kind: 'none'; readonly why: string }
  | { readonly kind: 'unseen'; readonly via: string };

/**
 * How an instance's traffic to `destination` (a public address) leaves the VPC, as AWS routes it: its subnet's
 * route table (the explicitly associated one, else the VPC's main table: "If a subnet is not explicitly associated
 * with any route table, it is implicitly associated with the main route table", DescribeRouteTables), the most
 * specific route covering the address (0.0.0.0/0 in the usual layout), then its target. A public NAT gateway
 * sends from its public addresses (any of them, NatGatewayAddresses); an internet gateway translates only an
 * instance that has a public IPv4 address of its own, and drops the traffic of one that has none
 * (https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Internet_Gateway.html). Any other target (a transit
 * gateway, a NAT instance, a peering) hides the address from preflight.
 */
export function egressOf(instance: Pick<ClusterInstance, 'vpcId' | 'subnetId' | 'publicIp'>, egress: EgressFacts, destination: string): Egress {
  const tables = egress.routeTables.filter((table) => table.vpcId === instance.vpcId);
  const explicit = tables.find((table) => instance.subnetId !== undefined && table.subnetIds.includes(instance.subnetId));
  const table = explicit ?? tables.find((candidate) => candidate.main);
  if (!table) return { kind: 'none', why: `no route table of ${instance.vpcId ?? 'its VPC'} applies to ${instance.subnetId ?? 'its subnet'}` };
  const whose = `${table.routeTableId} (${explicit ? `the route table of ${instance.subnetId}` : `the VPC's main route table, which every subnet without a table of its own uses`})`;
  const route = table.routes
    .filter((candidate) => containsAddress(candidate.destination, destination))
    .sort((a, b) => prefixLength(parseCidr(b.destination)) - prefixLength(parseCidr(a.destination)))[0];
  if (!route) return { kind: 'none', why: `${whose} has no route to ${destination} (no 0.0.0.0/0 route)` };
  if (route.state !== 'active') return { kind: 'none', why: `${whose} sends ${route.destination} to ${route.target}, a blackhole (the target is gone)` };
  if (route.target.startsWith('nat-')) {
    const nat = egress.natGateways.find((candidate) => candidate.natGatewayId === route.target);
    if (!nat || nat.state !== 'available') return { kind: 'none', why: `${whose} sends ${route.destination} to ${route.target}, which is ${nat?.state ?? 'not found'}` };
    if (nat.connectivity === 'private' || nat.publicIps.length === 0) return { kind: 'none', why: `${whose} sends ${route.destination} to ${route.target}, a private NAT gateway, which has no public address` };
    return { kind: 'public', addresses: nat.publicIps, via: `NAT gateway ${nat.natGatewayId}` };
  }
  if (route.target.startsWith('igw-')) {
    if (!instance.publicIp) return { kind: 'none', why: `${whose} sends ${route.destination} to internet gateway ${route.target}, and the instance has no public IPv4 address` };
    return { kind: 'public', addresses: [instance.publicIp], via: `its own public address (internet gateway ${route.target})` };
  }
  return { kind: 'unseen', via: route.target };
}

function listed(ids: readonly string[]): string {
  const shown = ids.slice(0, 5).join(', ');
  return ids.length > 5 ? `${shown} and ${ids.length - 5} more` : shown;
}

/**
 * The path every `kubeadm join` takes once: kubeadm fetches cluster-info from the control-plane endpoint and builds
 * its TLS-bootstrap kubeconfig from cluster-info's server, which is that endpoint too. The endpoint is
 * controlPlaneDnsName when set, else the Elastic IP (plan.ts, controlPlaneEndpoint); commands.ts hands it to
 * kubeadm init and every join as ControlPlaneEndpoint, verbatim. kubeha neither creates nor resolves the name:
 * README has it resolve to the Elastic IP, and the pair has no private address of its own for it to resolve to
 * instead (keepalived's virtual address is a marker on loopback; what moves on failover is the Elastic IP,
 * configure-load-balancer.sh). So with or without controlPlaneDnsName the nodes reach the Elastic IP, and this
 * check applies to both.
 *
 * Traffic to the Elastic IP leaves through the NAT or internet gateway and arrives from a public address, which a
 * rule naming a security group never matches (shared/reality.md, "Networking on AWS"; "security group rules that
 * reference a security group ... [match] the private IP addresses", https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html).
 * Each master's and worker's public source address must therefore be in a CIDR the load balancers' groups admit
 * on the API port. One blocking finding per address and group, naming the nodes and the rule to add; one per
 * reason a node has no path at all; a warning where the route leads somewhere preflight cannot see through.
 */
export function endpointPathFindings(
  config: Pick<ClusterConfig, 'loadBalancerPort' | 'controlPlaneDnsName'>,
  instances: readonly ClusterInstance[],
  groups: SecurityGroupFacts,
  egress: EgressFacts,
  elasticIpAddress: string,
): Finding[] {
  const fleet = groupFleet(instances);
  const byId = new Map(instances.map((instance) => [instance.instanceId, instance]));
  const nodes = [...fleet.masters, ...fleet.workers].map((member) => byId.get(member.instanceId)).filter((instance): instance is ClusterInstance => instance !== undefined);
  const port = config.loadBalancerPort;
  const endpoint = config.controlPlaneDnsName ? `${config.controlPlaneDnsName}:${port} (resolving to the Elastic IP ${elasticIpAddress})` : `${elasticIpAddress}:${port} (the Elastic IP)`;
  const groupOf = (instanceId: string) => (groups.groupsOf[instanceId] ?? [])[0] ?? 'the load balancers\' security group';
  const firstGroup = fleet.loadBalancers[0] ? groupOf(fleet.loadBalancers[0].instanceId) : 'the load balancers\' security group';
  const admitsFrom = (balancer: string, address: string) =>
    (groups.groupsOf[balancer] ?? [])
      .flatMap((group) => groups.ingress[group] ?? [])
      .some(
        (rule) =>
          (rule.protocol === '-1' || (rule.protocol === 'tcp' && (rule.fromPort ?? 0) <= port && (rule.toPort ?? 65535) >= port)) &&
          rule.cidrs.some((cidr) => containsAddress(cidr, address)),
      );

  const refused = new Map<string, { address: string; via: string; group: string; nodes: string[] }>();
  const pathless = new Map<string, string[]>();
  const unseen = new Map<string, string[]>();
  for (const node of nodes) {
    const path = egressOf(node, egress, elasticIpAddress);
    if (path.kind === 'none') pathless.set(path.why, [...(pathless.get(path.why) ?? []), node.instanceId]);
    if (path.kind === 'unseen') unseen.set(path.via, [...(unseen.get(path.via) ?? []), node.instanceId]);
    if (path.kind !== 'public') continue;
    for (const address of path.addresses) {
      for (const balancer of fleet.loadBalancers) {
        if (admitsFrom(balancer.instanceId, address)) continue;
        const group = groupOf(balancer.instanceId);
        const key = `${address}|${group}`;
        const entry = refused.get(key) ?? { address, via: path.via, group, nodes: [] };
        if (!entry.nodes.includes(node.instanceId)) entry.nodes.push(node.instanceId);
        refused.set(key, entry);
      }
    }
  }

  const findings: Finding[] = [];
  for (const { address, via, group, nodes: ids } of refused.values()) {
    findings.push({
      field: 'securityGroups',
      reason: `${listed(ids)} reach the Elastic IP from ${address} (${via}), and ${group}, the load balancers' group, does not accept tcp ${port} from it: kubeadm join dials the control-plane endpoint ${endpoint} and would time out, since a rule naming the nodes' security groups never matches traffic that arrives from a public address`,
      fix: `add an inbound rule to ${group} allowing tcp ${port} from ${address}/32`,
      blocking: true,
    });
  }
  for (const [why, ids] of pathless) {
    findings.push({
      field: 'instances',
      reason: `${listed(ids)} have no path to the Elastic IP ${elasticIpAddress}, which kubeadm join dials (the control-plane endpoint ${endpoint}): ${why}`,
      fix: `route the subnet's 0.0.0.0/0 to an available NAT gateway in a public subnet (aws ec2 create-route --route-table-id rtb-… --destination-cidr-block 0.0.0.0/0 --nat-gateway-id nat-…), or place the nodes in a subnet routed to an internet gateway with public IPv4 addresses; then allow tcp ${port} from that public address on ${firstGroup}`,
      blocking: true,
    });
  }
  for (const [via, ids] of unseen) {
    findings.push({
      field: 'securityGroups',
      reason: `${listed(ids)} reach the Elastic IP ${elasticIpAddress} through ${via}, whose public address preflight cannot see (it is neither a NAT gateway nor an internet gateway)`,
      fix: `make sure ${firstGroup} allows tcp ${port} from the public address traffic leaves through ${via} with, or kubeadm join will time out`,
      blocking: false,
    });
  }
  return findings;
}

/**
 * Instances whose metadata service hands their role's credentials to pods. IMDSv1 (HttpTokens optional)
 * answers a plain GET from anywhere the node routes, pods included; IMDSv2's token comes back with an
 * IP TTL of the hop limit, and a pod on the pod network is one hop beyond the node, so a limit above 1
 * lets it fetch a token. With the endpoint disabled nothing answers (and the SSM agent gets no role
 * either, which the agent check reports). One finding per instance, naming each setting at fault.
 */
export function metadataFindings(instances: readonly ClusterInstance[]): Finding[] {
  const findings: Finding[] = [];
  for (const instance of instances) {
    const metadata = instance.metadata;
    if (instance.ec2State !== 'running' || !metadata || metadata.httpEndpoint === 'disabled') continue;
    const faults = [
      ...(metadata.httpTokens !== 'required' ? [`HttpTokens is ${metadata.httpTokens} (IMDSv1 answers any process that can reach 169.254.169.254, pods included)`] : []),
      ...(metadata.hopLimit > 1 ? [`HttpPutResponseHopLimit is ${metadata.hopLimit} (a pod is one hop beyond its node, so it can fetch an IMDSv2 token)`] : []),
    ];
    if (faults.length === 0) continue;
    findings.push({
      field: instance.instanceId,
      reason: `lets pods reach its ${instance.role ?? 'node'} role through instance metadata: ${faults.join('; ')}`,
      fix: `aws ec2 modify-instance-metadata-options --instance-id ${instance.instanceId} --http-tokens required --http-put-response-hop-limit 1 --http-endpoint enabled (applies to the running instance)`,
      blocking: true,
    });
  }
  return findings;
}
