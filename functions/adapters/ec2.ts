import type { Instance } from '@aws-sdk/client-ec2';
import { type ClusterInstance, CLUSTER_TAG_VALUE, NODE_STATES, NODE_STATE_TAG, ROLES, ROLE_TAG, type NodeState, type Role, clusterTagKey } from '../core/cluster.js';
import { LaunchFailedError } from '../core/errors.js';
import type { Ec2Port, LaunchSpec } from '../core/ports.js';
import { AWS_ERROR, call, errorName } from './aws-errors.js';

type Sdk = typeof import('@aws-sdk/client-ec2');

// The SDK package loads on first use, not at cold start: most functions use one or two of the five.
let loaded: Promise<{ sdk: Sdk; client: InstanceType<Sdk['EC2Client']> }> | undefined;
function sdk(): Promise<{ sdk: Sdk; client: InstanceType<Sdk['EC2Client']> }> {
  return (loaded ??= import('@aws-sdk/client-ec2').then((module) => ({ sdk: module, client: new module.EC2Client({}) })));
}

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
    tags,
  };
}

/** Tags a replacement must not inherit: AWS's own, and kubeha's record of how far the dead node got. */
function inheritableTags(tags: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).filter(([key]) => !key.startsWith('aws:') && key !== NODE_STATE_TAG && key !== 'kubeha:replaces'));
}

async function describeOne(instanceId: string): Promise<Instance | undefined> {
  const { sdk: aws, client } = await sdk();
  try {
    const answer = await call('ec2:DescribeInstances', () => client.send(new aws.DescribeInstancesCommand({ InstanceIds: [instanceId] })));
    return answer.Reservations?.[0]?.Instances?.[0];
  } catch (error: unknown) {
    if (errorName(error) === AWS_ERROR.instanceNotFound) return undefined;
    throw error;
  }
}

