import { describe, expect, it } from 'vitest';
import { parseBootstrapInput } from '../../functions/core/config.js';
import {
  type EgressFacts,
  type IngressRule,
  MINIMUM_SSM_AGENT_VERSION,
  type PreflightFacts,
  type SecurityGroupFacts,
  blockingFindings,
  endpointPathFindings,
  metadataFindings,
  preflightFindings,
  securityGroupFindings,
  versionAtLeast,
} from '../../functions/core/preflight.js';
import { TODAY, bootstrapInput } from '../support/inputs.js';
import { instance, standardInstances } from '../support/instances.js';

const CLUSTER_TAG = 'kubernetes.io/cluster/prod-eu';

function facts(overrides: Partial<PreflightFacts> = {}): PreflightFacts {
  const instances = overrides.instances ?? standardInstances();
  return {
    instances,
    network: { subnets: [{ subnetId: 'subnet-a', vpcId: 'vpc-main', cidr: '10.0.0.0/20' }], vpcs: [{ vpcId: 'vpc-main', cidrs: ['10.0.0.0/16'] }] },
    elasticIp: { allocationId: 'eipalloc-0abc12345def67890', publicIp: '203.0.113.10', tags: { [CLUSTER_TAG]: 'owned' } },
    onlineInstanceIds: new Set(instances.map((candidate) => candidate.instanceId)),
    missingSecrets: [],
    ...overrides,
  };
}

const config = (overrides: Record<string, unknown> = {}) => parseBootstrapInput(bootstrapInput(overrides), TODAY);

