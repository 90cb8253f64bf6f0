// The simulated EC2 API, beside functions/adapters/ec2.ts. Unpleasant behaviours modelled, each from
// shared/reality.md ("EC2") and the EC2 API reference:
// - a terminated instance is described without PrivateIpAddress, SubnetId, VpcId, IamInstanceProfile,
//   and with empty SecurityGroups, NetworkInterfaces and BlockDeviceMappings (DescribeInstances);
// - after `terminatedRetentionSeconds` it is gone: InvalidInstanceID.NotFound by id, absent from filters;
// - StartInstances on `stopping` fails IncorrectInstanceState; Stop/Terminate take time (`stopping`,
//   `shutting-down`) before `stopped`/`terminated`;
// - RunInstances with a dead node's address fails InvalidIPAddress.InUse until its ENI is released;
//   ClientToken returns the first instance on a retry;
// - tags live on an instance whatever its state (a stopped warm standby is found by its tags); DeleteTags
//   with a key and no value deletes the tag whatever its value, and a key the instance lacks is no error
//   (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteTags.html);
// - images and their snapshots: see CreateImage, DeregisterImage and DeleteSnapshot below.
// - route tables and NAT gateways (DescribeRouteTables, DescribeNatGateways): the main table is known only by
//   Associations[].Main, never by a subnet id; routes to a gone target are `blackhole`; unknown filters and a
//   MaxResults out of range are refused; both page (see below).
import {
  AssociateAddressCommand,
  CreateImageCommand,
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DeleteTagsCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  DescribeVpcsCommand,
  EC2Client,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsError, type SimEbsSnapshot, type SimImage, type SimInstance, type SimulatedFleet } from './fleet.js';
import { IMAGE_PENDING_SECONDS } from './latency.js';
import { route, tagList } from './service.js';

/** DescribeInstances' shape of one instance, as EC2 gives it in the instance's current state. */
export function describeInstanceShape(instance: SimInstance) {
  const common = {
    InstanceId: instance.instanceId,
    ImageId: instance.imageId,
    InstanceType: instance.instanceType,
    State: { Name: instance.state },
    Placement: { AvailabilityZone: instance.availabilityZone },
    LaunchTime: instance.launchTime,
    Tags: tagList(instance.tags),
  };
  if (instance.state === 'terminated') {
    return {
      ...common,
      StateReason: { Code: 'Client.UserInitiatedShutdown', Message: 'Client.UserInitiatedShutdown: User initiated shutdown' },
      SecurityGroups: [],
      NetworkInterfaces: [],
      BlockDeviceMappings: [],
    };
  }
  return {
    ...common,
    PrivateIpAddress: instance.privateIp,
    PublicIpAddress: instance.publicIp,
    SubnetId: instance.subnetId,
    VpcId: instance.vpcId,
    SecurityGroups: instance.securityGroupIds.map((GroupId) => ({ GroupId })),
    IamInstanceProfile: instance.iamInstanceProfileArn ? { Arn: instance.iamInstanceProfileArn } : undefined,
    NetworkInterfaces: [{ PrivateIpAddress: instance.privateIp, SubnetId: instance.subnetId }],
    BlockDeviceMappings: instance.volumes.filter((volume) => !volume.deleted).map((volume) => ({ DeviceName: volume.deviceName, Ebs: { VolumeId: volume.volumeId } })),
    // InstanceMetadataOptionsResponse (EC2 API reference): State pending|applied, HttpTokens, HttpPutResponseHopLimit,
    // HttpEndpoint, HttpProtocolIpv6, InstanceMetadataTags; all six are returned for a live instance.
    MetadataOptions: {
      State: 'applied',
      HttpTokens: instance.metadataOptions.httpTokens,
      HttpPutResponseHopLimit: instance.metadataOptions.hopLimit,
      HttpEndpoint: instance.metadataOptions.httpEndpoint,
      HttpProtocolIpv6: 'disabled',
      InstanceMetadataTags: 'disabled',
    },
  };
}

