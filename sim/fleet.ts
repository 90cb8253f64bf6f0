// The simulated world the simulated services share: instances and their EC2 lifecycle, clusters,
// addresses, secrets, parameters, items, objects, executions, faults and modelled time. Each service's
// API and behaviour sits beside the adapter it stands in for (ec2.ts, ssm.ts with Run Command,
// dynamodb.ts, s3.ts, step-functions.ts, sns-and-secrets.ts); what documents do to nodes is
// node-documents.ts. Used by the tests, the demo and the simulated CLI account.
//
// Time is modelled: every API call advances the clock a little, every poll of a command stands for
// one Wait of the state machine's loop, and documents finish after their modelled duration.
import { CERTIFICATE_KEY_FORMAT, type JoinKind, TOKEN_FORMAT, joinSecretName, kubeconfigSecretName } from '../functions/core/join-material.js';
import { encryptionSecretName } from '../functions/core/names.js';
import type { EncryptionModel } from './encryption.js';
import { API_CALL_SECONDS, seededRandom } from './latency.js';
import { charge, runningFunction, stopIfTimedOut } from './handler-time.js';
import { param } from './node-documents.js';
import { containsAddress } from '../functions/core/cidr.js';
import { type KeepalivedClaim, keepalivedDetectionSeconds } from './load-balancer.js';

/** The stage of the simulated deployment: LocalControlPlane sets KUBEHA_STAGE to it. */
export const LOCAL_STAGE = 'local';

export type Ec2State = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';
export type SimRole = 'master' | 'worker' | 'lb';

export interface SimInstance {
  instanceId: string;
  state: Ec2State;
  tags: Record<string, string>;
  privateIp: string;
  publicIp?: string;
  subnetId: string;
  vpcId: string;
  availabilityZone: string;
  launchTime: Date;
  /** When RunInstances made it (describeLagSeconds); instances a test sets up are known at once. */
  launchedByApiAt?: number;
  ssmOnline: boolean;
  /** When the SSM agent registered; before that SSM does not know the instance at all. */
  ssmRegisteredAt?: number;
  /** When the agent last connected (the instance finished booting): a Delayed command is delivered then. */
  onlineSince?: number;
  /** When the instance reached `terminated`: EC2 describes it for a while, then forgets it. */
  terminatedAt?: number;
  /** Modelled time at which a stopping or shutting-down instance reaches stopped or terminated. */
  settlesAt?: number;
  imageId: string;
  instanceType: string;
  securityGroupIds: string[];
  iamInstanceProfileArn: string;
  volumes: { volumeId: string; deviceName: string; size: number; deleted: boolean }[];
  /** The instance metadata service's settings (DescribeInstances MetadataOptions). */
  metadataOptions: SimMetadataOptions;
  /**
   * Modelled time from which the instance's agent cannot reach SSM (no route to its endpoints, a broken
   * agent; "Troubleshooting managed node availability", Systems Manager User Guide): cutAgentOff.
   */
  agentCutOffAt?: number;
  /** Modelled time at which a starting instance is running with its agent online. */
  bootsAt?: number;
  /** Modelled time at which a restarted node's kubelet and etcd member are back. */
  recoversAt?: number;
  /** What kubeha's documents have done on this node. */
  node: {
    prerequisites?: { kubernetesVersion: string; role: string };
    /** The Kubernetes version whose images (`kubeadm config images pull`) containerd holds already. */
    imagesPulled?: string;
    kubeadm?: 'control-plane' | 'worker';
    /**
     * When this control-plane node's kubeadm leaf certificates expire (modelled ms): issued by its own
     * kubeadm init or join, which sign them for CertificateValidityPeriod, 365 days (cmd/kubeadm/app/
     * constants/constants.go); only `kubeadm certs renew` or an upgrade renews them (kubeadm#2652).
     */
    certificatesExpireAt?: number;
    /** Certificates renewed on disk but static pods still running from before (a renewal that died between renew and restart). */
    certificatesRestartPending?: boolean;
    /**
     * A load balancer's nginx. `hung`: its processes are stuck (a test's fault): the listen backlog still
     * accepts connections, but nothing is proxied and nothing answers (test/scripts/load-balancer.test.ts
     * and probe-load-balancer.test.ts show this with the real nginx).
     */
    nginx?: { upstreams: string[]; listenPort: number; reloads: number; hung?: boolean };
    /** A worker's local API proxy (lib/node-proxy.sh): 127.0.0.1:6443 to these masters. */
    proxy?: { upstreams: string[]; reloads: number };
    keepalived?: { priority: number; peers: string[]; elasticIpAllocationId: string };
    /** kubeha's block of /etc/fstab (ApplyNodeProfile) and what is mounted now. */
    fstab?: string[];
    mounts?: { source: string; mountPoint: string }[];
    documentsRun: string[];
  };
}

/**
 * What DescribeInstances reports as MetadataOptions (InstanceMetadataOptionsResponse in the EC2 API
 * reference): HttpTokens optional|required, HttpPutResponseHopLimit 1-64, HttpEndpoint enabled|disabled.
 */
export interface SimMetadataOptions {
  httpTokens: 'optional' | 'required';
  hopLimit: number;
  httpEndpoint: 'enabled' | 'disabled';
}

/** How README tells users to launch nodes: IMDSv2 only, one hop (pods on the pod network cannot answer the PUT). */
export const SECURE_METADATA_OPTIONS: SimMetadataOptions = { httpTokens: 'required', hopLimit: 1, httpEndpoint: 'enabled' };

export interface EtcdMember {
  name: string;
  instanceId: string;
  peerUrl: string;
  healthy: boolean;
  /**
   * A learner kubeadm's etcd-join announced (`member add --learner`) whose etcd never started: the join failed
   * before the member caught up (kubeadm#2997). etcdctl lists it with an empty name; it does not vote, so quorum
   * counts only the voting members (etcd's RaftCluster.IsReadyToRemoveVotingMember iterates VotingMembers()).
   */
  unstartedLearner?: true;
}

export interface KubeCluster {
  clusterName: string;
  caCertHash: string;
  firstMasterId: string;
  controlPlaneEndpoint: string;
  etcdMembers: EtcdMember[];
  nodes: { name: string; instanceId: string; role: 'control-plane' | 'worker'; ready: boolean }[];
  /** Registered bootstrap tokens with the extra group each was given (what its holder may read follows from it). */
  tokens: { token: string; expiresAt: number; kind: JoinKind }[];
  uploadedCertificates?: { certificateKey: string; expiresAt: number };
  /** When the cluster's CAs expire: made by init for CACertificateValidityPeriod, 10 years (constants.go). */
  caExpiresAt?: number;
  cni?: { version: string; podCidr: string };
  /** Modelled [start, end] of every control-plane join, to prove they never overlapped. */
  controlPlaneJoins: { instanceId: string; start: number; end: number }[];
  /** Whether the drill's test application is deployed. */
  testApp?: boolean;
  /** ClusterRoleBindings made by `kubeha access grant`, by user. */
  userBindings?: Record<string, { clusterRole: string; group: string; expiresAt: number }>;
  /** Secrets at rest: each API server's keys and each Secret's key (sim/encryption.ts). */
  encryption?: EncryptionModel;
}

export interface Invocation {
  commandId: string;
  instanceId: string;
  document: string;
  parameters: Record<string, string>;
  status: 'Pending' | 'Delayed' | 'InProgress' | 'Success' | 'Failed' | 'Undeliverable' | 'TimedOut' | 'Cancelled';
  /** Delayed: the node was not connected when the command was sent; it runs for durationMs once the node is, unless deliverBy passes first. */
  delivery?: { durationMs: number; deliverBy: number };
  comment?: string;
  /** OutputS3BucketName and OutputS3KeyPrefix, where the command asked for its output in S3. */
  output?: { bucket: string; prefix: string };
  startedAt: number;
  finishesAt: number;
  stdout: string;
  stderr: string;
  /** A hung script (hangDocument): it runs until the agent stops it at the execution timeout. */
  hangs?: true;
}

export interface SimExecution {
  executionArn: string;
  stateMachine: string;
  name: string;
  input: unknown;
  status: 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  startedAt: number;
  stoppedAt?: number;
  error?: { name: string; cause: string };
  output?: unknown;
}

/** An AMI kubeha made with CreateImage (sim/ec2.ts), with what its builder had installed. */
export interface SimImage {
  imageId: string;
  name: string;
  /** `deregistered`: DeregisterImage was called (sim/ec2.ts shows it for a short while, then forgets it). */
  state: 'pending' | 'available' | 'failed' | 'deregistered';
  deregisteredAt?: number;
  /** The EBS snapshots CreateImage took of the builder's volumes (its BlockDeviceMappings). */
  snapshotIds: string[];
  /** Where it goes from pending: `failed` for an injected fault (imageFaults). */
  settlesTo: 'available' | 'failed';
  sourceInstanceId: string;
  createdAt: number;
  availableAt: number;
  tags: Record<string, string>;
  baked: Pick<SimInstance['node'], 'prerequisites' | 'imagesPulled'>;
}

