// Node profiles and external services end to end: the real state machines and handlers on the simulated
// fleet, with the runbook's GlusterFS pair and services around it (sim/runbook-services.ts).
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { consoleInput } from '../../sim/bootstrap.js';
import { LocalControlPlane } from '../../sim/control-plane.js';
import { SimulatedFleet } from '../../sim/fleet.js';
import { UNREACHABLE_RUNBOOK_SERVICE, addRunbookServices } from '../../sim/runbook-services.js';
import { capturedLogs } from '../setup.js';
import { expectNoSecretLeaked, stopAfterOnlineCheck } from '../support/cluster.js';

const runbook = JSON.parse(readFileSync(new URL('../../examples/runbook-input.json', import.meta.url), 'utf8')) as { nodeProfiles: unknown; externalServices: { name: string }[] };
const MOUNT_POINTS = ['/prelogin', '/postlogin', '/netacad_lti', '/moodle', '/content', '/current'];

let plane: LocalControlPlane | undefined;
afterEach(() => {
  plane?.stop();
  plane = undefined;
});

async function bootstrapWithProfile(options: { services?: boolean } = {}) {
  const fleet = SimulatedFleet.standard();
  if (options.services !== false) addRunbookServices(fleet);
  plane = new LocalControlPlane(fleet).start();
  const run = await plane.execute('bootstrap-cluster', 'bootstrap-demo', consoleInput(fleet, { nodeProfiles: runbook.nodeProfiles, externalServices: runbook.externalServices }));
  return { fleet, plane, run };
}

describe('node profiles', () => {
  it('mount every volume on every worker before it joins, and record the profile with the settings', async () => {
    // Act
    const { fleet, run } = await bootstrapWithProfile();

    // Assess
    expect(run.error).toBeUndefined();
    for (const worker of fleet.byRole('worker')) {
      expect(worker.node.mounts?.map((mount) => mount.mountPoint)).toEqual(MOUNT_POINTS);
      expect(worker.node.fstab?.[0]).toBe('10.0.1.19:/prelogin_files /prelogin glusterfs defaults,_netdev,backup-volfile-servers=10.0.3.169,log-level=WARNING 0 0');
      const order = worker.node.documentsRun;
      expect(order.indexOf('ApplyNodeProfile')).toBeLessThan(order.indexOf('JoinWorker'));
    }
    for (const master of fleet.byRole('master')) expect(master.node.mounts).toBeUndefined();
    const settings = JSON.parse(fleet.parameters.get('/kubeha/demo/settings')!) as { cluster: { nodeProfiles: unknown } };
    expect(settings.cluster.nodeProfiles).toEqual(runbook.nodeProfiles);
    // Parameter Store's Standard tier holds 4 KB: the runbook's profile and services leave room.
    expect(fleet.parameters.get('/kubeha/demo/settings')!.length).toBeLessThan(4096);
  });

  it('give a terminated worker a replacement that mounts the same volumes before it joins', async () => {
    // Prepare
    const { fleet, plane: control } = await bootstrapWithProfile();
    const dead = fleet.byRole('worker')[1]!;

    // Act
    fleet.terminateInstance(dead.instanceId);
    await control.deliver(dead.instanceId, 'terminated');
    const [heal] = await control.settle();

    // Assess
    expect(heal?.error).toBeUndefined();
    const replacement = [...fleet.instances.values()].find((instance) => instance.tags['kubeha:replaces'] === dead.instanceId)!;
    expect(replacement.node.documentsRun).toEqual(['InstallPrerequisites', 'ApplyNodeProfile', 'JoinWorker']);
    expect(replacement.node.mounts?.map((mount) => mount.mountPoint)).toEqual(MOUNT_POINTS);
    expect(replacement.node.fstab).toEqual(dead.node.fstab);
    expectNoSecretLeaked(fleet, [...control.runs.values()]);
  });

  it('fail the bootstrap at the mount step, naming the volume, its servers and the mount point, when the servers do not serve it', async () => {
    // Act: no GlusterFS servers around the cluster.
    const { fleet, run } = await bootstrapWithProfile({ services: false });

    // Assess
    expect(run.error?.name).toBe('CommandFailedError');
    expect(run.error?.message).toContain('step "apply-node-profile" failed');
    expect(run.error?.message).toContain('mounting GlusterFS volume prelogin_files from 10.0.1.19, 10.0.3.169 on /prelogin failed: Mount failed.');
    for (const worker of fleet.byRole('worker')) expect(worker.node.kubeadm).toBeUndefined();
  });
});

