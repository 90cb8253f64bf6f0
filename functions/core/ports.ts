// The narrow interfaces the core needs from AWS. Adapters implement them with the SDK;
// unit tests implement them with plain objects.
import type { ClusterInstance } from './cluster.js';
import type { IngressRule, NatGatewayFacts, RouteTableFacts } from './preflight.js';

/** One EBS volume as a replacement must recreate it. */
export interface BlockDevice {
  readonly deviceName: string;
  readonly volumeSize: number;
  readonly volumeType?: string | undefined;
  readonly encrypted?: boolean | undefined;
  readonly kmsKeyId?: string | undefined;
  readonly iops?: number | undefined;
  readonly throughput?: number | undefined;
}

/**
 * What a replacement needs to look like the instance it replaces. Read while the instance lives:
 * EC2 forgets a terminated instance's subnet, address, groups, profile and volumes (shared/reality.md).
 */
export interface LaunchFacts {
  readonly instanceId: string;
  readonly imageId: string;
  readonly instanceType: string;
  readonly subnetId: string;
  readonly availabilityZone: string;
  readonly privateIp: string;
  readonly securityGroupIds: string[];
  readonly iamInstanceProfileArn?: string | undefined;
  readonly keyName?: string | undefined;
  /** Tags a replacement inherits (AWS's own and kubeha's progress tags left out). */
  readonly tags: Record<string, string>;
  readonly blockDevices: BlockDevice[];
}

/** What RunInstances is asked for: recorded facts, or a launch template that overrides them. */
export interface LaunchSpec {
  readonly imageId?: string | undefined;
  readonly instanceType?: string | undefined;
  readonly subnetId: string;
  readonly securityGroupIds?: string[] | undefined;
  readonly iamInstanceProfileArn?: string | undefined;
  readonly keyName?: string | undefined;
  readonly tags: Record<string, string>;
  readonly blockDevices?: BlockDevice[] | undefined;
  readonly launchTemplate?: { launchTemplateId: string; version: string } | undefined;
}