/** An EBS snapshot, billed per GB-month while it exists (bench/cost.ts). */
export interface SimEbsSnapshot {
  snapshotId: string;
  volumeSize: number;
  startedAt: number;
  tags: Record<string, string>;
}

export const BOOT_SECONDS = 45;
/** How long StopInstances and TerminateInstances take to reach stopped and terminated. */
export const STOP_SECONDS = 15;
export const SHUTDOWN_SECONDS = 20;
export const EIP_MOVE_SECONDS = 5;
export const KUBELET_RECOVERY_SECONDS = 30;

export interface RecordedCall {
  service: 'ec2' | 'ssm' | 'secretsmanager' | 'states' | 'sns' | 'dynamodb' | 's3';
  operation: string;
  input: unknown;
  at: number;
  /** The function whose invocation made the call (sim/handler-time.ts), when a function made it. */
  by?: string;
}

export interface DocumentFault {
  document: string;
  instanceId?: string;
  /** Matching runs still let through before the fault fires. */
  skip?: number;
  remaining: number;
  stderr: string;
  /** JoinControlPlane only: the join fails in etcd-join after announcing its learner, which stays behind. */
  leavesUnstartedLearner?: true;
}

/** An API's token bucket: how many requests it holds, and how many it gains a second (limitRates). */
export type RateBucketOf = (service: string, operation: string) => { readonly burst: number; readonly perSecond: number } | undefined;

export class AwsError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

interface SecretVersion {
  versionId: string;
  value: string;
  createdAt: number;
}

export interface Secret {
  arn: string;
  name: string;
  tags: Record<string, string>;
  versions: SecretVersion[];
}


/**
 * A route of a simulated route table. `target` is what DescribeRouteTables names in the route: `local`, an
 * internet gateway (`igw-…`, GatewayId) or a NAT gateway (`nat-…`, NatGatewayId).
 */
export interface SimRoute {
  destination: string;
  target: string;
}

/** A route table: `main` for the VPC's main table, `subnetIds` its explicit associations. */
export interface SimRouteTable {
  routeTableId: string;
  vpcId: string;
  main: boolean;
  subnetIds: string[];
  routes: SimRoute[];
}

/** A NAT gateway: a public one sends its traffic from its public address (its Elastic IP). */
export interface SimNatGateway {
  natGatewayId: string;
  vpcId: string;
  subnetId: string;
  state: 'pending' | 'failed' | 'available' | 'deleting' | 'deleted';
  connectivity: 'public' | 'private';
  publicIp?: string;
  allocationId?: string;
}

export interface StandardFleetOptions {
  clusterName?: string;
  masters?: number;
  workers?: number;
  loadBalancers?: number;
  vpcCidrPrefix?: string;
  seed?: number;
  tagElasticIp?: boolean;
  /** Use this allocation id for the Elastic IP (so a user's input file matches the simulated account). */
  elasticIpAllocationId?: string;
}

export class SimulatedFleet {
  readonly instances = new Map<string, SimInstance>();
  readonly subnets = new Map<string, { subnetId: string; vpcId: string; cidr: string; availabilityZone: string }>();
  readonly vpcs = new Map<string, { vpcId: string; cidrs: string[] }>();
  /** Elastic IP claims the peers' keepalived will make (scheduleKeepalivedTakeover). */
  readonly keepalivedClaims: KeepalivedClaim[] = [];
  readonly addresses = new Map<string, { allocationId: string; publicIp: string; instanceId?: string; effectiveAt?: number; tags: Record<string, string> }>();
  readonly parameters = new Map<string, string>();
  /** Route tables of the VPCs (addVpc makes each VPC's main table), by id. */
  readonly routeTables = new Map<string, SimRouteTable>();
  /** NAT gateways, by id (addNatEgress). */
  readonly natGateways = new Map<string, SimNatGateway>();
  /** Internet gateways and the VPC each is attached to, by id. */
  readonly internetGateways = new Map<string, { internetGatewayId: string; vpcId: string }>();
  /** Inbound rules of each security group (protocol, ports, source groups or CIDRs). */
  readonly securityGroups = new Map<string, { protocol: string; fromPort?: number; toPort?: number; sourceGroupIds: string[]; cidrs: string[] }[]>();
  /** The digest the deployed documents' names end with; a command for any other set does not exist. */
  deployedDocumentSuffix: string | undefined;
  /** S3 objects by `bucket/key`. */
  readonly objects = new Map<string, string>();
  /** State-table items by `pk|sk`. */
  readonly items = new Map<string, { pk: string; sk: string; v: number; body: string }>();
  readonly secrets = new Map<string, Secret>();
  readonly clusters = new Map<string, KubeCluster>();
  readonly invocations: Invocation[] = [];
  readonly calls: RecordedCall[] = [];
  readonly faults: DocumentFault[] = [];
  readonly hangingDocuments: { document: string; instanceId?: string; remaining: number }[] = [];
  readonly throttles = new Map<string, number>();
  /** Opt-in (limitRates): each API's token bucket, and how many calls it answered with a throttling error. */
  private rateBuckets?: { bucketOf: RateBucketOf; state: Map<string, { tokens: number; at: number }>; throttled: number };
  readonly slowCalls = new Map<string, number>();
  readonly executions = new Map<string, SimExecution>();
  /** AMIs made by CreateImage, by id. */
  readonly images = new Map<string, SimImage>();
  /** How many of the next CreateImage calls make an image that ends `failed` instead of `available`. */
  imageFaults = 0;
  /** EBS snapshots (CreateImage takes one per volume of the instance), by id; DeleteSnapshot removes them. */
  readonly ebsSnapshots = new Map<string, SimEbsSnapshot>();
  readonly notifications: { subject: string; message: string; at: number }[] = [];
  readonly snapshots: { bucket: string; key: string; at: number }[] = [];
  /** What happened to the fleet, in modelled time: the demo's timeline. */
  readonly history: { at: number; what: string }[] = [];
  /** Instances whose kubelet and etcd never come back after a restart (a wedged node). */
  readonly neverRecovers = new Set<string>();
  /** GlusterFS volumes the VPC's servers serve, as `server:volume` (ApplyNodeProfile mounts only these). */
  glusterVolumes = new Set<string>();
  /** External services that answer from the nodes, as `host:port` (CheckExternalServices). */
  reachableEndpoints = new Set<string>();
  private readonly launchTokens = new Map<string, string>();
  // The unpleasant parts of AWS, each configurable for the one test that is about it (shared/reality.md).
  /** EC2 describes a terminated instance for about an hour, then answers InvalidInstanceID.NotFound. */
  terminatedRetentionSeconds = 3600;
  /**
   * How long a launched instance stays out of DescribeInstances: "if you run a command to modify or describe the
   * resource that you just created, its ID might not have propagated throughout the system, and you will get an
   * error responding that the resource does not exist"; describe "starting with a couple of seconds of wait
   * time" (Eventual consistency in the Amazon EC2 API, https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).
   */
  describeLagSeconds = 2;
  /** The dead instance's ENI holds its private IP for seconds to minutes: RunInstances with it fails InvalidIPAddress.InUse. */
  addressReleaseSeconds = 30;
  /** A new instance's SSM agent registers 30-90 s after the instance is running. */
  agentRegistrationSeconds = 40;
  /** Page size of the paged Describe calls the simulator models pages for (route tables, NAT gateways) when the caller sets no MaxResults; undefined: one page. */
  describePageSize: number | undefined = undefined;
  /** Availability Zones short of on-demand capacity for now: RunInstances and StartInstances there fail (refuseWithoutCapacity). */
  readonly zonesShortOfCapacity = new Set<string>();
  /**
   * When a short zone gets its capacity back (modelled epoch ms), for a shortage that ends by itself while a heal
   * waits, as EC2's do ("Our system will be working on provisioning additional capacity"); set by shortOfCapacity.
   */
  readonly capacityReturnsAt = new Map<string, number>();
  /** RunInstances and StartInstances calls refused for capacity: how often heals met a shortage. */
  capacityRefusals = 0;
  /**
   * A joined node turns Ready only once the network plugin's pod runs on it: until then the kubelet reports
   * NetworkReady=false and its Node Ready False (pkg/kubelet/nodestatus/setters.go, ReadyCondition). 0 models
   * a plugin whose image the node holds already; a test about the wait sets more.
   */
  networkReadySeconds = 0;
  /** Hooks called on EC2 state changes: how the local control plane plays EventBridge. */
  readonly stateChangeHooks: ((instanceId: string, state: string) => void)[] = [];
  /** Active drill probes and their per-second samples (API and test application reachable or not). */
  readonly probes = new Map<string, { instanceId: string; samples: { at: number; api: boolean; app: boolean; inCluster: boolean }[]; active: boolean; nextSampleAt: number }>();
  /** Hooks called when an execution is started: how the local control plane runs it at once. */
  readonly executionStartedHooks: ((execution: SimExecution) => void)[] = [];
  /** Hooks called after a command is accepted: how tests make things happen mid-step. */
  readonly commandSentHooks: ((document: string, instanceIds: string[]) => void)[] = [];
  /** Hooks called when RunInstances has made an instance: how tests reach a replacement before it boots. */
  readonly instanceLaunchedHooks: ((instance: SimInstance) => void)[] = [];
  /** Hooks called when one instance's command has ended (succeeded or failed), after its effects. */
  readonly commandFinishedHooks: ((invocation: Invocation) => void)[] = [];
  readonly region = 'eu-west-1';
  readonly account = '123456789012';
  /** The customer-managed key the simulated volumes are encrypted with (a replacement must use it too). */
  readonly volumeKmsKeyArn = 'arn:aws:kms:eu-west-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
  private clockMs: number;
  private sequence = 0;
  private networkIds = 0;
  /** The seeded source of every random choice the world makes (ids, durations). */
  readonly randomSource: () => number;