export function installEc2(fleet: SimulatedFleet) {
  const ec2 = mockClient(EC2Client);
  ec2.onAnyCommand().rejects(new AwsError('NotModelled', 'the simulated fleet does not model this call'));

  ec2.on(DescribeInstancesCommand).callsFake(
    route(fleet, 'ec2', 'DescribeInstances', (input: { Filters?: { Name?: string; Values?: string[] }[]; InstanceIds?: string[] }) => {
      for (const instanceId of input.InstanceIds ?? []) {
        const instance = fleet.instances.get(instanceId);
        if (!instance || fleet.isForgotten(instance) || fleet.isPropagating(instance)) throw new AwsError('InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
      }
      return { Reservations: [{ Instances: fleet.describeInstances(input.Filters, input.InstanceIds).map(describeInstanceShape) }] };
    }),
  );
  ec2.on(DescribeVolumesCommand).callsFake(
    route(fleet, 'ec2', 'DescribeVolumes', (input: { VolumeIds?: string[]; Filters?: { Name?: string; Values?: string[] }[] }) => {
      const volumes = [...fleet.instances.values()].flatMap((instance) => instance.volumes).filter((volume) => !volume.deleted);
      const shape = (volume: SimInstance['volumes'][number]) => ({ VolumeId: volume.volumeId, Size: volume.size, VolumeType: 'gp3', Encrypted: true, KmsKeyId: fleet.volumeKmsKeyArn, Iops: 3000, Throughput: 125 });
      const byFilter = input.Filters?.find((filter) => filter.Name === 'volume-id')?.Values;
      // By id a missing volume is an error; by filter it is simply not listed.
      if (byFilter) return { Volumes: volumes.filter((volume) => byFilter.includes(volume.volumeId)).map(shape) };
      return {
        Volumes: (input.VolumeIds ?? []).map((volumeId) => {
          const volume = volumes.find((candidate) => candidate.volumeId === volumeId);
          if (!volume) throw new AwsError('InvalidVolume.NotFound', `The volume '${volumeId}' does not exist.`);
          return shape(volume);
        }),
      };
    }),
  );
  ec2.on(StartInstancesCommand).callsFake(
    route(fleet, 'ec2', 'StartInstances', (input: { InstanceIds?: string[] }) => {
      for (const instanceId of input.InstanceIds ?? []) fleet.startInstance(instanceId);
      return { StartingInstances: (input.InstanceIds ?? []).map((InstanceId) => ({ InstanceId })) };
    }),
  );
  ec2.on(StopInstancesCommand).callsFake(
    route(fleet, 'ec2', 'StopInstances', (input: { InstanceIds?: string[] }) => {
      for (const instanceId of input.InstanceIds ?? []) fleet.requestStop(instanceId);
      return { StoppingInstances: (input.InstanceIds ?? []).map((InstanceId) => ({ InstanceId })) };
    }),
  );
  ec2.on(TerminateInstancesCommand).callsFake(
    route(fleet, 'ec2', 'TerminateInstances', (input: { InstanceIds?: string[] }) => {
      for (const instanceId of input.InstanceIds ?? []) fleet.requestTerminate(instanceId);
      return { TerminatingInstances: (input.InstanceIds ?? []).map((InstanceId) => ({ InstanceId })) };
    }),
  );
  // CreateImage returns the new AMI's id at once; the AMI is `pending` while EBS snapshots the volumes, then
  // `available` (or `failed`). TagSpecifications tag the image as it is made. The instance must be running
  // or stopped (IncorrectState otherwise); by default EC2 reboots it first (NoReboot false).
  // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html
  ec2.on(CreateImageCommand).callsFake(
    route(fleet, 'ec2', 'CreateImage', (input: { InstanceId?: string; Name?: string; TagSpecifications?: { ResourceType?: string; Tags?: { Key?: string; Value?: string }[] }[] }) => {
      const instance = fleet.instances.get(input.InstanceId ?? '');
      if (!instance || fleet.isForgotten(instance)) throw new AwsError('InvalidInstanceID.NotFound', `The instance ID '${input.InstanceId}' does not exist`);
      if (instance.state !== 'running' && instance.state !== 'stopped') throw new AwsError('IncorrectState', `Instance '${instance.instanceId}' is not in a valid state (${instance.state})`);
      if (!input.Name || [...fleet.images.values()].some((image) => image.name === input.Name)) throw new AwsError('InvalidAMIName.Duplicate', `AMI name ${input.Name} is already in use`);
      // An injected fault: this image ends `failed` (DescribeImages State; StateReason says why).
      const fails = fleet.imageFaults > 0;
      if (fails) fleet.imageFaults -= 1;
      const tagsFor = (type: string) => Object.fromEntries((input.TagSpecifications?.find((spec) => spec.ResourceType === type)?.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
      // One snapshot of each of the instance's volumes, tagged by the `snapshot` TagSpecification (CreateImage
      // API reference: "To tag the snapshots that are created of the root volume and of other Amazon EBS
      // volumes that are attached to the instance ... the same tag is applied to all of the snapshots").
      // A failed image keeps the snapshots it took: they cost until someone deletes them.
      const snapshots: SimEbsSnapshot[] = instance.volumes
        .filter((volume) => !volume.deleted)
        .map((volume) => ({ snapshotId: `snap-${fleet.hex(17)}`, volumeSize: volume.size, startedAt: fleet.now(), tags: tagsFor('snapshot') }));
      for (const snapshot of snapshots) fleet.ebsSnapshots.set(snapshot.snapshotId, snapshot);
      const image: SimImage = {
        imageId: `ami-${fleet.hex(17)}`,
        name: input.Name,
        state: 'pending',
        snapshotIds: snapshots.map((snapshot) => snapshot.snapshotId),
        settlesTo: fails ? 'failed' : 'available',
        sourceInstanceId: instance.instanceId,
        createdAt: fleet.now(),
        availableAt: fleet.now() + IMAGE_PENDING_SECONDS * 1000,
        tags: tagsFor('image'),
        baked: structuredClone({ prerequisites: instance.node.prerequisites, imagesPulled: instance.node.imagesPulled }),
      };
      fleet.images.set(image.imageId, image);
      return { ImageId: image.imageId };
    }),
  );
  // DescribeImages by id or by tag filter (`tag:KEY`); the state as of now, the snapshots in BlockDeviceMappings.
  // "Recently deregistered images appear in the returned results for a short interval and then return empty
  // results" (DescribeImages, EC2 API reference): State `deregistered` for DEREGISTERED_VISIBLE_SECONDS, then
  // gone (by id: InvalidAMIID.NotFound).
  ec2.on(DescribeImagesCommand).callsFake(
    route(fleet, 'ec2', 'DescribeImages', (input: { ImageIds?: string[]; Filters?: { Name?: string; Values?: string[] }[] }) => {
      for (const imageId of input.ImageIds ?? []) {
        const image = fleet.images.get(imageId);
        if (!image || isForgottenImage(fleet, image)) throw new AwsError('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`);
      }
      const images = [...fleet.images.values()].filter(
        (image) =>
          !isForgottenImage(fleet, image) &&
          (!input.ImageIds?.length || input.ImageIds.includes(image.imageId)) &&
          (input.Filters ?? []).every((filter) => !filter.Name?.startsWith('tag:') || (filter.Values ?? []).includes(image.tags[filter.Name.slice(4)] ?? '')),
      );
      for (const image of images) settleImage(fleet, image);
      return {
        Images: images.map((image) => ({
          ImageId: image.imageId,
          Name: image.name,
          State: image.state,
          CreationDate: new Date(image.createdAt).toISOString(),
          Tags: tagList(image.tags),
          BlockDeviceMappings: image.snapshotIds.map((SnapshotId, index) => ({ DeviceName: index === 0 ? '/dev/sda1' : `/dev/sd${String.fromCharCode(98 + index)}`, Ebs: { SnapshotId, VolumeSize: fleet.ebsSnapshots.get(SnapshotId)?.volumeSize } })),
        })),
      };
    }),
  );
  // DeregisterImage: the AMI can no longer launch instances (RunInstances: InvalidAMIID.Unavailable); instances
  // launched from it keep running, and its snapshots stay until DeleteSnapshot (EC2 API reference,
  // DeregisterImage: "Deregistering an AMI does not delete ... Instances already launched from the AMI";
  // https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/deregister-ami.html). A second call on a deregistered
  // image fails InvalidAMIID.Unavailable while it is still listed, InvalidAMIID.NotFound after.
  ec2.on(DeregisterImageCommand).callsFake(
    route(fleet, 'ec2', 'DeregisterImage', (input: { ImageId?: string }) => {
      const image = fleet.images.get(input.ImageId ?? '');
      if (!image || isForgottenImage(fleet, image)) throw new AwsError('InvalidAMIID.NotFound', `The image id '[${input.ImageId}]' does not exist`);
      if (image.state === 'deregistered') throw new AwsError('InvalidAMIID.Unavailable', `The image id '[${input.ImageId}]' is no longer available`);
      image.state = 'deregistered';
      image.deregisteredAt = fleet.now();
      return { Return: true };
    }),
  );
  // DescribeSnapshots by id or tag filter; snapshots are kept until DeleteSnapshot, whatever became of the image.
  ec2.on(DescribeSnapshotsCommand).callsFake(
    route(fleet, 'ec2', 'DescribeSnapshots', (input: { SnapshotIds?: string[]; Filters?: { Name?: string; Values?: string[] }[] }) => {
      for (const snapshotId of input.SnapshotIds ?? []) if (!fleet.ebsSnapshots.has(snapshotId)) throw new AwsError('InvalidSnapshot.NotFound', `The snapshot '${snapshotId}' does not exist.`);
      const snapshots = [...fleet.ebsSnapshots.values()].filter(
        (snapshot) =>
          (!input.SnapshotIds?.length || input.SnapshotIds.includes(snapshot.snapshotId)) &&
          (input.Filters ?? []).every((filter) => !filter.Name?.startsWith('tag:') || (filter.Values ?? []).includes(snapshot.tags[filter.Name.slice(4)] ?? '')),
      );
      return { Snapshots: snapshots.map((snapshot) => ({ SnapshotId: snapshot.snapshotId, VolumeSize: snapshot.volumeSize, State: 'completed', StartTime: new Date(snapshot.startedAt), Tags: tagList(snapshot.tags) })) };
    }),
  );
  // DeleteSnapshot: "You cannot delete a snapshot of the root device of an EBS volume used by a registered AMI.
  // You must first deregister the AMI" (EC2 API reference, DeleteSnapshot): InvalidSnapshot.InUse while any
  // image that is not deregistered (pending, available or failed) lists it. Volumes made from it are unaffected.
  ec2.on(DeleteSnapshotCommand).callsFake(
    route(fleet, 'ec2', 'DeleteSnapshot', (input: { SnapshotId?: string }) => {
      const snapshotId = input.SnapshotId ?? '';
      if (!fleet.ebsSnapshots.has(snapshotId)) throw new AwsError('InvalidSnapshot.NotFound', `The snapshot '${snapshotId}' does not exist.`);
      const user = [...fleet.images.values()].find((image) => image.state !== 'deregistered' && image.snapshotIds.includes(snapshotId));
      if (user) throw new AwsError('InvalidSnapshot.InUse', `The snapshot ${snapshotId} is currently in use by ${user.imageId}`);
      fleet.ebsSnapshots.delete(snapshotId);
      return {};
    }),
  );
  ec2.on(RunInstancesCommand).callsFake(
    route(
      fleet,
      'ec2',
      'RunInstances',
      (input: {
        ImageId?: string;
        InstanceType?: string;
        SubnetId?: string;
        SecurityGroupIds?: string[];
        IamInstanceProfile?: { Arn?: string };
        PrivateIpAddress?: string;
        ClientToken?: string;
        LaunchTemplate?: { LaunchTemplateId?: string };
        TagSpecifications?: { Tags?: { Key?: string; Value?: string }[] }[];
        BlockDeviceMappings?: { Ebs?: { VolumeSize?: number } }[];
        MetadataOptions?: { HttpTokens?: string; HttpPutResponseHopLimit?: number; HttpEndpoint?: string };
      }) => {
        if (!input.LaunchTemplate && (!input.ImageId || !input.InstanceType)) throw new AwsError('MissingParameter', 'The request must contain the parameter ImageId');
        // A deregistered AMI "can't be used to launch new instances" (DeregisterImage, EC2 API reference).
        const image = fleet.images.get(input.ImageId ?? '');
        if (image?.state === 'deregistered') throw new AwsError('InvalidAMIID.Unavailable', `The image id '[${image.imageId}]' is no longer available`);
        const instance = fleet.runInstance({
          imageId: input.ImageId ?? `ami-from-${input.LaunchTemplate?.LaunchTemplateId ?? 'template'}`,
          instanceType: input.InstanceType ?? 't3.medium',
          subnetId: input.SubnetId ?? '',
          securityGroupIds: input.SecurityGroupIds ?? [],
          iamInstanceProfileArn: input.IamInstanceProfile?.Arn,
          privateIp: input.PrivateIpAddress,
          clientToken: input.ClientToken,
          tags: Object.fromEntries((input.TagSpecifications?.[0]?.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
          volumeSizes: (input.BlockDeviceMappings ?? []).map((mapping) => mapping.Ebs?.VolumeSize ?? 8),
          metadataOptions: input.MetadataOptions && {
            httpTokens: input.MetadataOptions.HttpTokens === 'required' ? 'required' : 'optional',
            hopLimit: input.MetadataOptions.HttpPutResponseHopLimit ?? 1,
            httpEndpoint: input.MetadataOptions.HttpEndpoint === 'disabled' ? 'disabled' : 'enabled',
          },
        });
        return { Instances: [describeInstanceShape(instance)] };
      },
    ),
  );
  ec2.on(DescribeSecurityGroupsCommand).callsFake(
    route(fleet, 'ec2', 'DescribeSecurityGroups', (input: { GroupIds?: string[] }) => ({
      SecurityGroups: (input.GroupIds ?? []).map((groupId) => {
        const rules = fleet.securityGroups.get(groupId);
        if (!rules) throw new AwsError('InvalidGroup.NotFound', `The security group '${groupId}' does not exist`);
        return {
          GroupId: groupId,
          IpPermissions: rules.map((rule) => ({
            IpProtocol: rule.protocol,
            ...(rule.fromPort !== undefined ? { FromPort: rule.fromPort, ToPort: rule.toPort } : {}),
            UserIdGroupPairs: rule.sourceGroupIds.map((GroupId) => ({ GroupId })),
            IpRanges: rule.cidrs.map((CidrIp) => ({ CidrIp })),
          })),
        };
      }),
    })),
  );
  ec2.on(DescribeSubnetsCommand).callsFake(
    route(fleet, 'ec2', 'DescribeSubnets', (input: { SubnetIds?: string[] }) => ({
      Subnets: (input.SubnetIds ?? []).map((subnetId) => {
        const subnet = fleet.subnets.get(subnetId);
        if (!subnet) throw new AwsError('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
        return { SubnetId: subnet.subnetId, VpcId: subnet.vpcId, CidrBlock: subnet.cidr, AvailabilityZone: subnet.availabilityZone };
      }),
    })),
  );
  ec2.on(DescribeVpcsCommand).callsFake(
    route(fleet, 'ec2', 'DescribeVpcs', (input: { VpcIds?: string[] }) => ({
      Vpcs: (input.VpcIds ?? []).map((vpcId) => {
        const vpc = fleet.vpcs.get(vpcId);
        if (!vpc) throw new AwsError('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`);
        return { VpcId: vpc.vpcId, CidrBlock: vpc.cidrs[0], CidrBlockAssociationSet: vpc.cidrs.map((cidr) => ({ CidrBlock: cidr, CidrBlockState: { State: 'associated' } })) };
      }),
    })),
  );
  // DescribeRouteTables (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeRouteTables.html):
  // Filter.N with vpc-id, route-table-id, association.subnet-id, association.main; RouteTableAssociation has Main
  // true (and no SubnetId) on the VPC's main table, "This command does not return the subnet ID for implicit
  // associations"; Route has DestinationCidrBlock, GatewayId (local, igw-…) or NatGatewayId, Origin and State
  // (active | blackhole, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html). Paged by
  // MaxResults (5-100) / NextToken, or by `fleet.describePageSize` when a test wants pages without asking.
  ec2.on(DescribeRouteTablesCommand).callsFake(
    route(fleet, 'ec2', 'DescribeRouteTables', (input: { Filters?: Filter[]; RouteTableIds?: string[]; MaxResults?: number; NextToken?: string }) => {
      const tables = [...fleet.routeTables.values()].filter(
        (table) =>
          (!input.RouteTableIds?.length || input.RouteTableIds.includes(table.routeTableId)) &&
          matchesFilters(input.Filters, {
            'vpc-id': [table.vpcId],
            'route-table-id': [table.routeTableId],
            'association.subnet-id': table.subnetIds,
            // "Route tables that do not have an association ID are not returned" when filtering on association.main.
            'association.main': [...(table.main ? ['true'] : []), ...(table.subnetIds.length > 0 ? ['false'] : [])],
          }),
      );
      const { page, NextToken } = paged(tables, input.MaxResults, fleet.describePageSize, input.NextToken, [5, 100]);
      return {
        RouteTables: page.map((table) => ({
          RouteTableId: table.routeTableId,
          VpcId: table.vpcId,
          OwnerId: fleet.account,
          Associations: [
            ...(table.main ? [{ Main: true, RouteTableAssociationId: `rtbassoc-${table.routeTableId.slice(4)}`, RouteTableId: table.routeTableId, AssociationState: { State: 'associated' } }] : []),
            ...table.subnetIds.map((SubnetId) => ({ Main: false, RouteTableAssociationId: `rtbassoc-${SubnetId.slice(7)}`, RouteTableId: table.routeTableId, SubnetId, AssociationState: { State: 'associated' } })),
          ],
          Routes: table.routes.map((entry) => ({
            DestinationCidrBlock: entry.destination,
            ...(entry.target.startsWith('nat-') ? { NatGatewayId: entry.target } : { GatewayId: entry.target }),
            Origin: entry.target === 'local' ? 'CreateRouteTable' : 'CreateRoute',
            State: fleet.routeState(entry),
          })),
          PropagatingVgws: [],
          Tags: [],
        })),
        ...(NextToken ? { NextToken } : {}),
      };
    }),
  );
  // DescribeNatGateways (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNatGateways.html): the
  // filter list is `Filter` (not Filters) with vpc-id, subnet-id, state, nat-gateway-id; NatGatewayAddresses
  // (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NatGatewayAddress.html) give a public gateway's
  // PublicIp and AllocationId, IsPrimary and Status. Paged by MaxResults (5-1000) / NextToken.
  ec2.on(DescribeNatGatewaysCommand).callsFake(
    route(fleet, 'ec2', 'DescribeNatGateways', (input: { Filter?: Filter[]; NatGatewayIds?: string[]; MaxResults?: number; NextToken?: string }) => {
      const gateways = [...fleet.natGateways.values()].filter(
        (gateway) =>
          (!input.NatGatewayIds?.length || input.NatGatewayIds.includes(gateway.natGatewayId)) &&
          matchesFilters(input.Filter, { 'vpc-id': [gateway.vpcId], 'subnet-id': [gateway.subnetId], state: [gateway.state], 'nat-gateway-id': [gateway.natGatewayId] }),
      );
      const { page, NextToken } = paged(gateways, input.MaxResults, fleet.describePageSize, input.NextToken, [5, 1000]);
      return {
        NatGateways: page.map((gateway) => ({
          NatGatewayId: gateway.natGatewayId,
          VpcId: gateway.vpcId,
          SubnetId: gateway.subnetId,
          State: gateway.state,
          ConnectivityType: gateway.connectivity,
          CreateTime: new Date(fleet.now() - 86_400_000),
          NatGatewayAddresses:
            gateway.connectivity === 'public' && gateway.publicIp
              ? [{ AllocationId: gateway.allocationId, NetworkInterfaceId: `eni-${gateway.natGatewayId.slice(4)}`, PublicIp: gateway.publicIp, IsPrimary: true, Status: 'succeeded' }]
              : [],
          Tags: [],
        })),
        ...(NextToken ? { NextToken } : {}),
      };
    }),
  );
  ec2.on(DescribeAddressesCommand).callsFake(
    route(fleet, 'ec2', 'DescribeAddresses', (input: { AllocationIds?: string[] }) => ({
      Addresses: (input.AllocationIds ?? []).map((allocationId) => {
        const address = fleet.addresses.get(allocationId);
        if (!address) throw new AwsError('InvalidAllocationID.NotFound', `The allocation ID '${allocationId}' does not exist`);
        return { AllocationId: address.allocationId, PublicIp: address.publicIp, InstanceId: address.instanceId, Tags: tagList(address.tags) };
      }),
    })),
  );
  ec2.on(AssociateAddressCommand).callsFake(
    route(fleet, 'ec2', 'AssociateAddress', (input: { AllocationId?: string; InstanceId?: string; AllowReassociation?: boolean }) => {
      fleet.associateAddress(input.AllocationId ?? '', input.InstanceId ?? '', input.AllowReassociation ?? false);
      return { AssociationId: `eipassoc-${input.InstanceId?.slice(2, 12)}` };
    }),
  );
  ec2.on(CreateTagsCommand).callsFake(
    route(fleet, 'ec2', 'CreateTags', (input: { Resources?: string[]; Tags?: { Key?: string; Value?: string }[] }) => {
      fleet.createTags(input.Resources ?? [], Object.fromEntries((input.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? ''])));
      return {};
    }),
  );
  ec2.on(DeleteTagsCommand).callsFake(
    route(fleet, 'ec2', 'DeleteTags', (input: { Resources?: string[]; Tags?: { Key?: string; Value?: string }[] }) => {
      fleet.deleteTags(input.Resources ?? [], (input.Tags ?? []).map((tag) => ({ key: tag.Key ?? '', ...(tag.Value !== undefined ? { value: tag.Value } : {}) })));
      return {};
    }),
  );
  return ec2;
}

type Filter = { Name?: string; Values?: string[] };

/** EC2's Filter.N: every filter must match one of its values; a name the call does not know is an error. */
function matchesFilters(filters: Filter[] | undefined, fields: Record<string, string[]>): boolean {
  return (filters ?? []).every((filter) => {
    const values = fields[filter.Name ?? ''];
    if (!values) throw new AwsError('InvalidParameterValue', `The filter '${filter.Name}' is invalid`);
    return (filter.Values ?? []).some((value) => values.includes(value));
  });
}

/** One page of `items` and the token for the next (the token is the next item's index here; opaque to callers). */
function paged<T>(items: T[], maxResults: number | undefined, fallback: number | undefined, token: string | undefined, [least, most]: [number, number]): { page: T[]; NextToken?: string } {
  if (maxResults !== undefined && (maxResults < least || maxResults > most)) throw new AwsError('InvalidParameterValue', `MaxResults must be between ${least} and ${most}`);
  const size = maxResults ?? fallback;
  const start = token ? Number(token) : 0;
  if (!Number.isInteger(start) || start < 0 || start > items.length) throw new AwsError('InvalidPaginationToken', `The pagination token is invalid`);
  const end = size === undefined ? items.length : start + size;
  return { page: items.slice(start, end), ...(end < items.length ? { NextToken: String(end) } : {}) };
}

/** How long DescribeImages still lists a deregistered image (the reference says "a short interval"). */
export const DEREGISTERED_VISIBLE_SECONDS = 120;

function isForgottenImage(fleet: SimulatedFleet, image: SimImage): boolean {
  return image.state === 'deregistered' && fleet.now() - (image.deregisteredAt ?? 0) > DEREGISTERED_VISIBLE_SECONDS * 1000;
}

/** A pending image whose time has come becomes what it settles to (available, or failed for an injected fault). */
function settleImage(fleet: SimulatedFleet, image: SimImage): void {
  if (image.state === 'pending' && image.availableAt <= fleet.now()) image.state = image.settlesTo;
}
