import {
  AssociateAddressCommand,
  CreateTagsCommand,
  DescribeAddressesCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  type Instance,
  paginateDescribeInstances,
} from '@aws-sdk/client-ec2';
import { type ClusterInstance, CLUSTER_TAG_VALUE, NODE_STATES, NODE_STATE_TAG, ROLES, ROLE_TAG, type NodeState, type Role, clusterTagKey } from '../core/cluster.js';
import type { Ec2Port } from '../core/ports.js';
import { AWS_ERROR, call, errorName } from './aws-errors.js';

const client = new EC2Client({});

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];

function tagsOf(tags: readonly { Key?: string | undefined; Value?: string | undefined }[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).filter((tag) => tag.Key).map((tag) => [tag.Key as string, tag.Value ?? '']));
}

export function toClusterInstance(instance: Instance): ClusterInstance {
  const tags = tagsOf(instance.Tags);
  const role = tags[ROLE_TAG];
  const nodeState = tags[NODE_STATE_TAG];
  return {
    instanceId: instance.InstanceId ?? '',
    role: ROLES.includes(role as Role) ? (role as Role) : undefined,
    ec2State: instance.State?.Name ?? 'unknown',
    privateIp: instance.PrivateIpAddress,
    publicIp: instance.PublicIpAddress,
    subnetId: instance.SubnetId,
    vpcId: instance.VpcId,
    availabilityZone: instance.Placement?.AvailabilityZone,
    nodeState: NODE_STATES.includes(nodeState as NodeState) ? (nodeState as NodeState) : undefined,
    launchTime: instance.LaunchTime?.toISOString(),
  };
}

export const ec2: Ec2Port = {
  async findClusterInstances(clusterName) {
    const instances: ClusterInstance[] = [];
    const pages = paginateDescribeInstances(
      { client },
      {
        Filters: [
          { Name: `tag:${clusterTagKey(clusterName)}`, Values: [CLUSTER_TAG_VALUE] },
          { Name: 'instance-state-name', Values: LIVE_STATES },
        ],
      },
    );
    await call('ec2:DescribeInstances', async () => {
      for await (const page of pages) {
        for (const reservation of page.Reservations ?? []) {
          for (const instance of reservation.Instances ?? []) instances.push(toClusterInstance(instance));
        }
      }
    });
    return instances;
  },

  async subnetCidrs(subnetIds) {
    const answer = await call('ec2:DescribeSubnets', () => client.send(new DescribeSubnetsCommand({ SubnetIds: [...subnetIds] })));
    return (answer.Subnets ?? []).map((subnet) => ({ subnetId: subnet.SubnetId ?? '', vpcId: subnet.VpcId ?? '', cidr: subnet.CidrBlock ?? '' }));
  },

  async vpcCidrs(vpcIds) {
    const answer = await call('ec2:DescribeVpcs', () => client.send(new DescribeVpcsCommand({ VpcIds: [...vpcIds] })));
    return (answer.Vpcs ?? []).map((vpc) => ({
      vpcId: vpc.VpcId ?? '',
      cidrs: (vpc.CidrBlockAssociationSet ?? [])
        .filter((association) => association.CidrBlockState?.State === 'associated')
        .map((association) => association.CidrBlock ?? '')
        .filter(Boolean),
    }));
  },

  async findElasticIp(allocationId) {
    try {
      const answer = await call('ec2:DescribeAddresses', () => client.send(new DescribeAddressesCommand({ AllocationIds: [allocationId] })));
      const address = answer.Addresses?.[0];
      if (!address?.PublicIp) return undefined;
      return {
        allocationId,
        publicIp: address.PublicIp,
        ...(address.InstanceId ? { instanceId: address.InstanceId } : {}),
        tags: tagsOf(address.Tags),
      };
    } catch (error: unknown) {
      if (errorName(error) === AWS_ERROR.allocationNotFound) return undefined;
      throw error;
    }
  },

  async associateElasticIp(allocationId, instanceId) {
    await call('ec2:AssociateAddress', () =>
      client.send(new AssociateAddressCommand({ AllocationId: allocationId, InstanceId: instanceId, AllowReassociation: true })),
    );
  },

  async tagInstances(instanceIds, tags) {
    await call('ec2:CreateTags', () =>
      client.send(
        new CreateTagsCommand({
          Resources: [...instanceIds],
          Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      ),
    );
  },
};