export interface ElasticIp {
  readonly allocationId: string;
  readonly publicIp: string;
  readonly instanceId?: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface Ec2Port {
  /**
   * Every non-terminated instance carrying the cluster's ownership tag; with `terminated`, also those
   * terminated recently enough for EC2 to describe them (about an hour).
   */
  findClusterInstances(clusterName: string, options?: { readonly terminated?: boolean }): Promise<ClusterInstance[]>;
  subnetCidrs(subnetIds: readonly string[]): Promise<{ subnetId: string; vpcId: string; cidr: string }[]>;
  vpcCidrs(vpcIds: readonly string[]): Promise<{ vpcId: string; cidrs: string[] }[]>;
  /** Inbound rules of each security group, by group id. */
  securityGroupRules(groupIds: readonly string[]): Promise<Record<string, IngressRule[]>>;
  /** Every route table of the VPCs (DescribeRouteTables by vpc-id), with its explicit subnet associations, main flag and IPv4 routes. */
  routeTables(vpcIds: readonly string[]): Promise<RouteTableFacts[]>;
  /** Every NAT gateway of the VPCs (DescribeNatGateways by vpc-id), with its state and public addresses. */
  natGateways(vpcIds: readonly string[]): Promise<NatGatewayFacts[]>;
  /** Undefined when the allocation does not exist in this account and region. */
  findElasticIp(allocationId: string): Promise<ElasticIp | undefined>;
  associateElasticIp(allocationId: string, instanceId: string): Promise<void>;
  tagInstances(instanceIds: readonly string[], tags: Readonly<Record<string, string>>): Promise<void>;
  /** One instance by id, terminated ones included (EC2 keeps them about an hour), with its tags. */
  describeInstance(instanceId: string): Promise<ClusterInstance | undefined>;
  /**
   * Launch facts of live instances (pending, running, stopping, stopped), volumes included. Instances
   * EC2 no longer describes fully (terminated, shutting down without a subnet) are left out.
   */
  launchFactsOf(instanceIds: readonly string[]): Promise<LaunchFacts[]>;
  startInstance(instanceId: string): Promise<void>;
  /** StopInstances of one instance: a warm standby once it is prepared (a stopped one is left as it is). */
  stopInstance(instanceId: string): Promise<void>;
  /** DeleteTags by key, whatever the values: a claimed standby drops its standby tags. */
  untagInstances(instanceIds: readonly string[], keys: readonly string[]): Promise<void>;
  /**
   * Terminates a managed instance kubeha gives up on (escalation), tagged kubeha:retiring first so its
   * own state-change events start nothing.
   */
  retireInstance(instanceId: string): Promise<void>;
  /** Drills only: stop or terminate a kubeha instance on purpose. */
  injectFailure(instanceId: string, action: 'stop' | 'terminate'): Promise<void>;
  /**
   * Launches one instance. With `privateIp`, asks for that address and answers `addressInUse` when it
   * is taken. `clientToken` makes a retried call return the instance the first call launched.
   */
  runInstance(spec: LaunchSpec, options: { privateIp?: string | undefined; clientToken: string }): Promise<{ instanceId: string; privateIp: string } | 'addressInUse'>;
  /** Instances (terminated ones included, while EC2 describes them) carrying tag key = value. */
  findTaggedInstances(key: string, value: string): Promise<{ instanceId: string; ec2State: string }[]>;
  /** Terminates instances that carry the tag key (the IAM policy allows no others). */
  terminateTaggedInstances(instanceIds: readonly string[], key: string): Promise<void>;
  /** CreateImage of an instance, tagged as it is made; returns the new AMI's id. */
  createImage(instanceId: string, name: string, tags: Readonly<Record<string, string>>): Promise<string>;
  /** This account's registered images carrying every given tag (a deregistered one, still listed for a while, is left out). */
  findImages(tags: Readonly<Record<string, string>>): Promise<ImageFacts[]>;
  /** This account's EBS snapshots carrying every given tag. */
  findSnapshots(tags: Readonly<Record<string, string>>): Promise<{ snapshotId: string; startedAt: number; tags: Record<string, string> }[]>;
  /** DeregisterImage; `gone` when EC2 no longer has it registered (deregistered already, or unknown). */
  deregisterImage(imageId: string): Promise<'deregistered' | 'gone'>;
  /** DeleteSnapshot; `gone` when it does not exist, `inUse` while a registered image still lists it. */
  deleteSnapshot(snapshotId: string): Promise<'deleted' | 'gone' | 'inUse'>;
}

/** An image as DescribeImages gives it: its state, when it was made, its snapshots and kubeha's tags. */
export interface ImageFacts {
  readonly imageId: string;
  readonly state: 'pending' | 'available' | 'failed';
  /** Epoch ms of CreationDate. */
  readonly createdAt: number;
  readonly snapshotIds: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
}

export type InvocationStatus =
  | 'Pending'
  | 'InProgress'
  | 'Delayed'
  | 'Success'
  | 'Cancelled'
  | 'TimedOut'
  | 'Failed'
  | 'Cancelling'
  | 'Undeliverable'
  | 'Terminated';

export interface CommandInvocation {
  readonly instanceId: string;
  readonly status: InvocationStatus;
  /** Filled only where the caller asked for the output (failures and steps that report a result). */
  readonly stdout?: string;
  readonly stderr?: string;
}

export interface SendCommandRequest {
  /** Up to 100 characters, readable in the console; kubeha's idempotency token goes last. */
  readonly documentName: string;
  /** The document version the functions were built for, so a half-finished deploy never mixes versions. */
  readonly documentVersion?: string | undefined;
  readonly instanceIds: readonly string[];
  readonly parameters: Readonly<Record<string, string>>;
  readonly comment: string;
  readonly timeoutSeconds: number;
  /** Whether the agent also writes the whole output to the command-output bucket (default yes). */
  readonly outputToS3?: boolean | undefined;
}

export interface SsmPort {
  /** The subset of instanceIds whose SSM agent is registered and online. */
  onlineInstanceIds(instanceIds: readonly string[]): Promise<Set<string>>;
  /** The same question, with each online agent's version where SSM reports it (one DescribeInstanceInformation call). */
  onlineAgents(instanceIds: readonly string[]): Promise<Map<string, { agentVersion?: string | undefined }>>;
  sendCommand(request: SendCommandRequest): Promise<string>;
  /** Status of every invocation of the command, without output. */
  commandInvocations(commandId: string): Promise<CommandInvocation[]>;
  /**
   * The whole output of one invocation. GetCommandInvocation keeps only the first 24,000 characters of
   * stdout and 8,000 of stderr; where the command wrote to S3, the adapter reads the rest there.
   */
  invocationOutput(commandId: string, instanceId: string): Promise<{ stdout: string; stderr: string }>;
  /** The id of a command sent to the instance since `since` whose Comment carries `token`, if any. */
  findCommand(instanceId: string, token: string, since: number): Promise<string | undefined>;
  /** Stops a command kubeha gave up on, so a retry never overlaps it. A finished command is left alone. */
  /** Cancels the command, on these nodes only when given. */
  cancelCommand(commandId: string, instanceIds?: readonly string[]): Promise<void>;
  getParameter(name: string): Promise<string | undefined>;
  putParameter(name: string, value: string): Promise<void>;
}

export interface WorkflowsPort {
  /** Starts an execution; `started: false` when one with that name exists already (a duplicate event). */
  startExecution(stateMachineArn: string, name: string, input: unknown): Promise<{ started: boolean; executionArn: string }>;
  /** RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED; undefined when unknown. */
  executionStatus(executionArn: string): Promise<string | undefined>;
  /** Status and stop time (epoch ms) of one execution; undefined when it does not exist. */
  describeExecution(executionArn: string): Promise<{ status: string; stopDate?: number | undefined } | undefined>;
  /** The most recent executions of a state machine, newest first. */
  listExecutions(stateMachineArn: string): Promise<ExecutionSummary[]>;
}

export interface ExecutionSummary {
  readonly name: string;
  readonly executionArn: string;
  readonly status: string;
  readonly startDate: number;
  readonly stopDate?: number | undefined;
}

export interface NotifierPort {
  publish(subject: string, message: string): Promise<void>;
}

export interface SecretRef {
  readonly secretArn: string;
  readonly versionId: string;
}

export interface SecretsPort {
  /** The ARN of the named secret, or undefined when the stack does not hold it. Never reads the value. */
  findSecretArn(name: string): Promise<string | undefined>;
  /** Stores a new value and returns the version that holds it. */
  putSecretValue(secretArn: string, value: string): Promise<SecretRef>;
  /**
   * The AWSCURRENT value: only the encryption-key functions call it, on the encryption secret, to rewrite
   * the key list. Nothing it returns may reach a result, a payload or a log.
   */
  getSecretValue(secretArn: string): Promise<string | undefined>;
  /** The AWSCURRENT version and when it was created (never its value). */
  currentVersion(secretArn: string): Promise<{ versionId: string; createdAt: number } | undefined>;
  /** Names and tags (never values) of the secrets whose names begin with `prefix`. */
  listSecrets(prefix: string): Promise<{ name: string; tags: Record<string, string> }[]>;
}

/** One item of kubeha's state table: a JSON value with a version for compare-and-set. */
export interface StoredItem<T> {
  readonly key: string;
  readonly value: T;
  readonly version: number;
}

/**
 * Durable per-cluster state (launch records, incidents) in one DynamoDB table. Writes can be
 * conditional on the version read, which is what makes two triggers for one dead instance start
 * one replacement, not two.
 */
export interface StatePort {
  get<T>(clusterName: string, key: string): Promise<StoredItem<T> | undefined>;
  /** Every item whose key starts with the prefix. */
  list<T>(clusterName: string, keyPrefix: string): Promise<StoredItem<T>[]>;
  /**
   * Writes the value. `expected`: 'absent' (create only), a version (only if unchanged since read)
   * or 'any'. False when the condition failed: someone else wrote first.
   */
  put<T>(clusterName: string, key: string, value: T, expected: number | 'absent' | 'any'): Promise<boolean>;
  /** Deletes the item; with `expected`, only if its version is still that one (false otherwise). */
  remove(clusterName: string, key: string, expected?: number): Promise<boolean>;
  /** Writes many items unconditionally, in as few calls as the table allows (25 per batch). */
  putMany<T>(clusterName: string, items: readonly { key: string; value: T }[]): Promise<void>;
}

export interface Clock {
  now(): number;
  sleep(milliseconds: number): Promise<void>;
}

export interface Ports {
  readonly ec2: Ec2Port;
  readonly ssm: SsmPort;
  readonly state: StatePort;
  readonly secrets: SecretsPort;
  readonly workflows: WorkflowsPort;
  readonly notifier: NotifierPort;
  readonly clock: Clock;
  readonly random: (bytes: number) => Buffer;
}