describe('preflightFindings', () => {
  it('finds nothing blocking on a sound fleet of 3 masters, 2 load balancers and 3 workers', () => {
    expect(blockingFindings(preflightFindings(config(), facts()))).toEqual([]);
  });

  it("rejects the runbook's podSubnet 10.0.0.0/18, which overlaps the nodes' own 10.0.x.x network", () => {
    // Prepare
    const runbook = config({ podCidr: '10.0.0.0/18', serviceCidr: '10.96.0.0/12' });

    // Act
    const findings = blockingFindings(preflightFindings(runbook, facts()));

    // Assess
    expect(findings).toContainEqual(
      expect.objectContaining({ field: 'podCidr', reason: '10.0.0.0/18 overlaps VPC vpc-main (10.0.0.0/16) where the nodes live' }),
    );
    expect(findings).toContainEqual(expect.objectContaining({ field: 'podCidr', reason: expect.stringContaining('subnet subnet-a (10.0.0.0/20)') }));
  });

  it("rejects the runbook's serviceSubnet 172.31.0.0/16 in AWS's default VPC", () => {
    const defaultVpc = facts({
      network: { subnets: [{ subnetId: 'subnet-d', vpcId: 'vpc-default', cidr: '172.31.0.0/20' }], vpcs: [{ vpcId: 'vpc-default', cidrs: ['172.31.0.0/16'] }] },
    });
    const findings = blockingFindings(preflightFindings(config({ serviceCidr: '172.31.0.0/16' }), defaultVpc));
    expect(findings.map((finding) => finding.field)).toContain('serviceCidr');
    expect(findings.every((finding) => finding.fix.length > 0)).toBe(true);
  });

  it.each([
    [0, 'none found'],
    [2, 'etcd needs an odd count'],
    [4, 'etcd needs an odd count'],
    [9, 'etcd slows down'],
  ])('blocks %i masters', (masters, reason) => {
    const findings = blockingFindings(preflightFindings(config(), facts({ instances: standardInstances({ masters }) })));
    expect(findings).toContainEqual(expect.objectContaining({ field: 'masters', reason: expect.stringContaining(reason) }));
  });

  it('blocks a fleet without a load balancer and one with three', () => {
    for (const loadBalancers of [0, 3]) {
      const findings = blockingFindings(preflightFindings(config(), facts({ instances: standardInstances({ loadBalancers }) })));
      expect(findings.map((finding) => finding.field)).toContain('loadBalancers');
    }
  });

  it('only warns about a single load balancer, a single zone and no workers', () => {
    const sameZone = standardInstances({ loadBalancers: 1, workers: 0 }).map((candidate) => ({ ...candidate, availabilityZone: 'eu-west-1a' }));
    const findings = preflightFindings(config(), facts({ instances: sameZone }));
    expect(blockingFindings(findings)).toEqual([]);
    expect(findings.map((finding) => finding.field).sort()).toEqual(['loadBalancers', 'masters', 'workers']);
  });

  it('warns, naming the field, when more master standbys are asked for than the masters hold zones, and not when they fit', () => {
    // Prepare: three masters in two zones.
    const twoZones = standardInstances().map((candidate) => (candidate.role === 'master' && candidate.availabilityZone === 'eu-west-1c' ? { ...candidate, availabilityZone: 'eu-west-1a' } : candidate));

    // Act
    const tooMany = preflightFindings(config({ healing: { standbys: { master: 3, worker: 0 } } }), facts({ instances: twoZones }));
    const fitting = preflightFindings(config({ healing: { standbys: { master: 2, worker: 0 } } }), facts({ instances: twoZones }));

    // Assess
    expect(blockingFindings(tooMany)).toEqual([]);
    expect(tooMany).toContainEqual({
      field: 'healing.standbys.master',
      reason: '3 asked for, but the masters are in 2 availability zones: a master standby waits only in a zone of the masters, one per zone, so 1 will not be kept',
      fix: 'set healing.standbys.master to at most 2, or spread the masters over more zones',
      blocking: false,
    });
    expect(fitting.map((finding) => finding.field)).not.toContain('healing.standbys.master');
  });

  it('names the instance whose SSM agent is offline', () => {
    const instances = standardInstances();
    const offline = instances[3]!;
    const online = new Set(instances.filter((candidate) => candidate !== offline).map((candidate) => candidate.instanceId));
    expect(blockingFindings(preflightFindings(config(), facts({ instances, onlineInstanceIds: online })))).toEqual([
      expect.objectContaining({ field: offline.instanceId, reason: 'has no online SSM agent' }),
    ]);
  });

  it('names stopped instances and instances without a valid role tag', () => {
    const stopped = instance('worker', { ec2State: 'stopped' });
    const untagged = instance(undefined);
    const findings = blockingFindings(preflightFindings(config(), facts({ instances: [...standardInstances(), stopped, untagged] })));
    expect(findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: stopped.instanceId, reason: 'is stopped' }),
        expect.objectContaining({ field: untagged.instanceId, reason: expect.stringContaining('no valid kubeha:role tag') }),
      ]),
    );
  });

  it('blocks an Elastic IP that does not exist, and one not tagged for the cluster', () => {
    expect(blockingFindings(preflightFindings(config(), facts({ elasticIp: undefined })))).toContainEqual(
      expect.objectContaining({ field: 'elasticIpAllocationId', reason: expect.stringContaining('does not exist') }),
    );
    const untagged = { allocationId: 'eipalloc-0abc12345def67890', publicIp: '203.0.113.10', tags: {} };
    expect(blockingFindings(preflightFindings(config(), facts({ elasticIp: untagged })))).toContainEqual(
      expect.objectContaining({ field: 'elasticIpAllocationId', fix: expect.stringContaining(`${CLUSTER_TAG}=owned`) }),
    );
  });

  it('blocks a cluster whose secrets the stack does not hold, saying how to add them', () => {
    const findings = blockingFindings(preflightFindings(config(), facts({ missingSecrets: ['kubeha/local/prod-eu/control-plane-join'] })));
    expect(findings).toEqual([expect.objectContaining({ field: 'clusterName', fix: expect.stringContaining('clusters parameter') })]);
  });

  it('blocks instances spread over two VPCs', () => {
    const twoVpcs = facts({
      network: {
        subnets: [
          { subnetId: 'subnet-a', vpcId: 'vpc-main', cidr: '10.0.0.0/20' },
          { subnetId: 'subnet-x', vpcId: 'vpc-other', cidr: '10.1.0.0/20' },
        ],
        vpcs: [],
      },
    });
    expect(blockingFindings(preflightFindings(config(), twoVpcs))).toContainEqual(expect.objectContaining({ field: 'instances', reason: expect.stringContaining('span 2 VPCs') }));
  });
});

