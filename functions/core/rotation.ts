// The scope of an encryption key rotation: the recorded cluster and the masters it restarts in turn.
import { readClusterSettings } from './bootstrap.js';
import { groupFleet } from './cluster.js';
import type { ClusterContext } from './commands.js';
import { ClusterStateError } from './errors.js';
import type { Ports } from './ports.js';

export interface RotationScope {
  readonly cluster: ClusterContext;
  /** Every running master that kubeha initialized or joined, in a stable order: restarted one at a time. */
  readonly masterIds: string[];
  /** The master that rewrites every Secret (any one works; the first is stable across re-runs). */
  readonly rewriterIds: string[];
}

/**
 * What a rotation works on. Refuses a cluster with a master kubeha has not joined (a join would render
 * its config mid-rotation) or a stopped one (it would miss a restart and meet Secrets it cannot read).
 */
export async function inspectForRotation(clusterName: string, ports: Pick<Ports, 'ec2' | 'ssm'>, purpose = 'the encryption key rotates'): Promise<RotationScope> {
  return (await inspectMasters(clusterName, ports, purpose)).scope;
}

/** The scope of a certificate renewal: every master with its address (the quorum guard names it), and the window in days. */
export interface RenewalScope extends RotationScope {
  readonly masters: { readonly instanceId: string; readonly privateIp: string }[];
  readonly renewWithinDays: number;
}

/** What a certificate renewal works on: every master, as for a rotation; the window given, else the cluster's healing.certificateRenewalDays. */
export async function inspectForRenewal(clusterName: string, ports: Pick<Ports, 'ec2' | 'ssm'>, renewWithinDays: number | undefined): Promise<RenewalScope> {
  const { scope, settings, masters } = await inspectMasters(clusterName, ports, 'their certificates are renewed');
  return {
    ...scope,
    masters: scope.masterIds.map((instanceId) => ({ instanceId, privateIp: masters.find((master) => master.instanceId === instanceId)?.privateIp ?? '' })),
    renewWithinDays: renewWithinDays ?? settings.policy.certificateRenewalDays,
  };
}

async function inspectMasters(clusterName: string, ports: Pick<Ports, 'ec2' | 'ssm'>, purpose: string) {
  const settings = await readClusterSettings(clusterName, ports);
  if (!settings) throw new ClusterStateError(`cluster ${clusterName} has no recorded settings: bootstrap it with kubeha first`);
  const instances = await ports.ec2.findClusterInstances(clusterName);
  const masters = instances.filter((instance) => instance.role === 'master');
  const notReady = masters.filter((master) => master.ec2State !== 'running' || !(master.nodeState === 'initialized' || master.nodeState === 'joined'));
  if (notReady.length > 0) {
    throw new ClusterStateError(
      `every master must be running and in the control plane before ${purpose}; not: ${notReady.map((master) => `${master.instanceId} (${master.ec2State}${master.nodeState ? `, ${master.nodeState}` : ''})`).join(', ')}`,
    );
  }
  const masterIds = groupFleet(masters).masters.map((master) => master.instanceId);
  if (masterIds.length === 0) throw new ClusterStateError(`cluster ${clusterName} has no running master`);
  return { scope: { cluster: settings.cluster, masterIds, rewriterIds: masterIds.slice(0, 1) }, settings, masters };
}
