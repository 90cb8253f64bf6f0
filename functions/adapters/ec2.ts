import type { Instance, Volume } from '@aws-sdk/client-ec2';
import { type ClusterInstance, CLUSTER_TAG_VALUE, NODE_STATES, NODE_STATE_TAG, ROLES, ROLE_TAG, type NodeState, type Role, chunk, clusterTagKey } from '../core/cluster.js';
import { InsufficientCapacityError, LaunchFailedError } from '../core/errors.js';
import { RETIRING_TAG } from '../core/healing-decisions.js';
import type { Ec2Port, ImageFacts } from '../core/ports.js';
import type { IngressRule, NatGatewayFacts, RouteTableFacts } from '../core/preflight.js';
import { AWS_ERROR, call, errorName } from './aws-errors.js';

type Sdk = typeof import('@aws-sdk/client-ec2');

// The SDK package loads on first use, not at cold start: most functions use one or two of the five.
let loaded: Promise<{ sdk: Sdk; client: InstanceType<Sdk['EC2Client']> }> | undefined;
function sdk(): Promise<{ sdk: Sdk; client: InstanceType<Sdk['EC2Client']> }> {
  return (loaded ??= import('@aws-sdk/client-ec2').then((module) => ({ sdk: module, client: new module.EC2Client({}) })));
}

/** IMDSv2 only, one hop: what every node kubeha launches gets (README, "Instance metadata"). */
export const LAUNCH_METADATA_OPTIONS = { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 } as const;

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];
// DescribeInstances and DescribeVolumes filters take at most 200 values.
const DESCRIBE_BATCH = 200;

/** The tags kubeha reads; the rest stay out of payloads (DescribeInstances returns every tag). */
function isReadTag(key: string): boolean {
  return key.startsWith('kubeha:') || key.startsWith('kubernetes.io/cluster/');
}

function tagsOf(tags: readonly { Key?: string | undefined; Value?: string | undefined }[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).filter((tag) => tag.Key).map((tag) => [tag.Key as string, tag.Value ?? '']));
}

export function toClusterInstance(instance: Instance): ClusterInstance {
  const tags = Object.fromEntries(Object.entries(tagsOf(instance.Tags)).filter(([key]) => isReadTag(key)));
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
    securityGroupIds: (instance.SecurityGroups ?? []).map((group) => group.GroupId ?? '').filter(Boolean),
    ...(instance.MetadataOptions
      ? {
          metadata: {
            httpTokens: instance.MetadataOptions.HttpTokens ?? 'optional',
            hopLimit: instance.MetadataOptions.HttpPutResponseHopLimit ?? 1,
            httpEndpoint: instance.MetadataOptions.HttpEndpoint ?? 'enabled',
          },
        }
      : {}),
    tags,
  };
}

