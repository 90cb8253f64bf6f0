import { beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { installFleet } from '../../sim/aws.js';
import { NODE_STATE_TAG } from '../../functions/core/cluster.js';
import type { BootstrapSummary } from '../../functions/core/summary.js';
import { bootstrapOnFleet, consoleInput } from '../../sim/bootstrap.js';
import { SimulatedFleet } from '../../sim/fleet.js';
import type { LocalRun } from '../../sim/state-machine.js';
import { everythingRecorded } from '../support/cluster.js';

const MUTATING = new Set(['SendCommand', 'CreateTags', 'AssociateAddress', 'PutSecretValue', 'PutParameter']);

function documentsRunOn(fleet: SimulatedFleet, instanceId: string): string[] {
  return fleet.invocations.filter((invocation) => invocation.instanceId === instanceId).map((invocation) => invocation.document);
}

describe('bootstrap-cluster on a simulated fleet of 3 masters, 2 load balancers and 3 workers', () => {
  let fleet: SimulatedFleet;

  beforeEach(() => {
    fleet = SimulatedFleet.standard();
  });

  it('builds a healthy HA cluster and summarizes it', async () => {
    // Act
    const run = await bootstrapOnFleet(fleet, consoleInput(fleet));

    // Assess
    expect(run.error).toBeUndefined();
    const summary = run.output as BootstrapSummary;
    const cluster = fleet.clusters.get('demo')!;
    const masters = fleet.byRole('master');
    const [primary, standby] = fleet.byRole('lb');
    expect(cluster.etcdMembers.map((member) => member.instanceId).sort()).toEqual(masters.map((master) => master.instanceId).sort());
    expect(cluster.nodes.filter((node) => node.ready)).toHaveLength(6);
    expect(primary!.node.nginx?.upstreams).toEqual(masters.map((master) => master.privateIp));
    expect(standby!.node.nginx?.upstreams).toEqual(masters.map((master) => master.privateIp));
    expect([primary!.node.keepalived?.priority, standby!.node.keepalived?.priority]).toEqual([150, 100]);
    expect(fleet.addresses.get(fleet.elasticIpAllocationId)?.instanceId).toBe(primary!.instanceId);
    expect(summary).toMatchObject({
      clusterName: 'demo',
      endpoint: '203.0.113.10:6443',
      nodes: { masters: 3, workers: 3, loadBalancers: 2 },
      verification: { nodesReady: 6, etcdMembers: 3, etcdHealthy: 3 },
      skippedAsAlreadyDone: { prerequisites: 0, masters: 0, workers: 0 },
    });
    expect(Object.keys(summary.timings.phases)).toEqual(['prerequisites', 'loadBalancers', 'initFirstMaster', 'workerPrerequisites', 'cni', 'joinMasters', 'workerToken', 'joinWorkers', 'verify']);
    expect(summary.timings.totalSeconds).toBeGreaterThan(300);
    expect(summary.timings.totalSeconds).toBeLessThan(900);
    const settings = JSON.parse(fleet.parameters.get('/kubeha/demo/settings')!) as { caCertHash: string; firstMasterId: string };
    expect(settings).toMatchObject({ caCertHash: cluster.caCertHash, firstMasterId: cluster.firstMasterId });
    expect(fleet.readSecretOnInstance('kubeha/local/demo/admin-kubeconfig')).toContain('kind: Config');
    expect([...fleet.instances.values()].map((instance) => instance.tags[NODE_STATE_TAG]).sort()).toEqual(
      ['configured', 'configured', 'initialized', 'joined', 'joined', 'joined', 'joined', 'joined'],
    );
  });

  it('joins the masters one at a time, each with freshly minted and uploaded join material', async () => {
    await bootstrapOnFleet(fleet, consoleInput(fleet));

    const joins = fleet.clusters.get('demo')!.controlPlaneJoins;
    expect(joins).toHaveLength(2);
    expect(joins[0]!.end).toBeLessThanOrEqual(joins[1]!.start);
    const joinVersions = fleet.invocations.filter((invocation) => invocation.document === 'JoinControlPlane').map((invocation) => invocation.parameters.JoinSecretVersionId);
    expect(new Set(joinVersions).size).toBe(2);
    const refreshes = fleet.invocations.filter((invocation) => invocation.document === 'RefreshJoinMaterial');
    for (const version of joinVersions) {
      expect(refreshes.some((refresh) => refresh.parameters.JoinSecretVersionId === version)).toBe(true);
    }
  });

  it('runs the documents on each instance in the runbook order', async () => {
    await bootstrapOnFleet(fleet, consoleInput(fleet));

    const firstMaster = fleet.clusters.get('demo')!.firstMasterId;
    const others = fleet.byRole('master').filter((master) => master.instanceId !== firstMaster);
    expect(documentsRunOn(fleet, firstMaster)).toEqual(['InstallPrerequisites', 'InitFirstMaster', 'InstallCni', 'RefreshJoinMaterial', 'RefreshJoinMaterial', 'RefreshJoinMaterial', 'VerifyCluster']);
    for (const master of others) expect(documentsRunOn(fleet, master.instanceId)).toEqual(['InstallPrerequisites', 'JoinControlPlane']);
    for (const worker of fleet.byRole('worker')) expect(documentsRunOn(fleet, worker.instanceId)).toEqual(['InstallPrerequisites', 'ApplyNodeProfile', 'JoinWorker']);
    for (const balancer of fleet.byRole('lb')) expect(documentsRunOn(fleet, balancer.instanceId)).toEqual(['InstallPrerequisites', 'ConfigureLoadBalancer']);
  });

  it('stops on a failed worker join naming the step, the instance and the reason, and a re-run resumes where it stopped', async () => {
    // Prepare
    const failing = fleet.byRole('worker')[1]!;
    fleet.failDocument({ document: 'JoinWorker', instanceId: failing.instanceId, stderr: 'kubeha: error: kubeadm join failed: connection refused' });

    // Act
    const failed = await bootstrapOnFleet(fleet, consoleInput(fleet));
    const sentBeforeRerun = fleet.invocations.length;
    const resumed = await bootstrapOnFleet(fleet, consoleInput(fleet));

    // Assess
    expect(failed.error?.name).toBe('CommandFailedError');
    expect(failed.error?.message).toBe(`step "join-worker" failed on ${failing.instanceId} (Failed): kubeha: error: kubeadm join failed: connection refused`);
    expect(resumed.error).toBeUndefined();
    expect((resumed.output as BootstrapSummary).skippedAsAlreadyDone).toEqual({ prerequisites: 8, masters: 2, workers: 2 });
    const rerunDocuments = fleet.invocations.slice(sentBeforeRerun);
    expect(rerunDocuments.filter((invocation) => invocation.document === 'InstallPrerequisites')).toEqual([]);
    expect(rerunDocuments.filter((invocation) => invocation.document === 'JoinControlPlane')).toEqual([]);
    expect(rerunDocuments.filter((invocation) => invocation.document === 'JoinWorker').map((invocation) => invocation.instanceId)).toEqual([failing.instanceId]);
    expect(fleet.clusters.get('demo')!.nodes).toHaveLength(6);
  });

  it('never lets a secret value reach a payload, a command parameter, a command output or a log line', async () => {
    // Prepare: a failure too, so error paths are covered as well.
    fleet.failDocument({ document: 'JoinWorker', instanceId: fleet.byRole('worker')[0]!.instanceId });

    // Act
    const runs = [await bootstrapOnFleet(fleet, consoleInput(fleet)), await bootstrapOnFleet(fleet, consoleInput(fleet))];

    // Assess
    const secrets = fleet.secretValues();
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    const recorded = everythingRecorded(fleet, runs);
    expect(recorded.length).toBeGreaterThan(100_000);
    for (const secret of secrets) expect(recorded.includes(secret), `secret ${secret.slice(0, 4)}… leaked`).toBe(false);
  });

  it('rides out AWS throttling with the state machine retries', async () => {
    fleet.throttle('SendCommand', 2);
    fleet.throttle('DescribeInstances', 1);
    fleet.throttle('ListCommandInvocations', 3);

    const run = await bootstrapOnFleet(fleet, consoleInput(fleet));

    expect(run.error).toBeUndefined();
    const retried = run.events.filter((event) => event.type === 'StateRetried');
    expect(retried.length).toBe(6);
  });

  it("rejects the runbook's CIDRs in preflight without changing anything", async () => {
    const run = await bootstrapOnFleet(fleet, consoleInput(fleet, { podCidr: '10.0.0.0/18', serviceCidr: '172.31.0.0/16' }));

    expect(run.error?.name).toBe('PreflightFailedError');
    expect(run.error?.message).toContain('podCidr: 10.0.0.0/18 overlaps VPC');
    expect(fleet.calls.filter((call) => MUTATING.has(call.operation))).toEqual([]);
  });

  it('rejects bad input before calling AWS at all', async () => {
    const run = await bootstrapOnFleet(fleet, consoleInput(fleet, { kubernetesVersion: '1.14.0', masters: 3 }));

    expect(run.error).toMatchObject({ name: 'InputValidationError', message: 'masters: is not a known field' });
    // As Step Functions reports a function error: the cause is Lambda's JSON.
    expect(JSON.parse(run.error!.cause)).toMatchObject({ errorType: 'InputValidationError', errorMessage: 'masters: is not a known field' });
    expect(fleet.calls).toEqual([]);
  });

  it('names the instance that stopped in the middle of its join', async () => {
    const victim = fleet.byRole('worker')[0]!;
    fleet.commandSentHooks.push((document, instanceIds) => {
      if (document === 'JoinWorker' && instanceIds.includes(victim.instanceId)) fleet.stopInstance(victim.instanceId);
    });

    const run = await bootstrapOnFleet(fleet, consoleInput(fleet));

    expect(run.error?.name).toBe('CommandFailedError');
    expect(run.error?.message).toContain(`${victim.instanceId} (Failed): the instance stopped while the command ran`);
  });
});

describe('preflight of the security groups on a simulated fleet', () => {
  it("refuses the old README's groups, which kept workers from the masters' API, naming each path", async () => {
    // Prepare: the masters' group admits 6443 only from the load balancers, as the old README said.
    const fleet = SimulatedFleet.standard();
    const masterRules = fleet.securityGroups.get('sg-master0000000000001')!;
    masterRules[0] = { ...masterRules[0]!, sourceGroupIds: ['sg-lb0000000000001'] };

    // Act
    const run = await bootstrapOnFleet(fleet, consoleInput(fleet));

    // Assess
    expect(run.error?.name).toBe('PreflightFailedError');
    expect(run.error?.message).toContain('masters do not accept tcp 6443 (the Kubernetes API) from workers');
    expect(run.error?.message).toContain('masters do not accept tcp 6443 (the Kubernetes API) from masters');
    expect(fleet.calls.filter((call) => call.operation === 'SendCommand')).toEqual([]);
  });
});

describe('preflight of the instance metadata settings on a simulated fleet', () => {
  it('refuses instances whose metadata service lets pods reach their role, naming each instance and setting', async () => {
    // Prepare: one master still answers IMDSv1, one worker gives IMDSv2 tokens two hops away.
    const fleet = SimulatedFleet.standard();
    const [master] = fleet.byRole('master');
    const [worker] = fleet.byRole('worker');
    master!.metadataOptions = { httpTokens: 'optional', hopLimit: 1, httpEndpoint: 'enabled' };
    worker!.metadataOptions = { httpTokens: 'required', hopLimit: 2, httpEndpoint: 'enabled' };

    // Act
    const run = await bootstrapOnFleet(fleet, consoleInput(fleet));

    // Assess
    expect(run.error?.name).toBe('PreflightFailedError');
    expect(run.error?.message).toContain(`${master!.instanceId}: lets pods reach its master role through instance metadata: HttpTokens is optional`);
    expect(run.error?.message).toContain(`${worker!.instanceId}: lets pods reach its worker role through instance metadata: HttpPutResponseHopLimit is 2`);
    expect(run.error?.message).not.toContain(fleet.byRole('master')[1]!.instanceId);
    expect(fleet.calls.filter((call) => call.operation === 'SendCommand')).toEqual([]);
  });

  it('launches replacements with IMDSv2 required and a hop limit of 1, as the simulated EC2 then describes them', async () => {
    // Prepare
    const fleet = SimulatedFleet.standard();
    const { ec2 } = await import('../../functions/adapters/ec2.js');
    const [worker] = fleet.byRole('worker');
    const uninstall = installFleet(fleet);
    onTestFinished(uninstall);

    // Act
    const launched = await ec2.runInstance(
      { imageId: 'ami-0kubeha0ubuntu2404', instanceType: 't3.medium', subnetId: worker!.subnetId, securityGroupIds: worker!.securityGroupIds, tags: { 'kubernetes.io/cluster/demo': 'owned', 'kubeha:role': 'worker' } },
      { clientToken: 'metadata-test' },
    );

    // Assess, once EC2's eventual consistency lets DescribeInstances see the new instance
    expect(launched).not.toBe('addressInUse');
    fleet.advance(fleet.describeLagSeconds);
    const described = await ec2.describeInstance((launched as { instanceId: string }).instanceId);
    expect(described?.metadata).toEqual({ httpTokens: 'required', hopLimit: 1, httpEndpoint: 'enabled' });
  });
});