  constructor(options: { seed?: number; startTime?: number } = {}) {
    this.randomSource = seededRandom(options.seed ?? 7);
    this.clockMs = options.startTime ?? Date.parse('2026-11-24T09:00:00Z');
  }

  // ---- building a fleet -------------------------------------------------------------------

  static standard(options: StandardFleetOptions = {}): SimulatedFleet {
    const fleet = new SimulatedFleet({ seed: options.seed ?? 7 });
    const clusterName = options.clusterName ?? 'demo';
    const prefix = options.vpcCidrPrefix ?? '10.0';
    const vpcId = fleet.addVpc(`${prefix}.0.0/16`);
    const zones = ['a', 'b', 'c'].map((letter, index) =>
      fleet.addSubnet(vpcId, `${prefix}.${index * 16}.0/20`, `${fleet.region}${letter}`),
    );
    const add = (role: SimRole, count: number) => {
      for (let index = 0; index < count; index += 1) {
        fleet.addInstance({ clusterName, role, subnetId: zones[index % zones.length] as string });
      }
    };
    fleet.addNatEgress(vpcId);
    fleet.addClusterSecurityGroups();
    add('lb', options.loadBalancers ?? 2);
    add('master', options.masters ?? 3);
    add('worker', options.workers ?? 3);
    fleet.addElasticIp(options.tagElasticIp === false ? {} : { [`kubernetes.io/cluster/${clusterName}`]: 'owned' }, options.elasticIpAllocationId);
    fleet.addClusterSecrets(clusterName);
    return fleet;
  }

  /**
   * A VPC, with the main route table CreateVpc makes for it: one `local` route for the VPC's range, no way out
   * ("When you create a VPC, it automatically has a main route table ... Initially, the main route table (and
   * every route table in a VPC) contains only a local route", https://docs.aws.amazon.com/vpc/latest/userguide/RouteTables.html).
   */
  addVpc(cidr: string): string {
    const vpcId = `vpc-${this.hex(17)}`;
    this.vpcs.set(vpcId, { vpcId, cidrs: [cidr] });
    this.addRouteTable(vpcId, { main: true });
    return vpcId;
  }

  addRouteTable(vpcId: string, options: { main?: boolean; subnetIds?: string[]; routes?: SimRoute[] } = {}): string {
    const vpc = this.vpcs.get(vpcId);
    if (!vpc) throw new Error(`unknown VPC ${vpcId}`);
    const routeTableId = this.networkId('rtb');
    const local = vpc.cidrs.map((destination) => ({ destination, target: 'local' }));
    this.routeTables.set(routeTableId, { routeTableId, vpcId, main: options.main ?? false, subnetIds: options.subnetIds ?? [], routes: [...local, ...(options.routes ?? [])] });
    return routeTableId;
  }

  /** The VPC's main route table. */
  mainRouteTable(vpcId: string): SimRouteTable {
    const table = [...this.routeTables.values()].find((candidate) => candidate.vpcId === vpcId && candidate.main);
    if (!table) throw new Error(`VPC ${vpcId} has no main route table`);
    return table;
  }

  /**
   * The layout README's nodes live in: an internet gateway, a public NAT gateway (with its own public address,
   * 198.51.100.x) in a public subnet whose own route table sends 0.0.0.0/0 to the internet gateway, and the main
   * route table, which the nodes' subnets use for want of their own, sending 0.0.0.0/0 to the NAT gateway. The
   * public subnet holds no kubeha instance, so it is kept out of `subnets`, which tests spread instances over.
   * Returns the NAT gateway's id.
   */
  addNatEgress(vpcId: string): string {
    const internetGatewayId = this.networkId('igw');
    this.internetGateways.set(internetGatewayId, { internetGatewayId, vpcId });
    const publicSubnetId = this.networkId('subnet');
    this.addRouteTable(vpcId, { subnetIds: [publicSubnetId], routes: [{ destination: '0.0.0.0/0', target: internetGatewayId }] });
    const natGatewayId = this.networkId('nat');
    this.natGateways.set(natGatewayId, {
      natGatewayId,
      vpcId,
      subnetId: publicSubnetId,
      state: 'available',
      connectivity: 'public',
      publicIp: `198.51.100.${10 + this.natGateways.size}`,
      allocationId: this.networkId('eipalloc'),
    });
    this.setDefaultRoute(this.mainRouteTable(vpcId).routeTableId, natGatewayId);
    return natGatewayId;
  }

  /** Points a route table's 0.0.0.0/0 at a gateway (`igw-…`, `nat-…`), or removes it (undefined). */
  setDefaultRoute(routeTableId: string, target: string | undefined): void {
    const table = this.routeTables.get(routeTableId);
    if (!table) throw new Error(`unknown route table ${routeTableId}`);
    table.routes = [...table.routes.filter((route) => route.destination !== '0.0.0.0/0'), ...(target ? [{ destination: '0.0.0.0/0', target }] : [])];
  }

  /**
   * The public addresses an instance's connections to a public `destination` leave from, as AWS routes them: its
   * subnet's route table (explicit association, else the main table), the most specific route covering the
   * address, then a public NAT gateway's address or, through an internet gateway, the instance's own public IP.
   * Empty when there is no way there: no route, a blackhole, or an internet gateway and no public IP (the
   * gateway translates only instances that have one, https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Internet_Gateway.html).
   */
  egressAddresses(instance: SimInstance, destination: string): string[] {
    const tables = [...this.routeTables.values()].filter((table) => table.vpcId === instance.vpcId);
    const table = tables.find((candidate) => candidate.subnetIds.includes(instance.subnetId)) ?? tables.find((candidate) => candidate.main);
    const route = (table?.routes ?? [])
      .filter((candidate) => containsAddress(candidate.destination, destination))
      .sort((a, b) => Number(b.destination.split('/')[1]) - Number(a.destination.split('/')[1]))[0];
    if (!route || this.routeState(route) !== 'active') return [];
    if (route.target.startsWith('nat-')) {
      const nat = this.natGateways.get(route.target);
      return nat?.connectivity === 'public' && nat.publicIp ? [nat.publicIp] : [];
    }
    if (route.target.startsWith('igw-')) return instance.publicIp ? [instance.publicIp] : [];
    return [];
  }

  /**
   * Why `kubeadm join` on `instance` cannot reach the control-plane `endpoint` (host:port), or undefined when it can
   * (or when the path is not one modelled here). Modelled: an endpoint that is an Elastic IP of the fleet, or a
   * name (README has controlPlaneDnsName resolve to the cluster's Elastic IP), held by an instance. The node's
   * connection arrives there from its egress address (egressAddresses), which only a CIDR rule of the holder's
   * security groups on the port can admit: a rule naming a group matches private addresses only
   * (shared/reality.md, "Networking on AWS"). Refused traffic is dropped, not reset, so kubeadm's discovery dials
   * time out, are retried until its discovery timeout (5 minutes by default) and the join fails with the last one.
   */
  joinEndpointProblem(instance: SimInstance, endpoint: string): string | undefined {
    const separator = endpoint.lastIndexOf(':');
    const host = endpoint.slice(0, separator);
    const port = Number(endpoint.slice(separator + 1));
    const addresses = [...this.addresses.values()];
    const address = /^\d+\.\d+\.\d+\.\d+$/.test(host)
      ? addresses.find((candidate) => candidate.publicIp === host)
      : addresses.find((candidate) => candidate.tags[`kubernetes.io/cluster/${this.clusterNameOf(instance)}`] === 'owned');
    const holder = address?.instanceId ? this.instances.get(address.instanceId) : undefined;
    if (!address || !holder) return undefined;
    const rules = holder.securityGroupIds.flatMap((group) => this.securityGroups.get(group) ?? []);
    const admits = (source: string) =>
      rules.some((rule) => (rule.protocol === '-1' || (rule.protocol === 'tcp' && (rule.fromPort ?? 0) <= port && (rule.toPort ?? 65535) >= port)) && rule.cidrs.some((cidr) => containsAddress(cidr, source)));
    const sources = this.egressAddresses(instance, address.publicIp);
    if (sources.length > 0 && sources.every(admits)) return undefined;
    return `error execution phase preflight: couldn't validate the identity of the API Server: failed to request the cluster-info ConfigMap: Get "https://${endpoint}/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s": dial tcp ${address.publicIp}:${port}: i/o timeout`;
  }

