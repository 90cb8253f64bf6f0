import { describe, expect, it } from 'vitest';
import { groupFleet } from '../../functions/core/cluster.js';
import { parseBootstrapInput } from '../../functions/core/config.js';
import { POLLS_PER_SECOND, SEND_COMMANDS_PER_SECOND, planBootstrap, standbyRows } from '../../functions/core/plan.js';
import { TODAY, bootstrapInput } from '../support/inputs.js';
import { instance, standardInstances } from '../support/instances.js';

const config = (overrides: Record<string, unknown> = {}) => parseBootstrapInput(bootstrapInput(overrides), TODAY);

describe('planBootstrap', () => {
  it('initializes the earliest-launched master and joins the others, all workers in one batch', () => {
    // Prepare
    const fleet = groupFleet(standardInstances());

    // Act
    const plan = planBootstrap(config(), fleet, '203.0.113.10');

    // Assess
    expect(plan.firstMaster).toEqual(fleet.masters[0]);
    expect(plan.firstMasterInitialized).toBe(false);
    expect(plan.mastersToJoin).toEqual(fleet.masters.slice(1));
    expect(plan.workerBatches).toEqual([fleet.workers.map((worker) => worker.instanceId)]);
    expect(plan.prerequisiteBatches.map((batch) => [batch.role, batch.instanceIds.length, batch.leadsToInit])).toEqual([['master', 1, true], ['lb', 2, true], ['master', 2, false], ['worker', 3, false]]);
    expect(plan.endpoint).toEqual({ host: '203.0.113.10', port: 6443, address: '203.0.113.10:6443' });
  });

  it('uses the DNS name as the endpoint and puts it, the Elastic IP, the load balancer addresses and the node proxies\' 127.0.0.1 and localhost in the SANs', () => {
    const fleet = groupFleet(standardInstances());
    const plan = planBootstrap(config({ controlPlaneDnsName: 'k8s.example.com', loadBalancerPort: 8443 }), fleet, '203.0.113.10');
    expect(plan.endpoint.address).toBe('k8s.example.com:8443');
    expect(plan.certSans).toEqual(['203.0.113.10', 'k8s.example.com', ...fleet.loadBalancers.map((balancer) => balancer.privateIp), '127.0.0.1', 'localhost']);
  });

  it('resumes: keeps the initialized master first and skips nodes already joined or prepared', () => {
    // Prepare: a previous run initialized the second-launched master and joined one worker.
    const masters = [instance('master', { nodeState: 'prepared' }), instance('master', { nodeState: 'initialized' }), instance('master')];
    const workers = [instance('worker', { nodeState: 'joined' }), instance('worker', { nodeState: 'prepared' })];
    const fleet = groupFleet([...masters, ...workers, instance('lb', { nodeState: 'configured' })]);

    // Act
    const plan = planBootstrap(config(), fleet, '203.0.113.10');

    // Assess
    expect(plan.firstMaster.instanceId).toBe(masters[1]!.instanceId);
    expect(plan.firstMasterInitialized).toBe(true);
    expect(plan.mastersToJoin.map((master) => master.instanceId)).toEqual([masters[0]!.instanceId, masters[2]!.instanceId]);
    expect(plan.workerBatches).toEqual([[workers[1]!.instanceId]]);
    expect(plan.prerequisiteBatches).toEqual([{ role: 'master', instanceIds: [masters[2]!.instanceId], leadsToInit: false, sendAfterSeconds: 0, pollEverySeconds: 2 }]);
    expect(plan.skipped).toEqual({ prerequisites: 5, masters: 0, workers: 1 });
  });

  it('splits 120 workers into batches no larger than workerBatchSize', () => {
    const fleet = groupFleet(standardInstances({ workers: 120 }));
    const plan = planBootstrap(config(), fleet, '203.0.113.10');
    expect(plan.workerBatches.map((batch) => batch.length)).toEqual([50, 50, 20]);
    const smaller = planBootstrap(config({ workerBatchSize: 25 }), fleet, '203.0.113.10');
    expect(smaller.workerBatches).toHaveLength(5);
  });

  it('sends at most SEND_COMMANDS_PER_SECOND prerequisite batches a second, the masters\' and load balancers\' first, and spaces a large fleet\'s polls', () => {
    // Prepare: 1,000 workers make 20 batches besides the masters' and the load balancers'.
    const fleet = groupFleet(standardInstances({ workers: 1000 }));

    // Act
    const plan = planBootstrap(config(), fleet, '203.0.113.10');

    // Assess
    const perSecond = new Map<number, number>();
    for (const batch of plan.prerequisiteBatches) perSecond.set(batch.sendAfterSeconds, (perSecond.get(batch.sendAfterSeconds) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBe(SEND_COMMANDS_PER_SECOND);
    expect(plan.prerequisiteBatches.slice(0, 2).map((batch) => [batch.role, batch.sendAfterSeconds])).toEqual([['master', 0], ['lb', 0]]);
    expect(plan.prerequisiteBatches.at(-1)?.sendAfterSeconds).toBe(Math.floor((plan.prerequisiteBatches.length - 1) / SEND_COMMANDS_PER_SECOND));
    // 22 batches polled every 5 s: 4.4 polls a second, inside POLLS_PER_SECOND.
    expect(plan.prerequisiteBatches.length / plan.prerequisiteBatches[0]!.pollEverySeconds).toBeLessThanOrEqual(POLLS_PER_SECOND);
    expect(planBootstrap(config(), groupFleet(standardInstances({ workers: 300 })), '203.0.113.10').prerequisiteBatches[0]!.pollEverySeconds).toBe(2);
  });

  it('leaves stopped instances out of the fleet it plans for', () => {
    const fleet = groupFleet([...standardInstances(), instance('worker', { ec2State: 'stopped' })]);
    expect(fleet.workers).toHaveLength(3);
  });
});

describe('standbyRows', () => {
  const NOW = Date.parse('2026-11-24T09:00:00Z');
  const ZONES = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
  const masters = () => ZONES.map((zone) => instance('master', { availabilityZone: zone }));
  const standby = (role: 'master' | 'worker', zone: string, state: 'ready' | 'preparing', version = '1.36.4') =>
    instance(undefined, {
      availabilityZone: zone,
      ec2State: state === 'ready' ? 'stopped' : 'running',
      launchTime: new Date(NOW - 60_000).toISOString(),
      tags: { 'kubernetes.io/cluster/prod-eu': 'owned', 'kubeha:standby-for': role, 'kubeha:standby-state': state, 'kubeha:standby-version': version },
    });

  it('lists one row per wanted standby, per role and zone: ready, preparing, and missing where reconcile will launch one', () => {
    // Prepare: three master standbys wanted, one ready in a, one preparing in b; one worker wanted, none yet.
    const ready = standby('master', 'eu-west-1a', 'ready');
    const preparing = standby('master', 'eu-west-1b', 'preparing');
    const workers = [instance('worker', { availabilityZone: 'eu-west-1c' })];

    // Act
    const rows = standbyRows({ master: 3, worker: 1 }, [...masters(), ...workers, ready, preparing], '1.36.4', NOW);

    // Assess
    expect(rows).toEqual([
      { role: 'master', zone: 'eu-west-1a', state: 'ready', instanceId: ready.instanceId },
      { role: 'master', zone: 'eu-west-1b', state: 'preparing', instanceId: preparing.instanceId },
      { role: 'master', zone: 'eu-west-1c', state: 'missing', note: 'reconcile launches it' },
      { role: 'worker', zone: 'eu-west-1c', state: 'missing', note: 'reconcile launches it' },
    ]);
  });

  it('shows as retiring a standby of another version, a second one in a zone and the surplus, each with why', () => {
    // Prepare
    const outdated = standby('master', 'eu-west-1a', 'ready', '1.36.3');
    const kept = standby('master', 'eu-west-1b', 'ready');
    const second = standby('master', 'eu-west-1b', 'preparing');
    const extraWorker = standby('worker', 'eu-west-1a', 'ready');

    // Act
    const rows = standbyRows({ master: 1, worker: 0 }, [...masters(), outdated, kept, second, extraWorker], '1.36.4', NOW);

    // Assess
    expect(rows).toEqual([
      { role: 'master', zone: 'eu-west-1a', state: 'retiring', instanceId: outdated.instanceId, note: 'prepared for Kubernetes 1.36.3, the cluster runs 1.36.4' },
      { role: 'master', zone: 'eu-west-1b', state: 'ready', instanceId: kept.instanceId },
      { role: 'master', zone: 'eu-west-1b', state: 'retiring', instanceId: second.instanceId, note: 'a second master standby in eu-west-1b: one waits in each zone of the masters' },
      { role: 'worker', zone: 'eu-west-1a', state: 'retiring', instanceId: extraWorker.instanceId, note: 'more worker standbys than the 0 wanted' },
    ]);
  });

  it('lists a wanted master standby that has no zone to go to when the masters hold fewer zones than asked for', () => {
    const twoZones = [instance('master', { availabilityZone: 'eu-west-1a' }), instance('master', { availabilityZone: 'eu-west-1b' }), instance('master', { availabilityZone: 'eu-west-1a' })];
    const rows = standbyRows({ master: 3, worker: 0 }, twoZones, '1.36.4', NOW);
    expect(rows.map((row) => [row.zone, row.state])).toEqual([['eu-west-1a', 'missing'], ['eu-west-1b', 'missing'], [undefined, 'missing']]);
    expect(rows[2]!.note).toBe('no zone left: the masters hold 2, one standby in each');
  });

  it('lists nothing for a cluster that wants none and has none', () => {
    expect(standbyRows({ master: 0, worker: 0 }, masters(), '1.36.4', NOW)).toEqual([]);
  });
});
