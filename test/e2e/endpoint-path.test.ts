// The path a node's kubeadm join takes to the Elastic IP: the EC2 adapter's route tables and NAT gateways
// against the simulator's API shapes (DescribeRouteTables, DescribeNatGateways), the simulator failing a
// join whose public source address the load balancers' group does not admit, and preflight refusing that
// cluster before any change.
import { DescribeNatGatewaysCommand, DescribeRouteTablesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, it } from 'vitest';
import { ec2 as ec2Adapter } from '../../functions/adapters/ec2.js';
import { installFleet } from '../../sim/aws.js';
import { consoleInput } from '../../sim/bootstrap.js';
import { LocalControlPlane } from '../../sim/control-plane.js';
import { SimulatedFleet } from '../../sim/fleet.js';
import { bootstrappedCluster } from '../support/cluster.js';

const LB_GROUP = 'sg-lb0000000000001';
const NODE_GROUPS = ['sg-master0000000000001', 'sg-worker0000000000001'];

let uninstall: (() => void) | undefined;
let plane: LocalControlPlane | undefined;
afterEach(() => {
  uninstall?.();
  plane?.stop();
  uninstall = undefined;
  plane = undefined;
});

/** The load balancers' group as an audit found it: the API port from the nodes' groups only (and VRRP). */
function admitOnlyTheNodeGroups(fleet: SimulatedFleet, ...cidrs: string[]): void {
  fleet.securityGroups.set(LB_GROUP, [
    { protocol: 'tcp', fromPort: 6443, toPort: 6443, sourceGroupIds: NODE_GROUPS, cidrs },
    { protocol: '112', sourceGroupIds: [LB_GROUP], cidrs: [] },
  ]);
}

function vpcOf(fleet: SimulatedFleet): string {
  return [...fleet.vpcs.keys()][0]!;
}

describe('the EC2 adapter against the simulated DescribeRouteTables and DescribeNatGateways', () => {
  it("gives the VPC's main table (Main, no subnet id), the public subnet's explicit table and the NAT gateway's public address", async () => {
    // Prepare
    const fleet = SimulatedFleet.standard();
    uninstall = installFleet(fleet);
    const vpcId = vpcOf(fleet);
    const [nat] = [...fleet.natGateways.values()];

    // Act
    const raw = await new EC2Client({}).send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }));
    const tables = await ec2Adapter.routeTables([vpcId]);
    const gateways = await ec2Adapter.natGateways([vpcId]);

    // Assess: the API's own shape first (Associations[].Main, Route targets and State), then the adapter's reading.
    const main = raw.RouteTables?.find((table) => table.Associations?.some((association) => association.Main));
    expect(main?.Associations).toEqual([expect.objectContaining({ Main: true, AssociationState: { State: 'associated' } })]);
    expect(main?.Associations?.[0]).not.toHaveProperty('SubnetId');
    expect(main?.Routes).toEqual([
      { DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', Origin: 'CreateRouteTable', State: 'active' },
      { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: nat!.natGatewayId, Origin: 'CreateRoute', State: 'active' },
    ]);
    expect(tables).toEqual([
      { routeTableId: main?.RouteTableId, vpcId, main: true, subnetIds: [], routes: [{ destination: '10.0.0.0/16', target: 'local', state: 'active' }, { destination: '0.0.0.0/0', target: nat!.natGatewayId, state: 'active' }] },
      { routeTableId: expect.stringMatching(/^rtb-/), vpcId, main: false, subnetIds: [nat!.subnetId], routes: [expect.objectContaining({ target: 'local' }), { destination: '0.0.0.0/0', target: expect.stringMatching(/^igw-/), state: 'active' }] },
    ]);
    expect(gateways).toEqual([{ natGatewayId: nat!.natGatewayId, state: 'available', connectivity: 'public', publicIps: ['198.51.100.10'] }]);
  });

  it("reads every page, and only the VPC's: a second VPC's tables and gateways stay out", async () => {
    // Prepare: two more tables in the VPC, another VPC with its own NAT egress, one item per page.
    const fleet = SimulatedFleet.standard();
    uninstall = installFleet(fleet);
    const vpcId = vpcOf(fleet);
    fleet.addRouteTable(vpcId);
    fleet.addRouteTable(vpcId);
    fleet.addNatEgress(fleet.addVpc('10.9.0.0/16'));
    fleet.describePageSize = 1;
    const callsBefore = fleet.calls.length;

    // Act
    const tables = await ec2Adapter.routeTables([vpcId]);
    const gateways = await ec2Adapter.natGateways([vpcId]);

    // Assess
    expect(tables).toHaveLength(4);
    expect(new Set(tables.map((table) => table.vpcId))).toEqual(new Set([vpcId]));
    expect(gateways.map((gateway) => gateway.publicIps)).toEqual([['198.51.100.10']]);
    const made = fleet.calls.slice(callsBefore).map((call) => call.operation);
    expect(made.filter((operation) => operation === 'DescribeRouteTables')).toHaveLength(4);
    expect(made.filter((operation) => operation === 'DescribeNatGateways')).toHaveLength(1);
  });

  it('refuses what EC2 refuses: an unknown filter name, and a MaxResults under 5', async () => {
    const fleet = SimulatedFleet.standard();
    uninstall = installFleet(fleet);
    const client = new EC2Client({});

    await expect(client.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc', Values: [vpcOf(fleet)] }] }))).rejects.toThrow("The filter 'vpc' is invalid");
    await expect(client.send(new DescribeNatGatewaysCommand({ MaxResults: 2 }))).rejects.toThrow('MaxResults must be between 5 and 1000');
  });
});

