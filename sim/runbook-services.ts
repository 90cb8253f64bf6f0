// The runbook's world outside the cluster, for the demo and the CLI's simulated account: the GlusterFS
// HA pair (nfs-1-gluster 10.0.1.19, nfs-2-gluster 10.0.3.169) serving its six volumes, and the services
// of examples/runbook-input.json. Every service answers but MongoDB, whose host (a public address in the
// runbook) the nodes' security group does not reach: what `kubeha status` shows as a finding.
import runbook from '../examples/runbook-input.json' with { type: 'json' };
import type { SimulatedFleet } from './fleet.js';

export const UNREACHABLE_RUNBOOK_SERVICE = 'vds-mongodb';

export function addRunbookServices(fleet: SimulatedFleet): void {
  for (const mount of runbook.nodeProfiles.worker.mounts) {
    for (const server of mount.servers) fleet.glusterVolumes.add(`${server}:${mount.volume}`);
  }
  for (const service of runbook.externalServices) {
    if (service.name !== UNREACHABLE_RUNBOOK_SERVICE) fleet.reachableEndpoints.add(`${service.host}:${service.port}`);
  }
}
