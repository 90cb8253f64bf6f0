// Launch records: what each managed instance looked like while it lived, kept in the state table.
// A terminated instance is described by EC2 without its subnet, address, security groups, instance
// profile and volumes, and after about an hour not at all (shared/reality.md, "EC2"), so a replacement
// can only be built from facts recorded earlier: at bootstrap, on every reconcile and when a new
// instance starts running.
import { type ClusterInstance, type Role, ROLES } from './cluster.js';
import { LaunchFailedError } from './errors.js';
import type { LaunchFacts, LaunchSpec, Ports, StoredItem } from './ports.js';

export const LAUNCH_RECORD_PREFIX = 'launch#';

export interface LaunchRecord extends LaunchFacts {
  readonly role: Role;
  readonly recordedAt: string;
  /** The dead instance this one was launched to replace. */
  readonly replaces?: string | undefined;
  /** Set once a replacement of this instance is running and joined: reconcile and events leave it alone. */
  readonly replacedBy?: string | undefined;
}

export function launchRecordKey(instanceId: string): string {
  return `${LAUNCH_RECORD_PREFIX}${instanceId}`;
}

/** Compares everything but the time of recording: a write happens only when a fact changed. */
export function sameFacts(a: LaunchRecord, b: LaunchRecord): boolean {
  const { recordedAt: _a, ...left } = a;
  const { recordedAt: _b, ...right } = b;
  return JSON.stringify(left) === JSON.stringify(right);
}

export async function readLaunchRecord(clusterName: string, instanceId: string, ports: Pick<Ports, 'state'>): Promise<LaunchRecord | undefined> {
  return (await ports.state.get<LaunchRecord>(clusterName, launchRecordKey(instanceId)))?.value;
}

export async function readLaunchRecords(clusterName: string, ports: Pick<Ports, 'state'>): Promise<StoredItem<LaunchRecord>[]> {
  return ports.state.list<LaunchRecord>(clusterName, LAUNCH_RECORD_PREFIX);
}

/**
 * Records the launch facts of the given live instances where they are new or changed. Reads the
 * records it already holds once; `known` saves that read when the caller has them.
 */
export async function recordLaunchFacts(
  clusterName: string,
  instances: readonly ClusterInstance[],
  ports: Pick<Ports, 'ec2' | 'state' | 'clock'>,
  known?: readonly StoredItem<LaunchRecord>[],
): Promise<{ written: string[]; records: LaunchRecord[] }> {
  const managed = instances.filter((instance) => instance.role && ROLES.includes(instance.role) && instance.ec2State !== 'terminated' && instance.ec2State !== 'shutting-down');
  if (managed.length === 0) return { written: [], records: (known ?? (await readLaunchRecords(clusterName, ports))).map((item) => item.value) };
  const byId = new Map(managed.map((instance) => [instance.instanceId, instance]));
  const [facts, stored] = await Promise.all([ports.ec2.launchFactsOf(managed.map((instance) => instance.instanceId)), known ?? readLaunchRecords(clusterName, ports)]);
  const previous = new Map(stored.map((item) => [item.value.instanceId, item.value]));
  const recordedAt = new Date(ports.clock.now()).toISOString();
  const changed: { key: string; value: LaunchRecord }[] = [];
  for (const fact of facts) {
    const before = previous.get(fact.instanceId);
    const instance = byId.get(fact.instanceId);
    const replaces = instance?.tags?.['kubeha:replaces'] ?? before?.replaces;
    const record: LaunchRecord = {
      ...fact,
      role: instance?.role as Role,
      recordedAt,
      ...(replaces ? { replaces } : {}),
      ...(before?.replacedBy ? { replacedBy: before.replacedBy } : {}),
    };
    if (before && sameFacts(before, record)) continue;
    changed.push({ key: launchRecordKey(fact.instanceId), value: record });
  }
  if (changed.length > 0) await ports.state.putMany(clusterName, changed);
  // What the table holds now, without reading it again.
  const current = new Map([...previous, ...changed.map((item) => [item.value.instanceId, item.value] as const)]);
  return { written: changed.map((item) => item.value.instanceId), records: [...current.values()] };
}

/**
 * What RunInstances is asked for to replace a dead instance: a launch template named in the cluster
 * settings wins (with the recorded subnet where there is one); otherwise the record. With neither,
 * a replacement cannot be built and the heal stops with what to configure.
 */
export function replacementSpec(input: {
  deadInstanceId: string;
  role: Role;
  clusterTags: Record<string, string>;
  record: LaunchRecord | undefined;
  template: { launchTemplateId: string; version: string } | undefined;
  /** A prepared node image recorded for the cluster's version: it replaces the record's or template's image. */
  preparedImageId?: string | undefined;
  fallbackSubnetId: string | undefined;
}): LaunchSpec {
  const { record, template } = input;
  const tags = { ...(record?.tags ?? {}), ...input.clusterTags, 'kubeha:role': input.role, 'kubeha:replaces': input.deadInstanceId };
  if (template) {
    const subnetId = record?.subnetId ?? input.fallbackSubnetId;
    if (!subnetId) throw new LaunchFailedError(`no subnet is known for a replacement of ${input.deadInstanceId}: no launch record and no running ${input.role} to place it beside`);
    return { subnetId, tags, launchTemplate: template, ...(input.preparedImageId ? { imageId: input.preparedImageId } : {}) };
  }
  if (!record) {
    throw new LaunchFailedError(
      `kubeha holds no launch record for ${input.deadInstanceId} and the cluster settings name no launch template for role ${input.role}: ` +
        `add launchTemplates.${input.role} (a launch template id and version) to the bootstrap input and run bootstrap-cluster again, which records the settings without touching running nodes`,
    );
  }
  return {
    imageId: input.preparedImageId ?? record.imageId,
    instanceType: record.instanceType,
    subnetId: record.subnetId,
    securityGroupIds: record.securityGroupIds,
    iamInstanceProfileArn: record.iamInstanceProfileArn,
    keyName: record.keyName,
    blockDevices: record.blockDevices,
    tags,
  };
}
