// The narrow interfaces the core needs from AWS. Adapters implement them with the SDK;
// unit tests implement them with plain objects.
import type { ClusterInstance } from './cluster.js';

/** What a replacement needs to look like the instance it replaces. */
export interface LaunchSpec {
  readonly imageId: string;
  readonly instanceType: string;
  readonly subnetId: string;
  readonly securityGroupIds: string[];
  readonly iamInstanceProfileArn?: string | undefined;
  readonly keyName?: string | undefined;
  readonly tags: Record<string, string>;
  readonly blockDevices: { deviceName: string; volumeSize?: number | undefined; volumeType?: string | undefined; encrypted?: boolean | undefined }[];
  readonly launchTemplate?: { launchTemplateId: string; version: string } | undefined;
  /** The described instance's own private address (what a replacement asks for first). */
  readonly privateIp?: string | undefined;
}

export interface ElasticIp {
  readonly allocationId: string;
  readonly publicIp: string;
  readonly instanceId?: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface Ec2Port {
  /** Every non-terminated instance carrying the cluster's ownership tag. */
  findClusterInstances(clusterName: string): Promise<ClusterInstance[]>;
  subnetCidrs(subnetIds: readonly string[]): Promise<{ subnetId: string; vpcId: string; cidr: string }[]>;
  vpcCidrs(vpcIds: readonly string[]): Promise<{ vpcId: string; cidrs: string[] }[]>;
  /** Undefined when the allocation does not exist in this account and region. */
  findElasticIp(allocationId: string): Promise<ElasticIp | undefined>;
  associateElasticIp(allocationId: string, instanceId: string): Promise<void>;
  tagInstances(instanceIds: readonly string[], tags: Readonly<Record<string, string>>): Promise<void>;
  /** One instance by id, terminated ones included (EC2 keeps them about an hour), with its tags. */
  describeInstance(instanceId: string): Promise<ClusterInstance | undefined>;
  /** The launch spec of an instance (terminated included), or undefined once EC2 has forgotten it. */
  launchSpecOf(instanceId: string): Promise<LaunchSpec | undefined>;
  startInstance(instanceId: string): Promise<void>;
  /** Drills only: stop or terminate a kubeha instance on purpose. */
  injectFailure(instanceId: string, action: 'stop' | 'terminate'): Promise<void>;
  /**
   * Launches one instance. With `privateIp`, asks for that address and answers `addressInUse` when it
   * is taken. `clientToken` makes a retried call return the instance the first call launched.
   */
  runInstance(spec: LaunchSpec, options: { privateIp?: string | undefined; clientToken: string }): Promise<{ instanceId: string; privateIp: string } | 'addressInUse'>;
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
  readonly documentName: string;
  readonly instanceIds: readonly string[];
  readonly parameters: Readonly<Record<string, string>>;
  readonly comment: string;
  readonly timeoutSeconds: number;
}

export interface SsmPort {
  /** The subset of instanceIds whose SSM agent is registered and online. */
  onlineInstanceIds(instanceIds: readonly string[]): Promise<Set<string>>;
  /** The same question, with each online agent's version where SSM reports it (one DescribeInstanceInformation call). */
  onlineAgents(instanceIds: readonly string[]): Promise<Map<string, { agentVersion?: string | undefined }>>;
  sendCommand(request: SendCommandRequest): Promise<string>;
  /** Status of every invocation of the command, without output. */
  commandInvocations(commandId: string): Promise<CommandInvocation[]>;
  invocationOutput(commandId: string, instanceId: string): Promise<{ stdout: string; stderr: string }>;
  getParameter(name: string): Promise<string | undefined>;
  putParameter(name: string, value: string): Promise<void>;
  /** Creates the parameter only if absent; false when it already existed. */
  createParameter(name: string, value: string): Promise<boolean>;
  deleteParameter(name: string): Promise<void>;
}

export interface WorkflowsPort {
  /** Starts an execution; `started: false` when one with that name exists already (a duplicate event). */
  startExecution(stateMachineArn: string, name: string, input: unknown): Promise<{ started: boolean; executionArn: string }>;
  /** RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED; undefined when unknown. */
  executionStatus(executionArn: string): Promise<string | undefined>;
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
}

export interface Clock {
  now(): number;
  sleep(milliseconds: number): Promise<void>;
}

export interface Ports {
  readonly ec2: Ec2Port;
  readonly ssm: SsmPort;
  readonly secrets: SecretsPort;
  readonly workflows: WorkflowsPort;
  readonly notifier: NotifierPort;
  readonly clock: Clock;
  readonly random: (bytes: number) => Buffer;
}
