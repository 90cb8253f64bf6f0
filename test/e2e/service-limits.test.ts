// The local runner holds workflows to the service's limits, and kubeha's workflows stay inside them.
import { describe, expect, it } from 'vitest';
import { HISTORY_EVENT_LIMIT } from '../../functions/core/plan.js';
import { bootstrapOnFleet, consoleInput } from '../../sim/bootstrap.js';
import { SimulatedFleet } from '../../sim/fleet.js';
import { SERVICE_LIMITS, runStateMachine } from '../../sim/state-machine.js';
import { bootstrappedCluster } from '../support/cluster.js';

describe('the local runner', () => {
  it('fails an execution whose state payload passes 256 KB with States.DataLimitExceeded, which no Catch catches', async () => {
    // Prepare: a function whose result is over the limit, under a Catch for every error.
    const definition = {
      StartAt: 'Fetch something large',
      States: {
        'Fetch something large': {
          Type: 'Task',
          Resource: { 'Fn::GetAtt': ['largeResult', 'Arn'] },
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Handle the failure' }],
          End: true,
        },
        'Handle the failure': { Type: 'Pass', End: true },
      },
    };
    const largeResult = async () => ({ blob: 'x'.repeat(SERVICE_LIMITS.payloadBytes) });

    // Act
    const run = await runStateMachine('limits', {}, { definition, handlers: { largeResult } });

    // Assess
    expect(run.error?.name).toBe('States.DataLimitExceeded');
    expect(run.events.some((event) => (event as { state?: { name?: string } }).state?.name === 'Handle the failure')).toBe(false);
  });

  it('fails a function that runs past its timeout with Sandbox.Timedout, as Lambda reports it', async () => {
    // Prepare: DescribeInstances hangs for 40 s; discover-cluster may run 30 s (serverless.yml).
    const fleet = SimulatedFleet.standard();
    fleet.slowDown('DescribeInstances', 40);

    // Act
    const run = await bootstrapOnFleet(fleet, consoleInput(fleet));

    // Assess
    expect(run.error?.name).toBe('Sandbox.Timedout');
    expect(JSON.parse(run.error!.cause)).toMatchObject({ errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 30.00 seconds' });
    expect(run.tasks.find((task) => task.functionName === 'discoverCluster')?.error).toMatch(/^Sandbox.Timedout/);
  });

  it('shapes a function error as Lambda does: the error name, and a JSON cause with the message', async () => {
    const fleet = SimulatedFleet.standard();

    const run = await bootstrapOnFleet(fleet, consoleInput(fleet, { podCidr: 'not-a-cidr' }));

    expect(run.error?.name).toBe('InputValidationError');
    expect(JSON.parse(run.error!.cause)).toMatchObject({ errorType: 'InputValidationError', errorMessage: expect.stringContaining('podCidr') });
    expect(run.error?.message).toContain('podCidr');
  });
});

describe('bootstrap at scale, under the service limits', () => {
  it('bootstraps 5 masters, 2 load balancers and 1,000 workers with a third of the payload limit and a third of the history', async () => {
    const fleet = SimulatedFleet.standard({ masters: 5, workers: 1000 });

    const run = await bootstrapOnFleet(fleet, consoleInput(fleet));

    expect(run.error).toBeUndefined();
    expect(run.peakPayloadBytes).toBeLessThan(SERVICE_LIMITS.payloadBytes / 3);
    expect(run.historyEvents).toBeLessThan(HISTORY_EVENT_LIMIT / 3);
    expect(fleet.clusters.get('demo')!.nodes.filter((node) => node.ready)).toHaveLength(1005);
  });

  it('refuses in preflight, naming workerBatchSize, a plan whose history could pass 25,000 events', async () => {
    const fleet = SimulatedFleet.standard({ workers: 300 });

    const run = await bootstrapOnFleet(fleet, consoleInput(fleet, { workerBatchSize: 1 }));

    expect(run.error?.name).toBe('PreflightFailedError');
    expect(run.error?.message).toMatch(/^workerBatchSize: 300 worker batches could write about \d+ history events/);
    expect(fleet.calls.filter((call) => call.operation === 'SendCommand')).toEqual([]);
  });

  it("keeps the workers' token alive for every batch, however many rounds they take", async () => {
    const fleet = SimulatedFleet.standard({ workers: 120 });

    const run = await bootstrapOnFleet(fleet, consoleInput(fleet, { workerBatchSize: 4 }));

    expect(run.error).toBeUndefined();
    expect(fleet.clusters.get('demo')!.nodes).toHaveLength(123);
  });
});

describe('steps that must not run twice', () => {
  it('sends each command once when every SendCommand outlasts its function, whose retry then finds the command sent', async () => {
    // Prepare: the same bootstrap twice, the second with every SendCommand taking 40 s (send-command may run 30 s).
    const calm = SimulatedFleet.standard();
    const calmRun = await bootstrapOnFleet(calm, consoleInput(calm));
    const slow = SimulatedFleet.standard();
    slow.slowDown('SendCommand', 40);

    // Act
    const run = await bootstrapOnFleet(slow, consoleInput(slow));

    // Assess: each send timed out and was retried, yet no document ran twice.
    expect(calmRun.error).toBeUndefined();
    expect(run.error).toBeUndefined();
    expect(run.tasks.filter((task) => task.error?.startsWith('Sandbox.Timedout')).length).toBeGreaterThan(5);
    const sends = (fleet: SimulatedFleet) => fleet.calls.filter((call) => call.operation === 'SendCommand').length;
    expect(sends(slow)).toBe(sends(calm));
    const perInstance = (fleet: SimulatedFleet) => fleet.invocations.map((invocation) => `${invocation.instanceId} ${invocation.document}`).sort();
    expect(perInstance(slow)).toEqual(perInstance(calm));
  });
});

describe('healing a large cluster under the service limits', () => {
  it('replaces a master of a 4,000-worker cluster with only the control plane in its payload', async () => {
    // Prepare: 4,000 more Ready workers make the cluster-status report ≈ 340 KB.
    const { fleet, plane } = await bootstrappedCluster();
    fleet.addJoinedWorkers('demo', 4000);
    const dead = fleet.byRole('master')[1]!;

    // Act
    fleet.terminateInstance(dead.instanceId);
    await plane.deliver(dead.instanceId, 'terminated');
    const [heal] = await plane.settle();

    // Assess
    const report = fleet.invocations.filter((invocation) => invocation.document === 'ClusterStatus').at(-1)!;
    expect(report.stdout.length).toBeGreaterThan(SERVICE_LIMITS.payloadBytes);
    expect(heal?.error).toBeUndefined();
    expect(heal!.peakPayloadBytes).toBeLessThan(SERVICE_LIMITS.payloadBytes / 8);
  });
});
