// The simulated account on disk: one file per account under the user's state directory, so that
// `bootstrap --simulate` in one process and `status --simulate` in the next see the same cluster.
// A command holds the account's lock from reading it to writing it back, and writes through a
// temporary file renamed over the old one: two commands at once take turns, and a crash mid-write
// leaves the previous state whole.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { addRunbookServices } from '../sim/runbook-services.js';
import lockfile from 'proper-lockfile';
import writeFileAtomic from 'write-file-atomic';
import { cidrProblem, parseCidr, prefixLength } from '../functions/core/cidr.js';
import { SimulatedFleet } from '../sim/fleet.js';
import { restoreFleet, snapshotFleet } from '../sim/snapshot.js';
import { CliError, EXIT } from './errors.js';

export const DEFAULT_VPC_CIDR = '10.0.0.0/16';
// 2: the VPC has route tables, an internet gateway and a NAT gateway (an account written before has none, and
// preflight would find no way out of its subnets).
const FORMAT = 2;
const FIRST_SEED = 7;
/** How long a command waits for another one holding the account before giving up. */
const LOCK_WAIT_SECONDS = 120;

interface AccountFile {
  readonly format: typeof FORMAT;
  readonly vpcCidr: string;
  /** Saves so far: seeds the random source, so identifiers never repeat across runs. */
  readonly generation: number;
  readonly fleet: Buffer;
  /** The states each execution entered, by execution ARN: what `kubeha follow` replays. */
  readonly stateHistory: Record<string, string[]>;
}

export interface SimulatedAccount {
  readonly name: string;
  readonly path: string;
  readonly vpcCidr: string;
  readonly fleet: SimulatedFleet;
  readonly stateHistory: Record<string, string[]>;
  /** The clusters that have tagged instances in this account. */
  clusters(): string[];
  /** Launches the standard tagged instances of a new cluster (what a user does before `kubeha plan`). */
  addCluster(clusterName: string, elasticIpAllocationId?: string): void;
  save(): Promise<void>;
  release(): Promise<void>;
}

/** $KUBEHA_STATE_DIR, else $XDG_STATE_HOME/kubeha, else ~/.local/state/kubeha. */
export function stateDirectory(env: Readonly<Record<string, string | undefined>>): string {
  if (env.KUBEHA_STATE_DIR) return env.KUBEHA_STATE_DIR;
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state'), 'kubeha');
}

export function accountPath(env: Readonly<Record<string, string | undefined>>, name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new CliError(`--profile "${name}" cannot name a simulated account: use letters, digits, ".", "_" and "-".`, EXIT.usage);
  return join(stateDirectory(env), `simulated-${name}.v8`);
}

/** Why a VPC CIDR cannot be simulated, or undefined when it can: three zones need room for a /20-/24 subnet each. */
export function vpcCidrProblem(cidr: string): string | undefined {
  const problem = cidrProblem(cidr);
  if (problem) return problem;
  const prefix = prefixLength(parseCidr(cidr));
  return prefix < 16 || prefix > 20 ? 'must be a /16 to /20 network, so that three zones each get a subnet' : undefined;
}

/** Opens the account for one command, waiting for any other command that holds it. */
export async function openAccount(env: Readonly<Record<string, string | undefined>>, name: string): Promise<SimulatedAccount> {
  const path = accountPath(env, name);
  const release = await lock(path);
  try {
    const file = existsSync(path) ? read(path) : undefined;
    const vpcCidr = file?.vpcCidr ?? DEFAULT_VPC_CIDR;
    const generation = file?.generation ?? 0;
    const fleet = file ? restoreFleet(file.fleet, FIRST_SEED + generation * 7919) : emptyFleet(vpcCidr);
    const stateHistory = { ...file?.stateHistory };
    return {
      name,
      path,
      vpcCidr,
      fleet,
      stateHistory,
      clusters: () => clustersOf(fleet),
      addCluster: (clusterName, elasticIpAllocationId) => addCluster(fleet, clusterName, elasticIpAllocationId),
      save: () => write(path, { format: FORMAT, vpcCidr, generation: generation + 1, fleet: snapshotFleet(fleet), stateHistory }),
      release,
    };
  } catch (error: unknown) {
    await release();
    throw error;
  }
}