export const ec2: Ec2Port = {
  async findClusterInstances(clusterName) {
    const { sdk: aws, client } = await sdk();
    const instances: ClusterInstance[] = [];
    const pages = aws.paginateDescribeInstances(
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
    const { sdk: aws, client } = await sdk();
    const answer = await call('ec2:DescribeSubnets', () => client.send(new aws.DescribeSubnetsCommand({ SubnetIds: [...subnetIds] })));
    return (answer.Subnets ?? []).map((subnet) => ({ subnetId: subnet.SubnetId ?? '', vpcId: subnet.VpcId ?? '', cidr: subnet.CidrBlock ?? '' }));
  },

  async vpcCidrs(vpcIds) {
    const { sdk: aws, client } = await sdk();
    const answer = await call('ec2:DescribeVpcs', () => client.send(new aws.DescribeVpcsCommand({ VpcIds: [...vpcIds] })));
    return (answer.Vpcs ?? []).map((vpc) => ({
      vpcId: vpc.VpcId ?? '',
      cidrs: (vpc.CidrBlockAssociationSet ?? [])
        .filter((association) => association.CidrBlockState?.State === 'associated')
        .map((association) => association.CidrBlock ?? '')
        .filter(Boolean),
    }));
  },

  async findElasticIp(allocationId) {
    const { sdk: aws, client } = await sdk();
    try {
      const answer = await call('ec2:DescribeAddresses', () => client.send(new aws.DescribeAddressesCommand({ AllocationIds: [allocationId] })));
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
    const { sdk: aws, client } = await sdk();
    await call('ec2:AssociateAddress', () =>
      client.send(new aws.AssociateAddressCommand({ AllocationId: allocationId, InstanceId: instanceId, AllowReassociation: true })),
    );
  },

  async tagInstances(instanceIds, tags) {
    const { sdk: aws, client } = await sdk();
    await call('ec2:CreateTags', () =>
      client.send(
        new aws.CreateTagsCommand({
          Resources: [...instanceIds],
          Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      ),
    );
  },

  async describeInstance(instanceId) {
    const instance = await describeOne(instanceId);
    return instance ? toClusterInstance(instance) : undefined;
  },

  async launchSpecOf(instanceId) {
    const { sdk: aws, client } = await sdk();
    const instance = await describeOne(instanceId);
    if (!instance?.ImageId || !instance.InstanceType || !instance.SubnetId) return undefined;
    const volumeIds = (instance.BlockDeviceMappings ?? []).map((mapping) => mapping.Ebs?.VolumeId).filter((id): id is string => Boolean(id));
    // The dead instance's volumes may be gone already; then the AMI's sizes apply.
    const volumes = volumeIds.length > 0 ? await call('ec2:DescribeVolumes', () => client.send(new aws.DescribeVolumesCommand({ VolumeIds: volumeIds }))).catch(() => undefined) : undefined;
    const byId = new Map((volumes?.Volumes ?? []).map((volume) => [volume.VolumeId, volume]));
    return {
      imageId: instance.ImageId,
      instanceType: instance.InstanceType,
      subnetId: instance.SubnetId,
      securityGroupIds: (instance.SecurityGroups ?? []).map((group) => group.GroupId ?? '').filter(Boolean),
      iamInstanceProfileArn: instance.IamInstanceProfile?.Arn,
      keyName: instance.KeyName,
      tags: inheritableTags(tagsOf(instance.Tags)),
      privateIp: instance.PrivateIpAddress,
      blockDevices: (instance.BlockDeviceMappings ?? []).map((mapping) => {
        const volume = byId.get(mapping.Ebs?.VolumeId);
        return { deviceName: mapping.DeviceName ?? '', volumeSize: volume?.Size, volumeType: volume?.VolumeType, encrypted: volume?.Encrypted };
      }),
    } satisfies LaunchSpec;
  },

  async startInstance(instanceId) {
    const { sdk: aws, client } = await sdk();
    await call('ec2:StartInstances', () => client.send(new aws.StartInstancesCommand({ InstanceIds: [instanceId] })));
  },

  async injectFailure(instanceId, action) {
    const { sdk: aws, client } = await sdk();
    if (action === 'stop') await call('ec2:StopInstances', () => client.send(new aws.StopInstancesCommand({ InstanceIds: [instanceId] })));
    else await call('ec2:TerminateInstances', () => client.send(new aws.TerminateInstancesCommand({ InstanceIds: [instanceId] })));
  },

  async runInstance(spec, options) {
    const { sdk: aws, client } = await sdk();
    const tags = Object.entries(spec.tags).map(([Key, Value]) => ({ Key, Value }));
    try {
      const answer = await call('ec2:RunInstances', () =>
        client.send(
          new aws.RunInstancesCommand({
            MinCount: 1,
            MaxCount: 1,
            ClientToken: options.clientToken,
            ...(spec.launchTemplate
              ? { LaunchTemplate: { LaunchTemplateId: spec.launchTemplate.launchTemplateId, Version: spec.launchTemplate.version } }
              : {
                  ImageId: spec.imageId,
                  InstanceType: spec.instanceType as never,
                  SecurityGroupIds: spec.securityGroupIds,
                  ...(spec.iamInstanceProfileArn ? { IamInstanceProfile: { Arn: spec.iamInstanceProfileArn } } : {}),
                  ...(spec.keyName ? { KeyName: spec.keyName } : {}),
                  BlockDeviceMappings: spec.blockDevices
                    .filter((device) => device.volumeSize !== undefined)
                    .map((device) => ({
                      DeviceName: device.deviceName,
                      Ebs: { VolumeSize: device.volumeSize, VolumeType: device.volumeType as never, Encrypted: device.encrypted, DeleteOnTermination: true },
                    })),
                  MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
                }),
            SubnetId: spec.subnetId,
            ...(options.privateIp ? { PrivateIpAddress: options.privateIp } : {}),
            TagSpecifications: [{ ResourceType: 'instance', Tags: tags }],
          }),
        ),
      );
      const launched = answer.Instances?.[0];
      if (!launched?.InstanceId) throw new LaunchFailedError('RunInstances returned no instance');
      return { instanceId: launched.InstanceId, privateIp: launched.PrivateIpAddress ?? '' };
    } catch (error: unknown) {
      if (errorName(error) === AWS_ERROR.addressInUse) return 'addressInUse';
      if (error instanceof LaunchFailedError || errorName(error) === 'AwsThrottledError') throw error;
      throw new LaunchFailedError(`could not launch a replacement: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  },
};