describe('securityGroupFindings', () => {
  const instances = standardInstances();
  const groupOf = (role: string) => ({ master: 'sg-master', worker: 'sg-worker', lb: 'sg-lb' })[role] ?? 'sg-none';
  const tcp = (from: number, to: number, ...sourceGroupIds: string[]): IngressRule => ({ protocol: 'tcp', fromPort: from, toPort: to, sourceGroupIds, cidrs: [] });
  const proto = (protocol: string, ...sourceGroupIds: string[]): IngressRule => ({ protocol, sourceGroupIds, cidrs: [] });
  const groups = (ingress: Record<string, IngressRule[]>): SecurityGroupFacts => ({
    groupsOf: Object.fromEntries(instances.map((candidate) => [candidate.instanceId, [groupOf(candidate.role ?? '')]])),
    ingress,
  });
  const nodes = ['sg-master', 'sg-worker'];
  const cni = [tcp(179, 179, ...nodes), proto('4', ...nodes)];
  const working = {
    'sg-master': [tcp(6443, 6443, 'sg-master', 'sg-worker', 'sg-lb'), tcp(2379, 2380, 'sg-master'), tcp(10250, 10250, 'sg-master'), ...cni],
    'sg-worker': [tcp(10250, 10250, 'sg-master'), ...cni],
    'sg-lb': [tcp(6443, 6443, ...nodes), proto('112', 'sg-lb')],
  };

  it("names the paths README's former rules left shut: workers to masters on 6443 and masters to workers' kubelets", () => {
    // Prepare: what README used to document (masters accept 6443 from load balancers and masters only).
    const readme = groups({
      'sg-master': [tcp(6443, 6443, 'sg-lb', 'sg-master'), tcp(2379, 2380, 'sg-master'), tcp(10250, 10250, 'sg-master'), ...cni],
      'sg-worker': [...cni],
      'sg-lb': [tcp(6443, 6443, ...nodes), proto('112', 'sg-lb')],
    });

    // Act
    const findings = securityGroupFindings({ loadBalancerPort: 6443 }, instances, readme);

    // Assess
    expect(findings.map((finding) => finding.reason.split(':')[0])).toEqual([
      'masters do not accept tcp 6443 (the Kubernetes API) from workers',
      'workers do not accept tcp 10250 (the kubelet API) from masters',
    ]);
    expect(findings[0]).toMatchObject({ field: 'securityGroups', blocking: true, fix: 'add an inbound rule to sg-master allowing tcp 6443 from sg-worker' });
  });

  it('finds nothing when every path is open, and accepts VXLAN instead of IP-in-IP', () => {
    const vxlan = Object.fromEntries(
      Object.entries(working).map(([group, rules]) => [group, rules.map((rule) => (rule.protocol === '4' ? { ...rule, protocol: 'udp', fromPort: 4789, toPort: 4789 } : rule))]),
    );
    expect(securityGroupFindings({ loadBalancerPort: 6443 }, instances, groups(working))).toEqual([]);
    expect(securityGroupFindings({ loadBalancerPort: 6443 }, instances, groups(vxlan))).toEqual([]);
  });

  it("checks the load balancers' port as configured, and VRRP between them", () => {
    const findings = securityGroupFindings({ loadBalancerPort: 8443 }, instances, groups({ ...working, 'sg-lb': [tcp(6443, 6443, ...nodes)] }));
    expect(findings.map((finding) => finding.reason.split(':')[0])).toEqual([
      'loadBalancers do not accept tcp 8443 (the API through the load balancers) from masters',
      'loadBalancers do not accept tcp 8443 (the API through the load balancers) from workers',
      'loadBalancers do not accept IP protocol 112 (VRRP between the keepalived pair) from loadBalancers',
    ]);
  });

  it("matches address rules against the instances' private addresses only, as AWS does", () => {
    const byCidr = (cidr: string) => groups({ ...working, 'sg-master': [...working['sg-master'].filter((rule) => rule.fromPort !== 6443), { protocol: 'tcp', fromPort: 6443, toPort: 6443, sourceGroupIds: [], cidrs: [cidr] }] });
    expect(securityGroupFindings({ loadBalancerPort: 6443 }, instances, byCidr('10.0.0.0/16'))).toEqual([]);
    expect(securityGroupFindings({ loadBalancerPort: 6443 }, instances, byCidr('203.0.113.0/24')).map((finding) => finding.reason.split(':')[0])).toContain(
      'masters do not accept tcp 6443 (the Kubernetes API) from workers',
    );
  });

  it('accepts an all-traffic rule from the cluster group, and blocks the bootstrap through preflight when a path is shut', () => {
    const allTraffic = groups({ 'sg-master': [proto('-1', 'sg-master', 'sg-worker', 'sg-lb')], 'sg-worker': [proto('-1', 'sg-master', 'sg-worker')], 'sg-lb': [proto('-1', 'sg-master', 'sg-worker', 'sg-lb')] });
    expect(securityGroupFindings({ loadBalancerPort: 6443 }, instances, allTraffic)).toEqual([]);
    const shut = blockingFindings(preflightFindings(config(), facts({ instances, securityGroups: groups({ ...working, 'sg-worker': cni }) })));
    expect(shut).toContainEqual(expect.objectContaining({ field: 'securityGroups', reason: expect.stringContaining('workers do not accept tcp 10250') }));
  });
});