  /** DescribeRouteTables' Route.State: `blackhole` once the target is gone (a NAT gateway not available, a detached gateway). */
  routeState(route: SimRoute): 'active' | 'blackhole' {
    if (route.target.startsWith('nat-')) return this.natGateways.get(route.target)?.state === 'available' ? 'active' : 'blackhole';
    if (route.target.startsWith('igw-')) return this.internetGateways.has(route.target) ? 'active' : 'blackhole';
    return 'active';
  }

  addSubnet(vpcId: string, cidr: string, availabilityZone: string): string {
    const subnetId = `subnet-${this.hex(17)}`;
    this.subnets.set(subnetId, { subnetId, vpcId, cidr, availabilityZone });
    return subnetId;
  }

  /**
   * The security groups README tells users to create, one per role (`sg-<role>0000000000001`): every path
   * the cluster needs, private addresses only, and the API on the load balancers from anywhere.
   */
  addClusterSecurityGroups(): void {
    const masters = 'sg-master0000000000001';
    const workers = 'sg-worker0000000000001';
    const lbs = 'sg-lb0000000000001';
    const tcp = (port: number, to: number, sources: string[]) => ({ protocol: 'tcp', fromPort: port, toPort: to, sourceGroupIds: sources, cidrs: [] as string[] });
    const nodes = [masters, workers];
    this.securityGroups.set(masters, [tcp(6443, 6443, [masters, workers, lbs]), tcp(2379, 2380, [masters]), tcp(10250, 10250, [masters]), tcp(179, 179, nodes), { protocol: '4', sourceGroupIds: nodes, cidrs: [] }]);
    this.securityGroups.set(workers, [tcp(10250, 10250, [masters]), tcp(179, 179, nodes), { protocol: '4', sourceGroupIds: nodes, cidrs: [] }]);
    this.securityGroups.set(lbs, [{ ...tcp(6443, 6443, nodes), cidrs: ['0.0.0.0/0'] }, { protocol: '112', sourceGroupIds: [lbs], cidrs: [] }]);
  }

  /** What `sls deploy` of stage LOCAL_STAGE creates for each name in the clusters parameter. */
  addClusterSecrets(clusterName: string): void {
    const tags = { 'kubeha:cluster': clusterName };
    this.putSecretValue(this.createSecret(joinSecretName(clusterName, 'worker', LOCAL_STAGE), tags).arn, '{"token":""}');
    this.putSecretValue(this.createSecret(joinSecretName(clusterName, 'control-plane', LOCAL_STAGE), tags).arn, '{"token":"","certificateKey":""}');
    this.putSecretValue(this.createSecret(kubeconfigSecretName(clusterName, LOCAL_STAGE), tags).arn, 'not written yet');
    this.putSecretValue(this.createSecret(encryptionSecretName(LOCAL_STAGE, clusterName), tags).arn, '{"keys":[]}');
  }

  addElasticIp(tags: Record<string, string> = {}, allocationId = `eipalloc-${this.hex(17)}`): string {
    this.addresses.set(allocationId, { allocationId, publicIp: `203.0.113.${10 + this.addresses.size}`, tags });
    return allocationId;
  }

  addInstance(spec: { clusterName: string; role?: SimRole; subnetId: string; privateIp?: string; extraTags?: Record<string, string> }): SimInstance {
    const subnet = this.subnets.get(spec.subnetId);
    if (!subnet) throw new Error(`unknown subnet ${spec.subnetId}`);
    const instance: SimInstance = {
      instanceId: `i-${this.hex(17)}`,
      state: 'running',
      tags: {
        [`kubernetes.io/cluster/${spec.clusterName}`]: 'owned',
        ...(spec.role ? { 'kubeha:role': spec.role } : {}),
        Name: `${spec.clusterName}-${spec.role ?? 'node'}-${this.instances.size + 1}`,
        ...spec.extraTags,
      },
      privateIp: spec.privateIp ?? this.freeAddress(subnet.cidr),
      subnetId: subnet.subnetId,
      vpcId: subnet.vpcId,
      availabilityZone: subnet.availabilityZone,
      launchTime: new Date(this.clockMs - 3600_000 + this.instances.size * 1000),
      ssmOnline: true,
      ssmRegisteredAt: this.clockMs - 3600_000,
      imageId: 'ami-0kubeha0ubuntu2404',
      instanceType: spec.role === 'lb' ? 't3.small' : 't3.medium',
      securityGroupIds: [`sg-${spec.role ?? 'node'}0000000000001`],
      iamInstanceProfileArn: `arn:aws:iam::${this.account}:instance-profile/kubeha-local-${spec.clusterName}-${spec.role ?? 'node'}`,
      volumes: [{ volumeId: `vol-${this.hex(17)}`, deviceName: '/dev/sda1', size: spec.role === 'lb' ? 20 : 50, deleted: false }],
      metadataOptions: { ...SECURE_METADATA_OPTIONS },
      node: { documentsRun: [] },
    };
    this.instances.set(instance.instanceId, instance);
    return instance;
  }

  /**
   * Joined, Ready workers added to a bootstrapped cluster at once, spread over the subnets: how tests
   * and the bench make a large cluster without joining each node. Returns their instance ids.
   */
  addJoinedWorkers(clusterName: string, count: number): string[] {
    const cluster = this.requireCluster(clusterName);
    const subnets = [...this.subnets.keys()];
    return Array.from({ length: count }, (_, index) => {
      const worker = this.addInstance({ clusterName, role: 'worker', subnetId: subnets[index % subnets.length]!, extraTags: { 'kubeha:node-state': 'joined' } });
      worker.node.kubeadm = 'worker';
      worker.node.proxy = { upstreams: this.byRole('master').filter((master) => master.node.kubeadm === 'control-plane').map((master) => master.privateIp), reloads: 1 };
      worker.tags['kubeha:upstreams'] = worker.node.proxy.upstreams.join(' ');
      cluster.nodes.push({ name: `ip-${worker.privateIp.replaceAll('.', '-')}`, instanceId: worker.instanceId, role: 'worker', ready: true });
      return worker.instanceId;
    });
  }

  get elasticIpAllocationId(): string {
    const first = [...this.addresses.keys()][0];
    if (!first) throw new Error('the fleet has no Elastic IP');
    return first;
  }

  byRole(role: SimRole): SimInstance[] {
    return [...this.instances.values()].filter((instance) => instance.tags['kubeha:role'] === role && instance.state !== 'terminated');
  }

  // ---- time, faults, recording ------------------------------------------------------------

  now(): number {
    return this.clockMs;
  }

  advance(seconds: number): void {
    const target = this.clockMs + Math.round(seconds * 1000);
    // A probe samples once a second: stop at each second boundary on the way while one runs.
    for (;;) {
      const next = Math.min(...[...this.probes.values()].filter((probe) => probe.active).map((probe) => probe.nextSampleAt));
      if (!Number.isFinite(next) || next > target) break;
      this.clockMs = next;
      this.settleLifecycles();
      const api = this.apiAnswers();
      const app = this.appAnswers();
      for (const probe of this.probes.values()) {
        if (probe.active && probe.nextSampleAt === next) {
          probe.samples.push({ at: next, api, app, inCluster: this.apiAnswersInCluster(probe.instanceId) });
          probe.nextSampleAt += 1000;
        }
      }
    }
    this.clockMs = target;
  }

  /** Would /readyz through the Elastic IP answer now? Its holder must be a running load balancer whose nginx reaches a live master, and etcd must have quorum. */
  apiAnswers(): boolean {
    for (const address of this.addresses.values()) {
      if (!address.instanceId || (address.effectiveAt ?? 0) > this.clockMs) continue;
      const holder = this.instances.get(address.instanceId);
      if (holder && this.apiAnswersThrough(holder)) return true;
    }
    return false;
  }

