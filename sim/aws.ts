// Wires the simulated fleet in below the SDK clients, so kubeha's real adapters run unchanged.
import {
  AssociateAddressCommand,
  CreateTagsCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  DescribeVpcsCommand,
  EC2Client,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DescribeSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DeleteParameterCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  GetParameterCommand,
  ListCommandInvocationsCommand,
  PutParameterCommand,
  SSMClient,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { swapPorts } from '../functions/adapters/index.js';
import { AwsError, type RecordedCall, type SimInstance, type SimulatedFleet } from './fleet.js';

type Handler = (input: never) => unknown;

function route(fleet: SimulatedFleet, service: RecordedCall['service'], operation: string, handler: Handler) {
  return (input: unknown) => {
    fleet.record(service, operation, input);
    return Promise.resolve((handler as (input: unknown) => unknown)(input));
  };
}

function tagList(tags: Record<string, string>) {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

function describe(instance: SimInstance) {
  return {
    InstanceId: instance.instanceId,
    State: { Name: instance.state },
    PrivateIpAddress: instance.privateIp,
    PublicIpAddress: instance.publicIp,
    SubnetId: instance.subnetId,
    VpcId: instance.vpcId,
    Placement: { AvailabilityZone: instance.availabilityZone },
    LaunchTime: instance.launchTime,
    ImageId: instance.imageId,
    InstanceType: instance.instanceType,
    SecurityGroups: instance.securityGroupIds.map((GroupId) => ({ GroupId })),
    IamInstanceProfile: instance.iamInstanceProfileArn ? { Arn: instance.iamInstanceProfileArn } : undefined,
    BlockDeviceMappings: instance.volumes.map((volume) => ({ DeviceName: volume.deviceName, Ebs: { VolumeId: volume.volumeId } })),
    Tags: tagList(instance.tags),
  };
}

/** Routes every SDK call kubeha makes to the fleet and swaps in the fleet's clock. Returns an uninstaller. */
export function installFleet(fleet: SimulatedFleet): () => void {
  const ec2 = mockClient(EC2Client);
  const ssm = mockClient(SSMClient);
  const secrets = mockClient(SecretsManagerClient);
  const sfn = mockClient(SFNClient);
  const sns = mockClient(SNSClient);
  const notModelled = new AwsError('NotModelled', 'the simulated fleet does not model this call');
  ec2.onAnyCommand().rejects(notModelled);
  ssm.onAnyCommand().rejects(notModelled);
  secrets.onAnyCommand().rejects(notModelled);
  sfn.onAnyCommand().rejects(notModelled);
  sns.onAnyCommand().rejects(notModelled);

  ec2.on(DescribeInstancesCommand).callsFake(
    route(fleet, 'ec2', 'DescribeInstances', (input: { Filters?: { Name?: string; Values?: string[] }[]; InstanceIds?: string[] }) => {
      for (const instanceId of input.InstanceIds ?? []) fleet.requireInstance(instanceId);
      return { Reservations: [{ Instances: fleet.describeInstances(input.Filters, input.InstanceIds).map(describe) }] };
    }),
  );
  ec2.on(DescribeVolumesCommand).callsFake(
    route(fleet, 'ec2', 'DescribeVolumes', (input: { VolumeIds?: string[] }) => {
      const volumes = [...fleet.instances.values()].flatMap((instance) => instance.volumes);
      return {
        Volumes: (input.VolumeIds ?? []).map((volumeId) => {
          const volume = volumes.find((candidate) => candidate.volumeId === volumeId && !candidate.deleted);
          if (!volume) throw new AwsError('InvalidVolume.NotFound', `The volume '${volumeId}' does not exist.`);
          return { VolumeId: volume.volumeId, Size: volume.size, VolumeType: 'gp3', Encrypted: true };
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
      for (const instanceId of input.InstanceIds ?? []) fleet.stopInstance(instanceId);
      return { StoppingInstances: (input.InstanceIds ?? []).map((InstanceId) => ({ InstanceId })) };
    }),
  );
  ec2.on(TerminateInstancesCommand).callsFake(
    route(fleet, 'ec2', 'TerminateInstances', (input: { InstanceIds?: string[] }) => {
      for (const instanceId of input.InstanceIds ?? []) fleet.terminateInstance(instanceId);
      return { TerminatingInstances: (input.InstanceIds ?? []).map((InstanceId) => ({ InstanceId })) };
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
      }) => {
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
        });
        return { Instances: [describe(instance)] };
      },
    ),
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

  ssm.on(DescribeInstanceInformationCommand).callsFake(
    route(fleet, 'ssm', 'DescribeInstanceInformation', (input: { Filters?: { Key?: string; Values?: string[] }[] }) => {
      const wanted = input.Filters?.find((filter) => filter.Key === 'InstanceIds')?.Values ?? [];
      return {
        InstanceInformationList: wanted
          .map((instanceId) => fleet.instances.get(instanceId))
          .filter((instance) => instance !== undefined)
          .map((instance) => ({ InstanceId: instance.instanceId, PingStatus: instance.ssmOnline && instance.state === 'running' ? 'Online' : 'ConnectionLost' })),
      };
    }),
  );
  ssm.on(SendCommandCommand).callsFake(
    route(fleet, 'ssm', 'SendCommand', (input: { DocumentName?: string; InstanceIds?: string[]; Parameters?: Record<string, string[]> }) => {
      const parameters = Object.fromEntries(Object.entries(input.Parameters ?? {}).map(([key, values]) => [key, values[0] ?? '']));
      return { Command: { CommandId: fleet.sendCommand(input.DocumentName ?? '', input.InstanceIds ?? [], parameters) } };
    }),
  );
  ssm.on(ListCommandInvocationsCommand).callsFake(
    route(fleet, 'ssm', 'ListCommandInvocations', (input: { CommandId?: string }) => ({
      CommandInvocations: fleet.pollCommand(input.CommandId ?? '').map((invocation) => ({
        CommandId: invocation.commandId,
        InstanceId: invocation.instanceId,
        Status: invocation.status,
        DocumentName: invocation.document,
      })),
    })),
  );
  ssm.on(GetCommandInvocationCommand).callsFake(
    route(fleet, 'ssm', 'GetCommandInvocation', (input: { CommandId?: string; InstanceId?: string }) => {
      const invocation = fleet.getInvocation(input.CommandId ?? '', input.InstanceId ?? '');
      return { Status: invocation.status, StandardOutputContent: invocation.stdout, StandardErrorContent: invocation.stderr };
    }),
  );
  ssm.on(GetParameterCommand).callsFake(
    route(fleet, 'ssm', 'GetParameter', (input: { Name?: string }) => {
      const value = fleet.parameters.get(input.Name ?? '');
      if (value === undefined) throw new AwsError('ParameterNotFound', `Parameter ${input.Name} not found`);
      return { Parameter: { Name: input.Name, Value: value } };
    }),
  );
  ssm.on(PutParameterCommand).callsFake(
    route(fleet, 'ssm', 'PutParameter', (input: { Name?: string; Value?: string; Overwrite?: boolean }) => {
      if (fleet.parameters.has(input.Name ?? '') && !input.Overwrite) throw new AwsError('ParameterAlreadyExists', 'The parameter already exists.');
      if ((input.Value ?? '').length > 4096) throw new AwsError('ParameterMaxVersionLimitExceeded', 'Standard parameters hold at most 4 KB');
      fleet.parameters.set(input.Name ?? '', input.Value ?? '');
      return { Version: 1 };
    }),
  );

  ssm.on(DeleteParameterCommand).callsFake(
    route(fleet, 'ssm', 'DeleteParameter', (input: { Name?: string }) => {
      if (!fleet.parameters.delete(input.Name ?? '')) throw new AwsError('ParameterNotFound', `Parameter ${input.Name} not found`);
      return {};
    }),
  );

  sfn.on(StartExecutionCommand).callsFake(
    route(fleet, 'states', 'StartExecution', (input: { stateMachineArn?: string; name?: string; input?: string }) => {
      const execution = fleet.startExecution(input.stateMachineArn ?? '', input.name ?? '', input.input ?? '{}');
      return { executionArn: execution.executionArn, startDate: new Date(execution.startedAt) };
    }),
  );
  sfn.on(DescribeExecutionCommand).callsFake(
    route(fleet, 'states', 'DescribeExecution', (input: { executionArn?: string }) => {
      const execution = fleet.executions.get(input.executionArn ?? '');
      if (!execution) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${input.executionArn}'`);
      return { executionArn: execution.executionArn, status: execution.status === 'PENDING' ? 'RUNNING' : execution.status };
    }),
  );
  sfn.on(ListExecutionsCommand).callsFake(
    route(fleet, 'states', 'ListExecutions', (input: { stateMachineArn?: string }) => ({
      executions: [...fleet.executions.values()]
        .filter((execution) => input.stateMachineArn?.endsWith(`:stateMachine:${execution.stateMachine}`))
        .reverse()
        .map((execution) => ({
          executionArn: execution.executionArn,
          name: execution.name,
          status: execution.status === 'PENDING' ? 'RUNNING' : execution.status,
          startDate: new Date(execution.startedAt),
          stopDate: execution.stoppedAt === undefined ? undefined : new Date(execution.stoppedAt),
        })),
    })),
  );
  sns.on(PublishCommand).callsFake(
    route(fleet, 'sns', 'Publish', (input: { Subject?: string; Message?: string }) => {
      fleet.publish(input.Subject ?? '', input.Message ?? '');
      return { MessageId: `msg-${fleet.notifications.length}` };
    }),
  );

  secrets.on(DescribeSecretCommand).callsFake(
    route(fleet, 'secretsmanager', 'DescribeSecret', (input: { SecretId?: string }) => {
      const secret = fleet.findSecret(input.SecretId ?? '');
      if (!secret) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
      return { ARN: secret.arn, Name: secret.name };
    }),
  );
  secrets.on(PutSecretValueCommand).callsFake(
    route(fleet, 'secretsmanager', 'PutSecretValue', (input: { SecretId?: string; SecretString?: string }) => {
      const stored = fleet.putSecretValue(input.SecretId ?? '', input.SecretString ?? '');
      return { ARN: stored.arn, VersionId: stored.versionId };
    }),
  );

  const restorePorts = swapPorts({ clock: { now: () => fleet.now(), sleep: async (milliseconds) => fleet.advance(milliseconds / 1000) } });
  return () => {
    restorePorts();
    ec2.restore();
    ssm.restore();
    secrets.restore();
    sfn.restore();
    sns.restore();
  };
}