describe('endpointPathFindings', () => {
  // Three masters and three workers in subnet-a, whose traffic to the Elastic IP 203.0.113.10 leaves through
  // the NAT gateway in the main route table unless a test says otherwise.
  const ELASTIC_IP = '203.0.113.10';
  const NAT_IP = '198.51.100.7';
  const instances = standardInstances();
  const groupOf = (role: string) => ({ master: 'sg-master', worker: 'sg-worker', lb: 'sg-lb' })[role] ?? 'sg-none';
  const tcp = (cidrs: string[], ...sourceGroupIds: string[]): IngressRule => ({ protocol: 'tcp', fromPort: 6443, toPort: 6443, sourceGroupIds, cidrs });
  const lbRules = (...rules: IngressRule[]) => ({
    groupsOf: Object.fromEntries(instances.map((candidate) => [candidate.instanceId, [groupOf(candidate.role ?? '')]])),
    ingress: { 'sg-lb': [...rules, { protocol: '112', sourceGroupIds: ['sg-lb'], cidrs: [] }] },
  });
  const onlyGroups = lbRules(tcp([], 'sg-master', 'sg-worker'));
  const local = { destination: '10.0.0.0/16', target: 'local', state: 'active' };
  const throughNat = (natGatewayId = 'nat-0aaa1'): EgressFacts => ({
    routeTables: [{ routeTableId: 'rtb-main', vpcId: 'vpc-main', main: true, subnetIds: [], routes: [local, { destination: '0.0.0.0/0', target: natGatewayId, state: 'active' }] }],
    natGateways: [{ natGatewayId: 'nat-0aaa1', state: 'available', connectivity: 'public', publicIps: [NAT_IP] }],
  });
  const masters = instances.filter((candidate) => candidate.role === 'master').map((candidate) => candidate.instanceId);
  const workers = instances.filter((candidate) => candidate.role === 'worker').map((candidate) => candidate.instanceId);
  const port = { loadBalancerPort: 6443 };

  it("blocks when the load balancers' group admits the API port only from the nodes' groups, naming the NAT's address and the rule to add", () => {
    // Act
    const findings = endpointPathFindings(port, instances, onlyGroups, throughNat(), ELASTIC_IP);

    // Assess
    expect(findings).toEqual([
      {
        field: 'securityGroups',
        reason: expect.stringContaining(`reach the Elastic IP from ${NAT_IP} (NAT gateway nat-0aaa1), and sg-lb, the load balancers' group, does not accept tcp 6443 from it: kubeadm join dials the control-plane endpoint ${ELASTIC_IP}:6443`),
        fix: `add an inbound rule to sg-lb allowing tcp 6443 from ${NAT_IP}/32`,
        blocking: true,
      },
    ]);
    expect(findings[0]!.reason).toContain(`${[...masters, ...workers].slice(0, 5).join(', ')} and 1 more`);
  });

  it("passes once the group admits the NAT's /32, or 0.0.0.0/0, and checks the configured port", () => {
    expect(endpointPathFindings(port, instances, lbRules(tcp([`${NAT_IP}/32`])), throughNat(), ELASTIC_IP)).toEqual([]);
    expect(endpointPathFindings(port, instances, lbRules(tcp(['0.0.0.0/0'])), throughNat(), ELASTIC_IP)).toEqual([]);
    expect(endpointPathFindings({ loadBalancerPort: 8443 }, instances, lbRules(tcp(['0.0.0.0/0'])), throughNat(), ELASTIC_IP)).toEqual([
      expect.objectContaining({ fix: `add an inbound rule to sg-lb allowing tcp 8443 from ${NAT_IP}/32` }),
    ]);
  });

  it("takes a node's own public address behind an internet gateway, and finds no path for one without a public address", () => {
    // Prepare: subnet-b is explicitly associated with a table routing 0.0.0.0/0 to an internet gateway.
    const withPublic = instance('worker', { subnetId: 'subnet-b', publicIp: '198.51.100.99' });
    const withoutPublic = instance('worker', { subnetId: 'subnet-b' });
    const fleet = [...instances, withPublic, withoutPublic];
    const egress: EgressFacts = {
      ...throughNat(),
      routeTables: [
        ...throughNat().routeTables,
        { routeTableId: 'rtb-public', vpcId: 'vpc-main', main: false, subnetIds: ['subnet-b'], routes: [local, { destination: '0.0.0.0/0', target: 'igw-0bbb2', state: 'active' }] },
      ],
    };
    const groups = { ...lbRules(tcp([`${NAT_IP}/32`])), groupsOf: Object.fromEntries(fleet.map((candidate) => [candidate.instanceId, [groupOf(candidate.role ?? '')]])) };

    // Act
    const findings = endpointPathFindings(port, fleet, groups, egress, ELASTIC_IP);

    // Assess
    expect(findings).toEqual([
      expect.objectContaining({
        field: 'securityGroups',
        reason: expect.stringMatching(new RegExp(`^${withPublic.instanceId} reach the Elastic IP from 198\\.51\\.100\\.99 \\(its own public address \\(internet gateway igw-0bbb2\\)\\)`)),
        fix: 'add an inbound rule to sg-lb allowing tcp 6443 from 198.51.100.99/32',
        blocking: true,
      }),
      expect.objectContaining({
        field: 'instances',
        reason: `${withoutPublic.instanceId} have no path to the Elastic IP ${ELASTIC_IP}, which kubeadm join dials (the control-plane endpoint ${ELASTIC_IP}:6443 (the Elastic IP)): rtb-public (the route table of subnet-b) sends 0.0.0.0/0 to internet gateway igw-0bbb2, and the instance has no public IPv4 address`,
        fix: expect.stringContaining('--destination-cidr-block 0.0.0.0/0 --nat-gateway-id nat-'),
        blocking: true,
      }),
    ]);
  });

  it('finds no path from a subnet whose route table has no default route, nor through a blackhole or a private NAT gateway', () => {
    const isolated: EgressFacts = { routeTables: [{ routeTableId: 'rtb-main', vpcId: 'vpc-main', main: true, subnetIds: [], routes: [local] }], natGateways: [] };
    const gone: EgressFacts = { ...throughNat(), natGateways: [{ natGatewayId: 'nat-0aaa1', state: 'deleted', connectivity: 'public', publicIps: [] }] };
    const privateNat: EgressFacts = { ...throughNat(), natGateways: [{ natGatewayId: 'nat-0aaa1', state: 'available', connectivity: 'private', publicIps: [] }] };

    const reasons = [isolated, gone, privateNat].map((egress) => endpointPathFindings(port, instances, lbRules(tcp(['0.0.0.0/0'])), egress, ELASTIC_IP));

    expect(reasons.map((findings) => findings.map((finding) => [finding.field, finding.blocking]))).toEqual([[['instances', true]], [['instances', true]], [['instances', true]]]);
    expect(reasons[0]![0]!.reason).toContain("rtb-main (the VPC's main route table, which every subnet without a table of its own uses) has no route to 203.0.113.10 (no 0.0.0.0/0 route)");
    expect(reasons[1]![0]!.reason).toContain('sends 0.0.0.0/0 to nat-0aaa1, which is deleted');
    expect(reasons[2]![0]!.reason).toContain('a private NAT gateway, which has no public address');
  });

  it("falls back to the VPC's main table for a subnet with no association of its own, and prefers a subnet's explicit table", () => {
    // Prepare: the main table routes through nat-0aaa1; subnet-c has its own table through nat-0ccc3.
    const inC = instance('worker', { subnetId: 'subnet-c' });
    const fleet = [...instances, inC];
    const egress: EgressFacts = {
      routeTables: [
        { routeTableId: 'rtb-c', vpcId: 'vpc-main', main: false, subnetIds: ['subnet-c'], routes: [local, { destination: '0.0.0.0/0', target: 'nat-0ccc3', state: 'active' }] },
        ...throughNat().routeTables,
      ],
      natGateways: [...throughNat().natGateways, { natGatewayId: 'nat-0ccc3', state: 'available', connectivity: 'public', publicIps: ['198.51.100.33'] }],
    };
    const groups = { ...lbRules(tcp([`${NAT_IP}/32`])), groupsOf: Object.fromEntries(fleet.map((candidate) => [candidate.instanceId, [groupOf(candidate.role ?? '')]])) };

    // Act
    const findings = endpointPathFindings(port, fleet, groups, egress, ELASTIC_IP);

    // Assess: subnet-a's nodes pass through the main table's NAT; subnet-c's worker leaves from the other one.
    expect(findings).toEqual([expect.objectContaining({ reason: expect.stringMatching(new RegExp(`^${inC.instanceId} reach the Elastic IP from 198\\.51\\.100\\.33 \\(NAT gateway nat-0ccc3\\)`)), fix: 'add an inbound rule to sg-lb allowing tcp 6443 from 198.51.100.33/32' })]);
  });

  it('only warns where the route leads through a target whose public address preflight cannot see', () => {
    const transit: EgressFacts = { routeTables: [{ routeTableId: 'rtb-main', vpcId: 'vpc-main', main: true, subnetIds: [], routes: [local, { destination: '0.0.0.0/0', target: 'tgw-0ddd4', state: 'active' }] }], natGateways: [] };
    expect(endpointPathFindings(port, instances, onlyGroups, transit, ELASTIC_IP)).toEqual([
      expect.objectContaining({ field: 'securityGroups', blocking: false, reason: expect.stringContaining('through tgw-0ddd4, whose public address preflight cannot see') }),
    ]);
  });

  it('is part of preflight, with controlPlaneDnsName as well: the name resolves to the Elastic IP, so the join takes the same path', () => {
    // Prepare
    const securityGroups = { ...onlyGroups, ingress: { ...onlyGroups.ingress, 'sg-master': [{ protocol: '-1', sourceGroupIds: ['sg-master', 'sg-worker', 'sg-lb'], cidrs: [] }], 'sg-worker': [{ protocol: '-1', sourceGroupIds: ['sg-master', 'sg-worker'], cidrs: [] }] } };
    const blocked = facts({ instances, securityGroups, egress: throughNat() });

    // Act
    const byAddress = blockingFindings(preflightFindings(config(), blocked));
    const byName = blockingFindings(preflightFindings(config({ controlPlaneDnsName: 'k8s.example.com' }), blocked));
    const admitted = blockingFindings(preflightFindings(config(), facts({ instances, securityGroups: { ...securityGroups, ingress: { ...securityGroups.ingress, 'sg-lb': [...onlyGroups.ingress['sg-lb'], tcp([`${NAT_IP}/32`])] } }, egress: throughNat() })));

    // Assess
    expect(byAddress).toEqual([expect.objectContaining({ field: 'securityGroups', fix: `add an inbound rule to sg-lb allowing tcp 6443 from ${NAT_IP}/32` })]);
    expect(byName).toEqual([expect.objectContaining({ reason: expect.stringContaining('k8s.example.com:6443 (resolving to the Elastic IP 203.0.113.10)') })]);
    expect(admitted).toEqual([]);
  });
});