  /** Would a client reach a live API server through this load balancer's nginx (not hung, an upstream alive)? */
  apiAnswersThrough(balancer: SimInstance): boolean {
    if (balancer.state !== 'running' || !balancer.node.nginx || balancer.node.nginx.hung) return false;
    const cluster = this.clusters.get(this.clusterNameOf(balancer));
    return cluster !== undefined && balancer.node.nginx.upstreams.some((ip) => this.liveApiServerAt(cluster, ip));
  }

  /**
   * Would /readyz on https://127.0.0.1:6443 of this node answer now: what its kubelet and kube-proxy see.
   * A worker asks its local proxy, which reaches any live master it names (nginx skips a refused
   * upstream, test/scripts/node-proxy.test.ts); a master asks its own API server. No load balancer, no
   * Elastic IP in the way.
   */
  apiAnswersInCluster(instanceId: string): boolean {
    const instance = this.instances.get(instanceId);
    if (instance?.state !== 'running') return false;
    const cluster = this.clusters.get(this.clusterNameOf(instance));
    if (!cluster) return false;
    if (instance.node.kubeadm === 'control-plane') return this.liveApiServerAt(cluster, instance.privateIp);
    return (instance.node.proxy?.upstreams ?? []).some((ip) => this.liveApiServerAt(cluster, ip));
  }

  /** A running master at this address whose API server serves: its etcd member is healthy and etcd has quorum. */
  private liveApiServerAt(cluster: KubeCluster, ip: string): boolean {
    if (!this.hasQuorum(cluster)) return false;
    return [...this.instances.values()].some(
      (instance) => instance.privateIp === ip && instance.state === 'running' && instance.node.kubeadm === 'control-plane' && cluster.etcdMembers.some((member) => member.instanceId === instance.instanceId && member.healthy),
    );
  }

  /** nginx on this load balancer hangs (a test's fault): keepalived and EC2 see nothing wrong. */
  hangNginx(instanceId: string): void {
    const nginx = this.requireInstance(instanceId).node.nginx;
    if (!nginx) throw new Error(`${instanceId} runs no nginx`);
    nginx.hung = true;
    this.history.push({ at: this.clockMs, what: `nginx hung on ${instanceId}` });
  }

  /** Would the test application answer? Its replicas spread over workers; any Ready worker serves it. */
  appAnswers(): boolean {
    return [...this.clusters.values()].some((cluster) => cluster.testApp && cluster.nodes.some((node) => node.role === 'worker' && node.ready && this.instances.get(node.instanceId)?.state === 'running'));
  }

  /** `skip`: that many matching runs succeed before the fault fires (a failure later in a workflow). */
  failDocument(fault: { document: string; instanceId?: string; times?: number; stderr?: string; skip?: number; leavesUnstartedLearner?: true }): void {
    this.faults.push({
      document: fault.document,
      ...(fault.instanceId ? { instanceId: fault.instanceId } : {}),
      ...(fault.skip ? { skip: fault.skip } : {}),
      ...(fault.leavesUnstartedLearner ? { leavesUnstartedLearner: true as const } : {}),
      remaining: fault.times ?? 1,
      stderr: fault.stderr ?? `error execution phase: injected failure of ${fault.document}`,
    });
  }

  /**
   * A fault: the next `times` runs of the document (on that instance) hang, as a script stuck on a lock or a
   * network call does, until the agent stops them at the command's execution timeout: Status TimedOut, "Command
   * execution started on the managed node, but the execution wasn't complete before the execution timeout expired"
   * (Systems Manager User Guide, "Understanding command statuses"), with nothing the script would have done.
   */
  hangDocument(fault: { document: string; instanceId?: string; times?: number }): void {
    this.hangingDocuments.push({ document: fault.document, ...(fault.instanceId ? { instanceId: fault.instanceId } : {}), remaining: fault.times ?? 1 });
  }

  /** Whether a run of the document on the instance, sent now, hangs (and counts it). */
  takeHang(document: string, instanceId: string): boolean {
    const hang = this.hangingDocuments.find((candidate) => candidate.remaining > 0 && candidate.document === document && (!candidate.instanceId || candidate.instanceId === instanceId));
    if (!hang) return false;
    hang.remaining -= 1;
    return true;
  }

  /** A fault: every call of this operation takes this many more modelled seconds (an API that hangs). */
  slowDown(operation: string, seconds: number): void {
    this.slowCalls.set(operation, seconds);
  }

  throttle(operation: string, times: number): void {
    this.throttles.set(operation, times);
  }

  /**
   * Opt-in: throttles every API as AWS does, with a token bucket per account, Region and API. EC2: "each
   * API is evaluated individually ... each request removes one token from the API's bucket", the bucket
   * refills at a set rate up to its maximum, and a request to an empty bucket fails with RequestLimitExceeded
   * (docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html); Systems Manager and the other services
   * answer ThrottlingException ("Rate exceeded", docs.aws.amazon.com/general/latest/gr/ssm.html for its
   * quotas). `bucketOf` gives each API's bucket (bench/rate-limits.ts); an API without one is not throttled.
   */
  limitRates(bucketOf: RateBucketOf): void {
    this.rateBuckets = { bucketOf, state: new Map(), throttled: 0 };
  }

  /** Calls answered with a throttling error by limitRates' buckets. */
  get rateLimitedCalls(): number {
    return this.rateBuckets?.throttled ?? 0;
  }

  private takeToken(service: string, operation: string): void {
    const limits = this.rateBuckets;
    const bucket = limits?.bucketOf(service, operation);
    if (!limits || !bucket) return;
    const key = `${service}:${operation}`;
    const before = limits.state.get(key) ?? { tokens: bucket.burst, at: this.clockMs };
    const tokens = Math.min(bucket.burst, before.tokens + ((this.clockMs - before.at) / 1000) * bucket.perSecond);
    if (tokens < 1) {
      limits.state.set(key, { tokens, at: this.clockMs });
      limits.throttled += 1;
      throw new AwsError(service === 'ec2' ? 'RequestLimitExceeded' : 'ThrottlingException', `Rate exceeded for ${operation}`);
    }
    limits.state.set(key, { tokens: tokens - 1, at: this.clockMs });
  }

  /** The instance has stopped (a test's act): stopping and stopped in one step. */
  stopInstance(instanceId: string): void {
    this.beginTakeDown(instanceId, 'stopped');
    this.finishTakeDown(instanceId);
  }

  /** The instance has died (a test's act): its etcd member stays in the list, unhealthy; EC2 releases its Elastic IP and volumes. */
  terminateInstance(instanceId: string): void {
    this.beginTakeDown(instanceId, 'terminated');
    this.finishTakeDown(instanceId);
  }

  /** StopInstances: `stopping` for STOP_SECONDS, then `stopped`. Stopping a stopped instance succeeds and changes nothing. */
  requestStop(instanceId: string): void {
    const instance = this.requireInstance(instanceId);
    if (instance.state === 'terminated' || instance.state === 'shutting-down') throw new AwsError('IncorrectInstanceState', `The instance '${instanceId}' is not in a state from which it can be stopped.`);
    if (instance.state === 'stopped' || instance.state === 'stopping') return;
    this.beginTakeDown(instanceId, 'stopped');
  }

  /** TerminateInstances: `shutting-down` for SHUTDOWN_SECONDS, then `terminated`. */
  requestTerminate(instanceId: string): void {
    const instance = this.requireInstance(instanceId);
    if (instance.state === 'terminated' || instance.state === 'shutting-down') return;
    this.beginTakeDown(instanceId, 'terminated');
  }

  private beginTakeDown(instanceId: string, target: 'stopped' | 'terminated'): void {
    const instance = this.requireInstance(instanceId);
    if (instance.state === target || instance.state === (target === 'stopped' ? 'stopping' : 'shutting-down')) return;
    instance.state = target === 'stopped' ? 'stopping' : 'shutting-down';
    instance.settlesAt = this.clockMs + (target === 'stopped' ? STOP_SECONDS : SHUTDOWN_SECONDS) * 1000;
    instance.ssmOnline = false;
    delete instance.bootsAt;
    delete instance.recoversAt;
    for (const cluster of this.clusters.values()) {
      for (const member of cluster.etcdMembers) if (member.instanceId === instanceId) member.healthy = false;
      for (const node of cluster.nodes) if (node.instanceId === instanceId) node.ready = false;
    }
    for (const probe of this.probes.values()) if (probe.instanceId === instanceId) probe.active = false;
    this.scheduleKeepalivedTakeover(instance);
    for (const hook of this.stateChangeHooks) hook(instanceId, instance.state);
  }