/** Replaces the account with an empty one on the given network (the default network when none is given). */
export async function resetAccount(env: Readonly<Record<string, string | undefined>>, name: string, vpcCidr = DEFAULT_VPC_CIDR): Promise<string> {
  const path = accountPath(env, name);
  const problem = vpcCidrProblem(vpcCidr);
  if (problem) throw new CliError(`--vpc-cidr ${vpcCidr} ${problem}.`, EXIT.usage);
  const release = await lock(path);
  try {
    rmSync(path, { force: true });
    if (vpcCidr !== DEFAULT_VPC_CIDR) await write(path, { format: FORMAT, vpcCidr, generation: 0, fleet: snapshotFleet(emptyFleet(vpcCidr)), stateHistory: {} });
    return path;
  } finally {
    await release();
  }
}

async function lock(path: string): Promise<() => Promise<void>> {
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
  try {
    return await lockfile.lock(path, {
      realpath: false,
      // A holder refreshes its lock every 2 s; one not refreshed for 10 s belongs to a process that died.
      stale: 10_000,
      update: 2_000,
      retries: { retries: LOCK_WAIT_SECONDS * 5, factor: 1, minTimeout: 200, maxTimeout: 200 },
    });
  } catch (error: unknown) {
    throw new CliError(`Another kubeha command has held the simulated account ${path} for ${LOCK_WAIT_SECONDS} s: let it finish, or remove ${path}.lock if no kubeha command is running.`, EXIT.blocked, { cause: error });
  }
}

function read(path: string): AccountFile {
  let file: Partial<AccountFile>;
  try {
    file = deserialize(readFileSync(path)) as Partial<AccountFile>;
  } catch (error: unknown) {
    throw new CliError(`The simulated account ${path} cannot be read: start afresh with \`kubeha simulate reset\`.`, EXIT.usage, { cause: error });
  }
  if (file.format !== FORMAT || !Buffer.isBuffer(file.fleet)) {
    throw new CliError(`The simulated account ${path} was written by another version of kubeha: start afresh with \`kubeha simulate reset\`.`, EXIT.usage);
  }
  return file as AccountFile;
}

async function write(path: string, file: AccountFile): Promise<void> {
  await writeFileAtomic(path, serialize(file), { mode: 0o600 });
}

function emptyFleet(vpcCidr: string): SimulatedFleet {
  const fleet = new SimulatedFleet({ seed: FIRST_SEED });
  const vpc = parseCidr(vpcCidr);
  const subnetSize = (vpc.last - vpc.first + 1) / 16;
  const vpcId = fleet.addVpc(vpcCidr);
  // The nodes' way out: the main route table's 0.0.0.0/0 to a NAT gateway (preflight works out the address
  // their kubeadm join reaches the Elastic IP from).
  fleet.addNatEgress(vpcId);
  // The security groups README tells users to create; preflight checks every path they must open.
  fleet.addClusterSecurityGroups();
  // The runbook's GlusterFS pair and services, so examples/runbook-input.json bootstraps here too.
  addRunbookServices(fleet);
  ['a', 'b', 'c'].forEach((zone, index) => {
    const first = vpc.first + index * subnetSize;
    fleet.addSubnet(vpcId, `${toAddress(first)}/${prefixLength(vpc) + 4}`, `${fleet.region}${zone}`);
  });
  return fleet;
}

function clustersOf(fleet: SimulatedFleet): string[] {
  const names = new Set<string>();
  for (const instance of fleet.instances.values()) {
    for (const tag of Object.keys(instance.tags)) {
      const match = /^kubernetes\.io\/cluster\/(.+)$/.exec(tag);
      if (match?.[1]) names.add(match[1]);
    }
  }
  return [...names].sort();
}

/** Two load balancers, three masters and three workers spread over the three zones, an Elastic IP and the stack's secrets. */
function addCluster(fleet: SimulatedFleet, clusterName: string, elasticIpAllocationId?: string): void {
  if (clustersOf(fleet).includes(clusterName)) return;
  const subnets = [...fleet.subnets.keys()];
  const counts = [['lb', 2], ['master', 3], ['worker', 3]] as const;
  for (const [role, count] of counts) {
    for (let index = 0; index < count; index += 1) fleet.addInstance({ clusterName, role, subnetId: subnets[index % subnets.length]! });
  }
  if (!elasticIpAllocationId || !fleet.addresses.has(elasticIpAllocationId)) {
    fleet.addElasticIp({ [`kubernetes.io/cluster/${clusterName}`]: 'owned' }, elasticIpAllocationId);
  }
  fleet.addClusterSecrets(clusterName);
}

function toAddress(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}