describe('the SSM agent version preflight', () => {
  it('blocks an instance whose agent predates interpolationType ENV_VAR, naming the version and the update', () => {
    // Prepare
    const instances = standardInstances();
    const old = instances[3]!;
    const agentVersions = new Map(instances.map((candidate) => [candidate.instanceId, candidate === old ? '3.2.1297.0' : '3.3.3572.0']));

    // Act
    const findings = blockingFindings(preflightFindings(config(), facts({ instances, agentVersions })));

    // Assess
    expect(findings).toEqual([
      expect.objectContaining({ field: old.instanceId, reason: `runs SSM Agent 3.2.1297.0, which ignores interpolationType ENV_VAR (kubeha's documents need ${MINIMUM_SSM_AGENT_VERSION} or later)` }),
    ]);
    expect(findings[0]?.fix).toContain('AWS-UpdateSSMAgent');
  });

  it('accepts the first release that honours ENV_VAR and anything later, and says nothing when SSM reports no version', () => {
    const instances = standardInstances();
    const versions = ['3.3.2746.0', '3.3.3572.0', '3.10.0.0', '4.0.0.0'];
    const agentVersions = new Map(instances.slice(0, versions.length).map((candidate, index) => [candidate.instanceId, versions[index]!]));
    expect(blockingFindings(preflightFindings(config(), facts({ instances, agentVersions })))).toEqual([]);
  });

  it.each([
    ['3.3.2746.0', '3.3.2746.0', true],
    ['3.3.2745.99', '3.3.2746.0', false],
    ['3.10.0.0', '3.3.2746.0', true],
    ['3.3', '3.3.2746.0', false],
    ['not-a-version', '3.3.2746.0', false],
  ])('versionAtLeast(%s, %s) is %s', (have, want, expected) => {
    expect(versionAtLeast(have, want)).toBe(expected);
  });
});