  private finishTakeDown(instanceId: string): void {
    const instance = this.requireInstance(instanceId);
    if (instance.state !== 'stopping' && instance.state !== 'shutting-down') return;
    const state = instance.state === 'stopping' ? 'stopped' : 'terminated';
    delete instance.settlesAt;
    instance.state = state;
    instance.ssmOnline = false;
    if (state === 'terminated') {
      instance.terminatedAt = this.clockMs;
      for (const address of this.addresses.values()) if (address.instanceId === instanceId) delete address.instanceId;
      delete instance.publicIp;
      for (const volume of instance.volumes) volume.deleted = true;
    }
    delete instance.bootsAt;
    delete instance.recoversAt;
    for (const cluster of this.clusters.values()) {
      for (const member of cluster.etcdMembers) if (member.instanceId === instanceId) member.healthy = false;
      for (const node of cluster.nodes) if (node.instanceId === instanceId) node.ready = false;
    }
    for (const invocation of this.invocations) {
      if (invocation.instanceId !== instanceId) continue;
      // A stopped node's commands stay Delayed (SSM tries again when it is back); a terminated one's cannot be delivered.
      if ((invocation.status === 'Pending' || invocation.status === 'Delayed') && state !== 'stopped') invocation.status = 'Undeliverable';
      if (invocation.status === 'InProgress') {
        invocation.status = 'Failed';
        invocation.stderr = `the instance ${state === 'stopped' ? 'stopped' : 'was terminated'} while the command ran`;
      }
    }
    this.history.push({ at: this.clockMs, what: `${instance.tags['kubeha:role'] ?? 'instance'} ${instanceId} ${state}` });
    for (const hook of this.stateChangeHooks) hook(instanceId, state);
  }

  /** The instance keeps running but its kubelet and etcd member are wedged: only reconcile can notice. */
  wedgeNode(instanceId: string): void {
    this.neverRecovers.add(instanceId);
    for (const cluster of this.clusters.values()) {
      for (const member of cluster.etcdMembers) if (member.instanceId === instanceId) member.healthy = false;
      for (const node of cluster.nodes) if (node.instanceId === instanceId) node.ready = false;
    }
  }

  /** StartInstances: refused while stopping or after termination; a no-op on pending and running instances. */
  startInstance(instanceId: string): void {
    const instance = this.requireInstance(instanceId);
    if (instance.state === 'terminated' || instance.state === 'shutting-down' || instance.state === 'stopping') {
      throw new AwsError('IncorrectInstanceState', `The instance '${instanceId}' is not in a state from which it can be started.`);
    }
    if (instance.state !== 'stopped') return;
    this.refuseWithoutCapacity(instance.instanceType, instance.availabilityZone);
    instance.state = 'pending';
    instance.bootsAt = this.clockMs + BOOT_SECONDS * 1000;
    this.history.push({ at: this.clockMs, what: `started ${instanceId}` });
  }

  /**
   * The load balancer holding the Elastic IP is shutting down: its keepalived stops cleanly, and the peer's
   * claims the address after a measured detection time plus one API round trip (sim/load-balancer.ts).
   */
  private scheduleKeepalivedTakeover(instance: SimInstance): void {
    const keepalived = instance.node.keepalived;
    if (!keepalived) return;
    const address = this.addresses.get(keepalived.elasticIpAllocationId);
    if (address?.instanceId !== instance.instanceId) return;
    const peer = [...this.instances.values()].find((candidate) => candidate.state === 'running' && candidate.node.keepalived && keepalived.peers.includes(candidate.privateIp));
    if (!peer) return;
    const seconds = keepalivedDetectionSeconds('gracefulStop', `${instance.instanceId}@${this.clockMs}`) + API_CALL_SECONDS;
    this.keepalivedClaims.push({ allocationId: keepalived.elasticIpAllocationId, instanceId: peer.instanceId, atMs: this.clockMs + Math.round(seconds * 1000) });
  }

  /**
   * From now on the instance's agent cannot reach SSM. An agent that registered earlier (a standby, a node
   * started again) stays registered, and from its next boot it is ConnectionLost, so
   * commands sent to it stay Delayed until their delivery timeout. One cut off before its first registration
   * never registers: SSM does not know it, DescribeInstanceInformation leaves it out and SendCommand refuses it
   * with InvalidInstanceId ("SSM Agent isn't registered with the SSM endpoint", SSM API reference, InvalidInstanceId).
   */
  cutAgentOff(instanceId: string): void {
    const instance = this.requireInstance(instanceId);
    instance.agentCutOffAt ??= this.clockMs;
  }

  /** Applies what modelled time has brought: instances that finished booting, kubelets that came back, keepalived's claims. */
  settleLifecycles(): void {
    for (const claim of this.keepalivedClaims.filter((candidate) => candidate.atMs <= this.clockMs)) {
      this.keepalivedClaims.splice(this.keepalivedClaims.indexOf(claim), 1);
      if (this.instances.get(claim.instanceId)?.state !== 'running') continue;
      this.associateAddress(claim.allocationId, claim.instanceId, true, claim.atMs);
    }
    for (const instance of this.instances.values()) {
      if (instance.settlesAt !== undefined && instance.settlesAt <= this.clockMs) this.finishTakeDown(instance.instanceId);
      if (instance.state === 'pending' && instance.bootsAt !== undefined && instance.bootsAt <= this.clockMs) {
        instance.state = 'running';
        instance.ssmOnline = instance.agentCutOffAt === undefined;
        if (instance.ssmOnline) instance.onlineSince = instance.bootsAt;
        delete instance.bootsAt;
        if (instance.node.kubeadm && !this.neverRecovers.has(instance.instanceId)) instance.recoversAt = this.clockMs + KUBELET_RECOVERY_SECONDS * 1000;
      }
      if (instance.recoversAt !== undefined && instance.recoversAt <= this.clockMs && instance.state === 'running') {
        delete instance.recoversAt;
        for (const cluster of this.clusters.values()) {
          for (const member of cluster.etcdMembers) if (member.instanceId === instance.instanceId && !member.unstartedLearner) member.healthy = true;
          for (const node of cluster.nodes) if (node.instanceId === instance.instanceId) node.ready = Boolean(cluster.cni);
        }
      }
      // Past its certificates' expiry a master's etcd peers refuse its peer certificate and its API server
      // cannot reach etcd (apiserver-etcd-client): its member is down until `kubeadm certs renew` and a
      // restart of the static pods; a reboot does not help (kubeadm#2652, kubeadm-certs "Manual certificate renewal").
      if (instance.node.certificatesExpireAt !== undefined && instance.node.certificatesExpireAt <= this.clockMs) {
        for (const cluster of this.clusters.values()) for (const member of cluster.etcdMembers) if (member.instanceId === instance.instanceId) member.healthy = false;
      }
    }
  }

  /** Makes a zone short of capacity from now, for `seconds` of modelled time (until cleared by hand without). */
  shortOfCapacity(availabilityZone: string, seconds?: number): void {
    this.zonesShortOfCapacity.add(availabilityZone);
    if (seconds === undefined) this.capacityReturnsAt.delete(availabilityZone);
    else this.capacityReturnsAt.set(availabilityZone, this.clockMs + seconds * 1000);
  }

  /**
   * EC2 refuses to launch or to start an instance in a zone short of its type's on-demand capacity, and the
   * instance stays stopped ("If you get an InsufficientInstanceCapacity error when you try to launch an instance
   * or restart a stopped instance, AWS does not currently have enough available On-Demand capacity", EC2 User
   * Guide, "Troubleshoot Amazon EC2 instance launch issues"; AWS Instance Scheduler, "Handling EC2 Insufficient
   * Capacity Errors", a start that fails for capacity). The message is EC2's.
   */
  private refuseWithoutCapacity(instanceType: string, availabilityZone: string): void {
    const returnsAt = this.capacityReturnsAt.get(availabilityZone);
    if (returnsAt !== undefined && this.clockMs >= returnsAt) {
      this.zonesShortOfCapacity.delete(availabilityZone);
      this.capacityReturnsAt.delete(availabilityZone);
    }
    if (!this.zonesShortOfCapacity.has(availabilityZone)) return;
    this.capacityRefusals += 1;
    const error = new AwsError(
      'InsufficientInstanceCapacity',
      `We currently do not have sufficient ${instanceType} capacity in the Availability Zone you requested (${availabilityZone}). Our system will be working on provisioning additional capacity. You can currently get ${instanceType} capacity by not specifying an Availability Zone in your request or choosing a different Availability Zone.`,
    );
    // A server error, with a 5xx status (EC2 API reference, "Error codes for the Amazon EC2 API").
    throw Object.assign(error, { $metadata: { httpStatusCode: 500 } });
  }