describe("the simulator's kubeadm join through the Elastic IP", () => {
  it("times out from a node whose NAT address the load balancers' group does not admit, and goes through once it does", () => {
    // Prepare: a load balancer holds the Elastic IP, as it does once bootstrap has configured the pair.
    const fleet = SimulatedFleet.standard();
    const balancer = fleet.byRole('lb')[0]!;
    fleet.associateAddress(fleet.elasticIpAllocationId, balancer.instanceId, false);
    const worker = fleet.byRole('worker')[0]!;
    const endpoint = `${balancer.publicIp}:6443`;

    // Act
    const defaultLayout = fleet.joinEndpointProblem(worker, endpoint);
    admitOnlyTheNodeGroups(fleet);
    const groupsOnly = fleet.joinEndpointProblem(worker, endpoint);
    const byName = fleet.joinEndpointProblem(worker, 'k8s.example.com:6443');
    admitOnlyTheNodeGroups(fleet, '198.51.100.10/32');
    const natAdmitted = fleet.joinEndpointProblem(worker, endpoint);

    // Assess
    expect(defaultLayout).toBeUndefined();
    expect(groupsOnly).toBe(
      `error execution phase preflight: couldn't validate the identity of the API Server: failed to request the cluster-info ConfigMap: Get "https://${endpoint}/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s": dial tcp ${endpoint}: i/o timeout`,
    );
    expect(byName).toContain(`dial tcp ${endpoint}: i/o timeout`);
    expect(natAdmitted).toBeUndefined();
  });

  it("fails a heal's replacement worker at its join once sg-lb stops admitting the NAT's address, as AWS would", async () => {
    // Prepare: a cluster bootstrapped on the default layout, then sg-lb narrowed to the node groups.
    const { fleet, plane: healing } = await bootstrappedCluster();
    admitOnlyTheNodeGroups(fleet);
    const dead = fleet.byRole('worker')[0]!;

    // Act
    fleet.terminateInstance(dead.instanceId);
    await healing.deliver(dead.instanceId, 'terminated');
    await healing.settle();

    // Assess
    const replacement = [...fleet.instances.values()].find((candidate) => candidate.tags['kubeha:replaces'] === dead.instanceId);
    const joins = fleet.invocations.filter((invocation) => invocation.document === 'JoinWorker' && invocation.instanceId === replacement?.instanceId);
    expect(joins.length).toBeGreaterThan(0);
    for (const join of joins) {
      expect(join.status).toBe('Failed');
      expect(join.stderr).toContain(`dial tcp ${fleet.addresses.get(fleet.elasticIpAllocationId)!.publicIp}:6443: i/o timeout`);
    }
  });

  it('times out from a subnet with no way to the Elastic IP at all', () => {
    const fleet = SimulatedFleet.standard();
    const balancer = fleet.byRole('lb')[0]!;
    fleet.associateAddress(fleet.elasticIpAllocationId, balancer.instanceId, false);
    fleet.setDefaultRoute(fleet.mainRouteTable(vpcOf(fleet)).routeTableId, undefined);

    expect(fleet.joinEndpointProblem(fleet.byRole('master')[1]!, `${balancer.publicIp}:6443`)).toContain('i/o timeout');
  });
});

describe('bootstrap on a fleet whose load balancers admit the API only from the node groups', () => {
  it('stops in preflight, before any change, naming the NAT address and the group that refuses it', async () => {
    // Prepare
    const fleet = SimulatedFleet.standard();
    admitOnlyTheNodeGroups(fleet);
    plane = new LocalControlPlane(fleet).start();

    // Act
    const run = await plane.execute('bootstrap-cluster', 'bootstrap-nat', consoleInput(fleet));

    // Assess
    expect(run.error?.name).toBe('PreflightFailedError');
    expect(run.error?.message).toContain(`reach the Elastic IP from 198.51.100.10 (NAT gateway nat-`);
    expect(run.error?.message).toContain(`and ${LB_GROUP}, the load balancers' group, does not accept tcp 6443 from it`);
    expect(fleet.invocations).toEqual([]);
    expect(fleet.calls.filter((call) => call.service === 'ec2' && !call.operation.startsWith('Describe'))).toEqual([]);
  });
});