describe('metadataFindings', () => {
  const secure = { httpTokens: 'required', hopLimit: 1, httpEndpoint: 'enabled' };

  it('accepts IMDSv2 with a hop limit of 1, a disabled endpoint, and instances EC2 gave no settings for', () => {
    // Prepare
    const instances = [instance('master', { metadata: secure }), instance('worker', { metadata: { ...secure, httpTokens: 'optional', httpEndpoint: 'disabled' } }), instance('lb')];

    // Act + Assess
    expect(metadataFindings(instances)).toEqual([]);
  });

  it('names each instance that answers IMDSv1 or gives tokens beyond one hop, with every setting at fault', () => {
    // Prepare
    const v1 = instance('master', { metadata: { ...secure, httpTokens: 'optional' } });
    const twoHops = instance('worker', { metadata: { ...secure, hopLimit: 2 } });
    const both = instance('lb', { metadata: { httpTokens: 'optional', hopLimit: 3, httpEndpoint: 'enabled' } });

    // Act
    const findings = metadataFindings([v1, twoHops, both, instance('worker', { metadata: secure })]);

    // Assess
    expect(findings.map((finding) => [finding.field, finding.blocking])).toEqual([
      [v1.instanceId, true],
      [twoHops.instanceId, true],
      [both.instanceId, true],
    ]);
    expect(findings[0]!.reason).toMatch(/master role .*HttpTokens is optional/);
    expect(findings[0]!.reason).not.toContain('HopLimit');
    expect(findings[1]!.reason).toMatch(/worker role .*HttpPutResponseHopLimit is 2/);
    expect(findings[2]!.reason).toContain('HttpTokens is optional');
    expect(findings[2]!.reason).toContain('HttpPutResponseHopLimit is 3');
    expect(findings[1]!.fix).toContain(`--instance-id ${twoHops.instanceId} --http-tokens required --http-put-response-hop-limit 1`);
  });

  it('is part of preflight and blocks it', () => {
    // Prepare
    const instances = standardInstances();
    const exposed = { ...instances[3]!, metadata: { ...secure, hopLimit: 2 } };

    // Act
    const blocking = blockingFindings(preflightFindings(config(), facts({ instances: [...instances.slice(0, 3), exposed, ...instances.slice(4)] })));

    // Assess
    expect(blocking.map((finding) => finding.field)).toEqual([exposed.instanceId]);
  });
});