  /** RunInstances: a fresh instance from a spec; the client token returns the same instance on a retry. */
  runInstance(request: {
    imageId: string;
    instanceType: string;
    subnetId: string;
    securityGroupIds: string[];
    iamInstanceProfileArn?: string | undefined;
    privateIp?: string | undefined;
    clientToken?: string | undefined;
    tags: Record<string, string>;
    volumeSizes: number[];
    metadataOptions?: SimMetadataOptions | undefined;
  }): SimInstance {
    const known = request.clientToken ? this.launchTokens.get(request.clientToken) : undefined;
    if (known) return this.requireInstance(known);
    const subnet = this.subnets.get(request.subnetId);
    if (!subnet) throw new AwsError('InvalidSubnetID.NotFound', `The subnet ID '${request.subnetId}' does not exist`);
    this.refuseWithoutCapacity(request.instanceType, subnet.availabilityZone);
    const holdsAddress = (instance: SimInstance) => instance.state !== 'terminated' || this.clockMs - (instance.terminatedAt ?? 0) < this.addressReleaseSeconds * 1000;
    if (request.privateIp && [...this.instances.values()].some((instance) => instance.privateIp === request.privateIp && holdsAddress(instance))) {
      throw new AwsError('InvalidIPAddress.InUse', `Address ${request.privateIp} is in use.`);
    }
    const clusterName = Object.keys(request.tags).find((key) => key.startsWith('kubernetes.io/cluster/'))?.slice('kubernetes.io/cluster/'.length) ?? 'unknown';
    const instance = this.addInstance({ clusterName, subnetId: subnet.subnetId, ...(request.privateIp ? { privateIp: request.privateIp } : {}), extraTags: request.tags });
    // RunInstances tags an instance with what it was asked for and nothing else (an image builder has no cluster tag).
    if (clusterName === 'unknown') instance.tags = { ...request.tags };
    Object.assign(instance, {
      state: 'pending',
      ssmOnline: false,
      bootsAt: this.clockMs + BOOT_SECONDS * 1000,
      ssmRegisteredAt: this.clockMs + (BOOT_SECONDS + this.agentRegistrationSeconds) * 1000,
      launchTime: new Date(this.clockMs),
      launchedByApiAt: this.clockMs,
      imageId: request.imageId,
      instanceType: request.instanceType,
      securityGroupIds: request.securityGroupIds,
      iamInstanceProfileArn: request.iamInstanceProfileArn ?? '',
      volumes: request.volumeSizes.map((size, index) => ({ volumeId: `vol-${this.hex(17)}`, deviceName: index === 0 ? '/dev/sda1' : `/dev/sd${'bcdefg'[index - 1]}`, size, deleted: false })),
      // Without MetadataOptions RunInstances applies its documented defaults (HttpTokens optional, hop limit 1,
      // endpoint enabled; an AMI registered with ImdsSupport v2.0 or an account default can change that).
      metadataOptions: request.metadataOptions ?? { httpTokens: 'optional', hopLimit: 1, httpEndpoint: 'enabled' },
    });
    // An instance launched from a prepared image starts with what its builder installed and pulled.
    const image = this.images.get(request.imageId);
    if (image && (image.state === 'available' || (image.state === 'pending' && image.settlesTo === 'available' && image.availableAt <= this.clockMs))) Object.assign(instance.node, structuredClone(image.baked));
    // Only a launch that succeeded binds its token: "If you retry a request that completed successfully using the
    // same client token and the same parameters, the retry succeeds without performing any further actions" (EC2
    // Developer Guide, "Ensuring idempotency in Amazon EC2 API requests"). A refusal for capacity, a server error,
    // binds nothing, so a heal waiting for capacity tries again with the same token.
    if (request.clientToken) this.launchTokens.set(request.clientToken, instance.instanceId);
    this.history.push({ at: this.clockMs, what: `launched ${instance.instanceId} at ${instance.privateIp}${request.tags['kubeha:replaces'] ? ` to replace ${request.tags['kubeha:replaces']}` : ''}` });
    for (const hook of this.instanceLaunchedHooks) hook(instance);
    return instance;
  }

  // ---- Step Functions and SNS ------------------------------------------------------------------

  startExecution(stateMachineArn: string, name: string, input: string): SimExecution {
    const stateMachine = stateMachineArn.split(':').at(-1) ?? '';
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      const open = existing.status === 'PENDING' || existing.status === 'RUNNING';
      if (open && JSON.stringify(existing.input) === input) return existing;
      throw new AwsError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const execution: SimExecution = { executionArn, stateMachine, name, input: JSON.parse(input) as unknown, status: 'PENDING', startedAt: this.clockMs };
    this.executions.set(executionArn, execution);
    this.history.push({ at: this.clockMs, what: `${stateMachine.replace(/^kubeha-local-/, '')} started (${name})` });
    for (const hook of this.executionStartedHooks) hook(execution);
    return execution;
  }

  publish(subject: string, message: string): void {
    this.notifications.push({ subject, message, at: this.clockMs });
  }

  /**
   * How a call's round trip passes in modelled time. Unset, the call moves the world's clock itself, so
   * calls made side by side add up. A discrete-event clock (sim/modelled-time.ts) sets it to a sleep of
   * the calling chain, so that concurrent Lambdas' calls overlap, as they do against AWS.
   */
  callLatency: ((seconds: number) => Promise<void>) | undefined;

  /** Every call is recorded, and may be throttled by an injected fault. */
  async recordAfterLatency(service: RecordedCall['service'], operation: string, input: unknown): Promise<void> {
    if (!this.callLatency) return this.record(service, operation, input);
    stopIfTimedOut();
    const seconds = API_CALL_SECONDS + (this.slowCalls.get(operation) ?? 0);
    charge(seconds * 1000);
    await this.callLatency(seconds);
    this.recorded(service, operation, input);
  }

  /** Every call is recorded, and may be throttled by an injected fault. */
  record(service: RecordedCall['service'], operation: string, input: unknown): void {
    stopIfTimedOut();
    const seconds = API_CALL_SECONDS + (this.slowCalls.get(operation) ?? 0);
    this.advance(seconds);
    charge(seconds * 1000);
    this.recorded(service, operation, input);
  }

  private recorded(service: RecordedCall['service'], operation: string, input: unknown): void {
    this.settleLifecycles();
    const by = runningFunction();
    this.calls.push({ service, operation, input: structuredClone(input), at: this.clockMs, ...(by ? { by } : {}) });
    const remaining = this.throttles.get(operation) ?? 0;
    if (remaining > 0) {
      this.throttles.set(operation, remaining - 1);
      throw new AwsError('ThrottlingException', `Rate exceeded for ${operation}`);
    }
    this.takeToken(service, operation);
  }

  // ---- EC2 ----------------------------------------------------------------------------------

  /** EC2 forgets a terminated instance about an hour after it terminated. */
  /** Launched by RunInstances so recently that DescribeInstances does not know it yet (describeLagSeconds). */
  isPropagating(instance: SimInstance): boolean {
    return instance.launchedByApiAt !== undefined && this.clockMs - instance.launchedByApiAt < this.describeLagSeconds * 1000;
  }

  isForgotten(instance: SimInstance): boolean {
    return instance.terminatedAt !== undefined && this.clockMs - instance.terminatedAt >= this.terminatedRetentionSeconds * 1000;
  }

  describeInstances(filters: { Name?: string; Values?: string[] }[] = [], instanceIds: string[] = []): SimInstance[] {
    return [...this.instances.values()].filter((instance) => {
      if (this.isForgotten(instance) || this.isPropagating(instance)) return false;
      if (instanceIds.length > 0 && !instanceIds.includes(instance.instanceId)) return false;
      return filters.every((filter) => {
        const values = filter.Values ?? [];
        if (filter.Name === 'instance-state-name') return values.includes(instance.state);
        if (filter.Name?.startsWith('tag:')) {
          const value = instance.tags[filter.Name.slice(4)];
          return value !== undefined && values.includes(value);
        }
        if (filter.Name === 'tag-key') return values.some((key) => key in instance.tags);
        throw new AwsError('InvalidParameterValue', `filter ${filter.Name} is not modelled`);
      });
    });
  }

  /** AssociateAddress; `atMs` is when the call was made, for a keepalived claim applied after its moment. */
  associateAddress(allocationId: string, instanceId: string, allowReassociation: boolean, atMs = this.clockMs): void {
    const address = this.addresses.get(allocationId);
    if (!address) throw new AwsError('InvalidAllocationID.NotFound', `The allocation ID '${allocationId}' does not exist`);
    const instance = this.requireInstance(instanceId);
    if (instance.state !== 'running' && instance.state !== 'stopped') {
      throw new AwsError('IncorrectInstanceState', `The instance '${instanceId}' is not in a valid state for this operation.`);
    }
    if (address.instanceId && address.instanceId !== instanceId && !allowReassociation) {
      throw new AwsError('Resource.AlreadyAssociated', `resource ${allocationId} is already associated`);
    }
    for (const other of this.instances.values()) {
      if (other.publicIp === address.publicIp) delete other.publicIp;
    }
    // NGINX's AWS HA guide measures 5-6 seconds for an Elastic IP move to take effect.
    if (address.instanceId !== instanceId) {
      address.effectiveAt = atMs + EIP_MOVE_SECONDS * 1000;
      this.history.push({ at: atMs, what: `Elastic IP ${address.publicIp} moved to ${instanceId}` });
    }
    address.instanceId = instanceId;
    instance.publicIp = address.publicIp;
  }