/** Tags a replacement must not inherit: AWS's own, and kubeha's record of how far the dead node got. */
function inheritableTags(tags: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).filter(([key]) => !key.startsWith('aws:') && key !== NODE_STATE_TAG && key !== 'kubeha:replaces' && key !== 'kubeha:upstreams'));
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
  async findClusterInstances(clusterName, options) {
    const { sdk: aws, client } = await sdk();
    const instances: ClusterInstance[] = [];
    const pages = aws.paginateDescribeInstances(
      { client },
      {
        Filters: [
          { Name: `tag:${clusterTagKey(clusterName)}`, Values: [CLUSTER_TAG_VALUE] },
          { Name: 'instance-state-name', Values: options?.terminated ? [...LIVE_STATES, 'terminated'] : LIVE_STATES },
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

  async securityGroupRules(groupIds) {
    const { sdk: aws, client } = await sdk();
    const ingress: Record<string, IngressRule[]> = {};
    for (const batch of chunk(groupIds, DESCRIBE_BATCH)) {
      const pages = aws.paginateDescribeSecurityGroups({ client }, { GroupIds: [...batch] });
      await call('ec2:DescribeSecurityGroups', async () => {
        for await (const page of pages) {
          for (const group of page.SecurityGroups ?? []) {
            ingress[group.GroupId ?? ''] = (group.IpPermissions ?? []).map((permission) => ({
              protocol: permission.IpProtocol ?? '-1',
              fromPort: permission.FromPort,
              toPort: permission.ToPort,
              sourceGroupIds: (permission.UserIdGroupPairs ?? []).map((pair) => pair.GroupId ?? '').filter(Boolean),
              cidrs: (permission.IpRanges ?? []).map((range) => range.CidrIp ?? '').filter(Boolean),
            }));
          }
        }
      });
    }
    return ingress;
  },

  // DescribeRouteTables filtered by vpc-id, every page: each table's Associations (SubnetId for an explicit one,
  // Main: true on the VPC's main table, which "does not return the subnet ID for implicit associations") and its
  // Routes (DestinationCidrBlock, the target's id, State active | blackhole). IPv6 and prefix-list routes are left
  // out: the Elastic IP is an IPv4 address.
  // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeRouteTables.html
  // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html
  async routeTables(vpcIds) {
    const { sdk: aws, client } = await sdk();
    const tables: RouteTableFacts[] = [];
    for (const batch of chunk(vpcIds, DESCRIBE_BATCH)) {
      const pages = aws.paginateDescribeRouteTables({ client }, { Filters: [{ Name: 'vpc-id', Values: [...batch] }] });
      await call('ec2:DescribeRouteTables', async () => {
        for await (const page of pages) {
          for (const table of page.RouteTables ?? []) {
            const associations = (table.Associations ?? []).filter((association) => association.AssociationState?.State !== 'disassociated');
            tables.push({
              routeTableId: table.RouteTableId ?? '',
              vpcId: table.VpcId ?? '',
              main: associations.some((association) => association.Main === true),
              subnetIds: associations.map((association) => association.SubnetId ?? '').filter(Boolean),
              routes: (table.Routes ?? [])
                .filter((route) => route.DestinationCidrBlock)
                .map((route) => ({
                  destination: route.DestinationCidrBlock ?? '',
                  // A NAT instance's route carries both InstanceId and NetworkInterfaceId; a NAT gateway's only NatGatewayId.
                  target:
                    route.NatGatewayId ??
                    route.GatewayId ??
                    route.TransitGatewayId ??
                    route.InstanceId ??
                    route.NetworkInterfaceId ??
                    route.VpcPeeringConnectionId ??
                    route.EgressOnlyInternetGatewayId ??
                    route.LocalGatewayId ??
                    route.CarrierGatewayId ??
                    route.CoreNetworkArn ??
                    'unknown',
                  state: route.State ?? 'active',
                })),
            });
          }
        }
      });
    }
    return tables;
  },

  // DescribeNatGateways filtered by vpc-id (the request's filter list is named Filter, not Filters), every page:
  // State, ConnectivityType public | private, and NatGatewayAddresses[].PublicIp (a public NAT gateway may hold
  // several; a private one none).
  // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNatGateways.html
  // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NatGatewayAddress.html
  async natGateways(vpcIds) {
    const { sdk: aws, client } = await sdk();
    const gateways: NatGatewayFacts[] = [];
    for (const batch of chunk(vpcIds, DESCRIBE_BATCH)) {
      const pages = aws.paginateDescribeNatGateways({ client }, { Filter: [{ Name: 'vpc-id', Values: [...batch] }] });
      await call('ec2:DescribeNatGateways', async () => {
        for await (const page of pages) {
          for (const gateway of page.NatGateways ?? []) {
            gateways.push({
              natGatewayId: gateway.NatGatewayId ?? '',
              state: gateway.State ?? 'unknown',
              connectivity: gateway.ConnectivityType ?? 'public',
              publicIps: (gateway.NatGatewayAddresses ?? []).filter((address) => address.Status !== 'failed').map((address) => address.PublicIp ?? '').filter(Boolean),
            });
          }
        }
      });
    }
    return gateways;
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

  async launchFactsOf(instanceIds) {
    if (instanceIds.length === 0) return [];
    const { sdk: aws, client } = await sdk();
    const described: Instance[] = [];
    for (const batch of chunk(instanceIds, DESCRIBE_BATCH)) {
      const pages = aws.paginateDescribeInstances({ client }, { InstanceIds: batch });
      await call('ec2:DescribeInstances', async () => {
        for await (const page of pages) for (const reservation of page.Reservations ?? []) described.push(...(reservation.Instances ?? []));
      }).catch((error: unknown) => {
        // One id EC2 forgot makes the whole call fail; the others are asked for one by one.
        if (errorName(error) !== AWS_ERROR.instanceNotFound) throw error;
        return Promise.all(batch.map(async (instanceId) => describeOne(instanceId))).then((found) => described.push(...found.filter((instance): instance is Instance => instance !== undefined)));
      });
    }
    // A terminated instance has no subnet, address, groups or volumes any more: nothing to record.
    const alive = described.filter((instance) => instance.SubnetId && instance.PrivateIpAddress && instance.ImageId && instance.InstanceType && instance.State?.Name !== 'terminated');
    const volumeIds = alive.flatMap((instance) => (instance.BlockDeviceMappings ?? []).map((mapping) => mapping.Ebs?.VolumeId)).filter((id): id is string => Boolean(id));
    const volumes = new Map<string, Volume>();
    for (const batch of chunk(volumeIds, DESCRIBE_BATCH)) {
      const pages = aws.paginateDescribeVolumes({ client }, { Filters: [{ Name: 'volume-id', Values: batch }] });
      await call('ec2:DescribeVolumes', async () => {
        for await (const page of pages) for (const volume of page.Volumes ?? []) if (volume.VolumeId) volumes.set(volume.VolumeId, volume);
      });
    }
    return alive.map((instance) => ({
      instanceId: instance.InstanceId ?? '',
      imageId: instance.ImageId ?? '',
      instanceType: instance.InstanceType ?? '',
      subnetId: instance.SubnetId ?? '',
      availabilityZone: instance.Placement?.AvailabilityZone ?? '',
      privateIp: instance.PrivateIpAddress ?? '',
      securityGroupIds: (instance.SecurityGroups ?? []).map((group) => group.GroupId ?? '').filter(Boolean),
      ...(instance.IamInstanceProfile?.Arn ? { iamInstanceProfileArn: instance.IamInstanceProfile.Arn } : {}),
      ...(instance.KeyName ? { keyName: instance.KeyName } : {}),
      tags: inheritableTags(tagsOf(instance.Tags)),
      blockDevices: (instance.BlockDeviceMappings ?? []).flatMap((mapping) => {
        const volume = volumes.get(mapping.Ebs?.VolumeId ?? '');
        if (!volume?.Size || !mapping.DeviceName) return [];
        return [
          {
            deviceName: mapping.DeviceName,
            volumeSize: volume.Size,
            ...(volume.VolumeType ? { volumeType: volume.VolumeType } : {}),
            ...(volume.Encrypted !== undefined ? { encrypted: volume.Encrypted } : {}),
            ...(volume.KmsKeyId ? { kmsKeyId: volume.KmsKeyId } : {}),
            ...(volume.Iops !== undefined && (volume.VolumeType === 'io1' || volume.VolumeType === 'io2' || volume.VolumeType === 'gp3') ? { iops: volume.Iops } : {}),
            ...(volume.Throughput !== undefined && volume.VolumeType === 'gp3' ? { throughput: volume.Throughput } : {}),
          },
        ];
      }),
    }));
  },

  async startInstance(instanceId) {
    const { sdk: aws, client } = await sdk();
    // Told apart before call() sees it: EC2 lists InsufficientInstanceCapacity among its server errors (a 5xx),
    // which call() would turn into AwsThrottledError, and a heal should not back off a start that can go elsewhere.
    await call('ec2:StartInstances', async () => {
      try {
        await client.send(new aws.StartInstancesCommand({ InstanceIds: [instanceId] }));
      } catch (error: unknown) {
        if (errorName(error) === AWS_ERROR.insufficientCapacity) throw InsufficientCapacityError.toStart(instanceId, { cause: error });
        throw error;
      }
    });
  },

  async stopInstance(instanceId) {
    const { sdk: aws, client } = await sdk();
    await call('ec2:StopInstances', () => client.send(new aws.StopInstancesCommand({ InstanceIds: [instanceId] })));
  },

  async untagInstances(instanceIds, keys) {
    const { sdk: aws, client } = await sdk();
    // A key without a value deletes the tag whatever its value (EC2 API reference, DeleteTags).
    await call('ec2:DeleteTags', () => client.send(new aws.DeleteTagsCommand({ Resources: [...instanceIds], Tags: keys.map((Key) => ({ Key })) })));
  },

  async retireInstance(instanceId) {
    const { sdk: aws, client } = await sdk();
    await call('ec2:CreateTags', () => client.send(new aws.CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: RETIRING_TAG, Value: 'replaced-after-failed-rejoin' }] })));
    await call('ec2:TerminateInstances', () => client.send(new aws.TerminateInstancesCommand({ InstanceIds: [instanceId] })));
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
              ? // ImageId beside a launch template overrides the template's: how a prepared image applies.
                { LaunchTemplate: { LaunchTemplateId: spec.launchTemplate.launchTemplateId, Version: spec.launchTemplate.version }, ...(spec.imageId ? { ImageId: spec.imageId } : {}) }
              : {
                  ImageId: spec.imageId,
                  InstanceType: spec.instanceType as never,
                  SecurityGroupIds: spec.securityGroupIds,
                  ...(spec.iamInstanceProfileArn ? { IamInstanceProfile: { Arn: spec.iamInstanceProfileArn } } : {}),
                  ...(spec.keyName ? { KeyName: spec.keyName } : {}),
                  BlockDeviceMappings: (spec.blockDevices ?? []).map((device) => ({
                    DeviceName: device.deviceName,
                    Ebs: {
                      VolumeSize: device.volumeSize,
                      VolumeType: device.volumeType as never,
                      Encrypted: device.encrypted,
                      ...(device.kmsKeyId ? { KmsKeyId: device.kmsKeyId } : {}),
                      ...(device.iops !== undefined ? { Iops: device.iops } : {}),
                      ...(device.throughput !== undefined ? { Throughput: device.throughput } : {}),
                      DeleteOnTermination: true,
                    },
                  })),
                }),
            // Given with a launch template too (RunInstances parameters override the template's): a pod on the
            // pod network is one hop further than the node, so hop limit 1 keeps the node's role from it.
            MetadataOptions: LAUNCH_METADATA_OPTIONS,
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
      // A zone short of capacity answers with a server error, which call() took for a transient fault: it is
      // a launch that failed for capacity, which the launch tries elsewhere or turns into InsufficientCapacityError.
      const cause = errorName(error) === 'AwsThrottledError' && error instanceof Error ? error.cause : error;
      if (errorName(cause) === AWS_ERROR.insufficientCapacity) throw new LaunchFailedError(`could not launch a replacement: ${cause instanceof Error ? cause.message : String(cause)}`, { cause, insufficientCapacity: true });
      if (error instanceof LaunchFailedError || errorName(error) === 'AwsThrottledError') throw error;
      throw new LaunchFailedError(`could not launch a replacement: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  },

  async findTaggedInstances(key, value) {
    const { sdk: aws, client } = await sdk();
    const found: { instanceId: string; ec2State: string }[] = [];
    let NextToken: string | undefined;
    do {
      const page = await call('ec2:DescribeInstances', () => client.send(new aws.DescribeInstancesCommand({ Filters: [{ Name: `tag:${key}`, Values: [value] }], NextToken })));
      for (const reservation of page.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) if (instance.InstanceId) found.push({ instanceId: instance.InstanceId, ec2State: instance.State?.Name ?? 'unknown' });
      }
      NextToken = page.NextToken;
    } while (NextToken);
    return found;
  },

  async terminateTaggedInstances(instanceIds, _key) {
    const { sdk: aws, client } = await sdk();
    await call('ec2:TerminateInstances', () => client.send(new aws.TerminateInstancesCommand({ InstanceIds: [...instanceIds] })));
  },

  async createImage(instanceId, name, tags) {
    const { sdk: aws, client } = await sdk();
    const Tags = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    const answer = await call('ec2:CreateImage', () =>
      client.send(new aws.CreateImageCommand({ InstanceId: instanceId, Name: name, Description: 'kubeha prepared node image', TagSpecifications: [{ ResourceType: 'image', Tags }, { ResourceType: 'snapshot', Tags }] })),
    );
    if (!answer.ImageId) throw new Error('CreateImage returned no image id');
    return answer.ImageId;
  },

  async findImages(tags) {
    const { sdk: aws, client } = await sdk();
    const images: ImageFacts[] = [];
    const pages = aws.paginateDescribeImages({ client }, { Owners: ['self'], Filters: Object.entries(tags).map(([key, value]) => ({ Name: `tag:${key}`, Values: [value] })) });
    await call('ec2:DescribeImages', async () => {
      for await (const page of pages) {
        for (const image of page.Images ?? []) {
          // Recently deregistered images are still listed for a while (DescribeImages, EC2 API reference): not ours any more.
          if (!image.ImageId || image.State === 'deregistered') continue;
          images.push({
            imageId: image.ImageId,
            state: image.State === 'available' ? 'available' : image.State === 'pending' || image.State === 'transient' ? 'pending' : 'failed',
            createdAt: image.CreationDate ? Date.parse(image.CreationDate) : 0,
            snapshotIds: (image.BlockDeviceMappings ?? []).map((mapping) => mapping.Ebs?.SnapshotId).filter((id): id is string => Boolean(id)),
            tags: Object.fromEntries(Object.entries(tagsOf(image.Tags)).filter(([key]) => isReadTag(key))),
          });
        }
      }
    });
    return images;
  },

  async findSnapshots(tags) {
    const { sdk: aws, client } = await sdk();
    const found: { snapshotId: string; startedAt: number; tags: Record<string, string> }[] = [];
    const pages = aws.paginateDescribeSnapshots({ client }, { OwnerIds: ['self'], Filters: Object.entries(tags).map(([key, value]) => ({ Name: `tag:${key}`, Values: [value] })) });
    await call('ec2:DescribeSnapshots', async () => {
      for await (const page of pages) {
        for (const snapshot of page.Snapshots ?? []) {
          if (snapshot.SnapshotId) found.push({ snapshotId: snapshot.SnapshotId, startedAt: snapshot.StartTime?.getTime() ?? 0, tags: Object.fromEntries(Object.entries(tagsOf(snapshot.Tags)).filter(([key]) => isReadTag(key))) });
        }
      }
    });
    return found;
  },

  async deregisterImage(imageId) {
    const { sdk: aws, client } = await sdk();
    try {
      await call('ec2:DeregisterImage', () => client.send(new aws.DeregisterImageCommand({ ImageId: imageId })));
      return 'deregistered';
    } catch (error: unknown) {
      const name = errorName(error);
      if (name === AWS_ERROR.imageNotFound || name === AWS_ERROR.imageUnavailable) return 'gone';
      throw error;
    }
  },

  async deleteSnapshot(snapshotId) {
    const { sdk: aws, client } = await sdk();
    try {
      await call('ec2:DeleteSnapshot', () => client.send(new aws.DeleteSnapshotCommand({ SnapshotId: snapshotId })));
      return 'deleted';
    } catch (error: unknown) {
      const name = errorName(error);
      if (name === AWS_ERROR.snapshotNotFound) return 'gone';
      if (name === AWS_ERROR.snapshotInUse) return 'inUse';
      throw error;
    }
  },
};
