// Wires the simulated fleet in below the SDK clients, so kubeha's real adapters run unchanged.
import {
  AssociateAddressCommand,
  CreateTagsCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { DescribeSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
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
import { AwsError, type RecordedCall, type SimulatedFleet } from './fleet.js';

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

/** Routes every SDK call kubeha makes to the fleet and swaps in the fleet's clock. Returns an uninstaller. */
export function installFleet(fleet: SimulatedFleet): () => void {
  const ec2 = mockClient(EC2Client);
  const ssm = mockClient(SSMClient);
  const secrets = mockClient(SecretsManagerClient);
  const notModelled = new AwsError('NotModelled', 'the simulated fleet does not model this call');
  ec2.onAnyCommand().rejects(notModelled);
  ssm.onAnyCommand().rejects(notModelled);
  secrets.onAnyCommand().rejects(notModelled);

  ec2.on(DescribeInstancesCommand).callsFake(
    route(fleet, 'ec2', 'DescribeInstances', (input: { Filters?: { Name?: string; Values?: string[] }[]; InstanceIds?: string[] }) => ({
      Reservations: [
        {
          Instances: fleet.describeInstances(input.Filters, input.InstanceIds).map((instance) => ({
            InstanceId: instance.instanceId,
            State: { Name: instance.state },
            PrivateIpAddress: instance.privateIp,
            PublicIpAddress: instance.publicIp,
            SubnetId: instance.subnetId,
            VpcId: instance.vpcId,
            Placement: { AvailabilityZone: instance.availabilityZone },
            LaunchTime: instance.launchTime,
            Tags: tagList(instance.tags),
          })),
        },
      ],
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

  const restorePorts = swapPorts({ clock: { now: () => fleet.now() } });
  return () => {
    restorePorts();
    ec2.restore();
    ssm.restore();
    secrets.restore();
  };
}