  createTags(resourceIds: string[], tags: Record<string, string>): void {
    for (const resourceId of resourceIds) {
      const instance = this.instances.get(resourceId);
      if (!instance) throw new AwsError('InvalidInstanceID.NotFound', `The instance ID '${resourceId}' does not exist`);
      Object.assign(instance.tags, tags);
    }
  }

  /** DeleteTags: a tag given without a value goes whatever its value; with one, only when it matches. */
  deleteTags(resourceIds: string[], tags: { key: string; value?: string }[]): void {
    for (const resourceId of resourceIds) {
      const instance = this.instances.get(resourceId);
      if (!instance) throw new AwsError('InvalidInstanceID.NotFound', `The instance ID '${resourceId}' does not exist`);
      for (const tag of tags) if (tag.value === undefined || instance.tags[tag.key] === tag.value) delete instance.tags[tag.key];
    }
  }

  // ---- Secrets Manager (the Lambda side never reads values; instances do, below) ------------

  createSecret(name: string, tags: Record<string, string>): Secret {
    if (this.secrets.has(name)) throw new AwsError('ResourceExistsException', `The secret ${name} already exists.`);
    const secret: Secret = {
      arn: `arn:aws:secretsmanager:${this.region}:${this.account}:secret:${name}-${this.hex(6)}`,
      name,
      tags,
      versions: [],
    };
    this.secrets.set(name, secret);
    return secret;
  }

  findSecret(idOrArn: string): Secret | undefined {
    return this.secrets.get(idOrArn) ?? [...this.secrets.values()].find((secret) => secret.arn === idOrArn);
  }

  putSecretValue(idOrArn: string, value: string): { arn: string; versionId: string } {
    const secret = this.findSecret(idOrArn);
    if (!secret) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    // Secrets Manager keeps every version younger than 24 h and about 100 versions in all (shared/reality.md).
    const recent = secret.versions.filter((version) => this.clockMs - version.createdAt < 24 * 3600_000);
    if (recent.length >= 100) throw new AwsError('LimitExceededException', 'You have exceeded the maximum number of versions for this secret.');
    const versionId = `${this.hex(8)}-${this.hex(4)}-${this.hex(4)}-${this.hex(4)}-${this.hex(12)}`;
    secret.versions.push({ versionId, value, createdAt: this.clockMs });
    return { arn: secret.arn, versionId };
  }

  /** DeleteSecret with ForceDeleteWithoutRecovery: gone at once, the name free again. */
  deleteSecret(idOrArn: string): boolean {
    const secret = this.findSecret(idOrArn);
    if (!secret) return false;
    this.secrets.delete(secret.name);
    return true;
  }

  /** What an instance reads with its role (aws secretsmanager get-secret-value --version-id). */
  readSecretOnInstance(idOrArn: string, versionId?: string): string {
    const secret = this.findSecret(idOrArn);
    const version = versionId ? secret?.versions.find((candidate) => candidate.versionId === versionId) : secret?.versions.at(-1);
    if (!version) throw new Error(`An error occurred (ResourceNotFoundException) when calling the GetSecretValue operation for ${idOrArn}`);
    return version.value;
  }

  /** Every real secret value ever stored (placeholders left out): what the no-leak assertions search for. */
  secretValues(): string[] {
    const values = [...this.secrets.values()].flatMap((secret) =>
      secret.versions.flatMap((version) => {
        try {
          // Nested too: the encryption secret holds its keys in a list.
          // Keys' names are not secret (they appear in the API servers' config and in kubeha's logs).
          const strings = (value: unknown): string[] =>
            typeof value === 'string'
              ? [value]
              : typeof value === 'object' && value !== null
                ? Object.entries(value).flatMap(([field, inner]) => (field === 'name' ? [] : strings(inner)))
                : [];
          return strings(JSON.parse(version.value));
        } catch {
          return [version.value];
        }
      }),
    );
    return values.filter((value) => value.length >= 16 && value !== 'not written yet');
  }

  // ---- helpers ---------------------------------------------------------------------------------

  /** etcd answers only while a majority of its members is healthy. */
  hasQuorum(cluster: KubeCluster): boolean {
    const voters = cluster.etcdMembers.filter((member) => !member.unstartedLearner);
    return voters.filter((member) => member.healthy).length > voters.length / 2;
  }

  requireInstance(instanceId: string): SimInstance {
    const instance = this.instances.get(instanceId);
    if (!instance) throw new AwsError('InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
    return instance;
  }

  requireCluster(clusterName: string): KubeCluster {
    const cluster = this.clusters.get(clusterName);
    if (!cluster) throw new Error(`the connection to the server was refused: cluster ${clusterName} is not initialized`);
    return cluster;
  }

  requirePrerequisites(instance: SimInstance): void {
    if (!instance.node.prerequisites) throw new Error('kubeadm: command not found (prerequisites were not installed)');
  }

  /**
   * GetSecretValue with the instance's own role, as infra/iam.cjs grants it: masters read both join secrets
   * of their cluster, workers only the worker one, load balancers none (AccessDeniedException, as IAM answers).
   */
  readSecretWithNodeRole(instance: SimInstance, idOrArn: string, versionId: string): string {
    const secret = this.findSecret(idOrArn);
    const role = /[-.](master|worker|lb)(\.[a-z0-9-]+)?$/.exec(instance.iamInstanceProfileArn ?? '')?.[1];
    const cluster = this.clusterNameOf(instance);
    const allowed = (kind: JoinKind) => secret?.name === joinSecretName(cluster, kind, LOCAL_STAGE);
    const readable = role === 'master' ? allowed('worker') || allowed('control-plane') : role === 'worker' ? allowed('worker') : false;
    if (!readable) throw new Error(`An error occurred (AccessDeniedException) when calling the GetSecretValue operation: ${instance.instanceId} (${role ?? 'no'} role) is not authorized to perform: secretsmanager:GetSecretValue on resource: ${idOrArn}`);
    return this.readSecretOnInstance(idOrArn, versionId);
  }

  /**
   * The join material a document reads on an instance (scripts/lib/common.sh read_join_material): `want`
   * is the kind the document needs, or `any` for RefreshJoinMaterial, which tells them apart by the key.
   */
  joinMaterialOnInstance(instance: SimInstance, parameters: Record<string, string>, want: JoinKind | 'any'): { kind: JoinKind; token: string; certificateKey?: string } {
    const raw = this.readSecretWithNodeRole(instance, param(parameters, 'JoinSecretArn'), param(parameters, 'JoinSecretVersionId'));
    const material = JSON.parse(raw) as { token?: string; certificateKey?: string };
    const kind: JoinKind = 'certificateKey' in material ? 'control-plane' : 'worker';
    if (want !== 'any' && want !== kind) throw new Error(`the join secret holds ${kind} material, but a ${want} join needs ${want} material`);
    if (!material.token || !TOKEN_FORMAT.test(material.token)) throw new Error('the join secret holds no valid bootstrap token');
    if (kind === 'worker') return { kind, token: material.token };
    if (!material.certificateKey || !CERTIFICATE_KEY_FORMAT.test(material.certificateKey)) throw new Error('the join secret holds no valid certificate key');
    return { kind, token: material.token, certificateKey: material.certificateKey };
  }

  clusterNameOf(instance: SimInstance): string {
    const key = Object.keys(instance.tags).find((tag) => tag.startsWith('kubernetes.io/cluster/'));
    if (!key) throw new Error(`${instance.instanceId} carries no cluster tag`);
    return key.slice('kubernetes.io/cluster/'.length);
  }

  private freeAddress(cidr: string): string {
    const [base] = cidr.split('/') as [string];
    const octets = base.split('.').map(Number) as [number, number, number, number];
    const used = new Set([...this.instances.values()].map((instance) => instance.privateIp));
    for (let host = 10; host < 4000; host += 1) {
      const candidate = `${octets[0]}.${octets[1]}.${octets[2] + Math.floor(host / 256)}.${host % 256}`;
      if (!used.has(candidate)) return candidate;
    }
    throw new Error(`subnet ${cidr} is full`);
  }

  /**
   * An id for the VPC's network plumbing (route tables, gateways, their subnet and address), numbered apart from
   * the seeded random source so adding it left every other id and modelled duration of a seed as it was.
   */
  networkId(prefix: string): string {
    this.networkIds += 1;
    return `${prefix}-${this.networkIds.toString(16).padStart(17, '0')}`;
  }

  hex(length: number): string {
    let text = '';
    while (text.length < length) text += Math.floor(this.randomSource() * 16).toString(16);
    this.sequence += 1;
    return text;
  }
}