describe('external service checks', () => {
  it('report each endpoint in the bootstrap summary, the unreachable one as a finding that does not fail it', async () => {
    const { run } = await bootstrapWithProfile();

    expect(run.error).toBeUndefined();
    const report = (run.output as { externalServices: { checkedFrom: string; endpoints: { name: string; reachable: boolean; reason?: string }[] } }).externalServices;
    expect(report.checkedFrom).toMatch(/^i-/);
    expect(report.endpoints.map((endpoint) => endpoint.name)).toEqual(runbook.externalServices.map((service) => service.name));
    expect(report.endpoints.filter((endpoint) => !endpoint.reachable)).toEqual([
      expect.objectContaining({ name: UNREACHABLE_RUNBOOK_SERVICE, reason: expect.stringContaining('no answer within 5 s') }),
    ]);
  });

  it('are a reconcile finding when an endpoint stops answering, not a failure and not a heal', async () => {
    // Prepare
    const { fleet, plane: control } = await bootstrapWithProfile();
    fleet.reachableEndpoints.delete('rni-prf-db.cpxs5kpbdspw.rds.cn-northwest-1.amazonaws.com.cn:3306');
    const executions = fleet.executions.size;

    // Act
    const result = (await control.reconcile()) as { clusters: { actions: { kind: string; finding?: string }[]; externalServices: { endpoints: { name: string; reachable: boolean }[] } }[] };

    // Assess
    const [cluster] = result.clusters;
    expect(cluster!.externalServices.endpoints.filter((endpoint) => !endpoint.reachable).map((endpoint) => endpoint.name)).toEqual(['rds-mysql', UNREACHABLE_RUNBOOK_SERVICE]);
    expect(cluster!.actions.filter((action) => action.kind === 'report').map((action) => action.finding)).toEqual([
      expect.stringMatching(/^external service rds-mysql \(mysql\) rni-prf-db\.\S+:3306 is unreachable from i-[0-9a-f]+: no answer within 5 s/),
      expect.stringMatching(/^external service vds-mongodb \(mongodb\) 52\.82\.106\.24:27017 is unreachable/),
    ]);
    expect(cluster!.actions.some((action) => action.kind === 'start-healing')).toBe(false);
    expect(fleet.executions.size).toBe(executions);
    expect(JSON.stringify(capturedLogs)).toContain('external service rds-mysql (mysql)');
  });

  it('say why nothing was checked when no worker can check, without failing reconcile', async () => {
    const { fleet, plane: control } = await bootstrapWithProfile();
    for (const worker of fleet.byRole('worker')) worker.ssmOnline = false;

    const result = (await control.reconcile()) as { clusters: { actions: { kind: string; finding?: string }[] }[] };

    expect(result.clusters[0]!.actions).toContainEqual({ kind: 'report', finding: 'external services not checked: no joined worker with an online SSM agent to check from' });
  });

  it('give up at once, as a finding, when the checking worker stops after it answered as online (SSM holds the check as Delayed)', async () => {
    // Prepare: the worker stops in the race between the online check and SendCommand.
    const { fleet, plane: control } = await bootstrapWithProfile();
    const workers = new Set(fleet.byRole('worker').map((worker) => worker.instanceId));
    const race = stopAfterOnlineCheck(fleet, (online, asked) => (asked.every((id) => workers.has(id)) ? online.find((id) => workers.has(id)) : undefined));
    const startedAt = fleet.now();

    // Act
    let result: { clusters: { actions: { kind: string; finding?: string }[] }[] };
    try {
      result = (await control.reconcile()) as typeof result;
    } finally {
      race.restore();
    }

    // Assess
    const stopped = race.stopped();
    expect(stopped).toBeDefined();
    expect(result.clusters[0]!.actions).toContainEqual({ kind: 'report', finding: `external services not checked: the check failed on ${stopped} (Undeliverable)` });
    expect(fleet.invocations.find((invocation) => invocation.document === 'CheckExternalServices' && invocation.instanceId === stopped && invocation.startedAt >= startedAt)?.status).toBe('Cancelled');
    // Reconcile's deadline for the check is 40 s.
    expect(fleet.now() - startedAt).toBeLessThan(15_000);
  });
});
