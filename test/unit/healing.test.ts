import { describe, expect, it } from 'vitest';
import { QuorumLostError } from '../../functions/core/errors.js';
import { assessQuorum, decideOnLock, healsUnderWay, healthyStandby, loadBalancerOrder, triageEvent } from '../../functions/core/healing-decisions.js';
import { instance } from '../support/instances.js';

const TAGS = { 'kubernetes.io/cluster/prod-eu': 'owned', 'kubeha:role': 'master' };
const event = (state: string) => ({ id: '7bf73129-1428-4cd3-a780-95db273d1602', time: '2026-11-24T09:00:00Z', instanceId: 'i-0123456789abcdef0', state });
const member = (name: string, peerIp: string, healthy = true) => ({ id: name, name, peerIp, healthy });

describe('triageEvent', () => {
  it('starts heal-master for a stopped or terminated master of a served cluster', () => {
    for (const state of ['stopped', 'terminated']) {
      expect(triageEvent(event(state), { tags: TAGS }, ['prod-eu'])).toEqual({ action: 'heal', clusterName: 'prod-eu', role: 'master', machine: 'heal-master', failOverElasticIp: false });
    }
  });

  it('only fails the Elastic IP over on the early signals of a load balancer, starting no workflow yet', () => {
    expect(triageEvent(event('stopping'), { tags: { ...TAGS, 'kubeha:role': 'lb' } }, ['prod-eu'])).toEqual({
      action: 'heal',
      clusterName: 'prod-eu',
      role: 'lb',
      machine: undefined,
      failOverElasticIp: true,
    });
  });

  it.each([
    [event('running'), { tags: TAGS }, ['prod-eu'], 'state running needs no healing'],
    [event('terminated'), undefined, ['prod-eu'], 'EC2 no longer describes the instance'],
    [event('terminated'), { tags: { Name: 'web' } }, ['prod-eu'], 'not a kubeha instance'],
    [event('terminated'), { tags: TAGS }, ['staging'], 'cluster prod-eu is not served by this stack'],
    [event('terminated'), { tags: { ...TAGS, 'kubeha:retiring': 'true' } }, ['prod-eu'], 'kubeha is retiring this instance itself'],
  ])('ignores %o (%s)', (change, found, clusters, reason) => {
    expect(triageEvent(change, found, clusters)).toEqual({ action: 'ignore', reason });
  });
});

describe('assessQuorum', () => {
  it('allows removing a dead member when every other member is healthy', () => {
    const members = [member('a', '10.0.0.11'), member('b', '10.0.16.11'), member('c', '10.0.32.11', false)];
    expect(assessQuorum(members, '10.0.32.11')).toEqual({ memberToRemove: members[2], membersAfter: 2, healthyAfter: 2 });
  });

  it('refuses when a second member is unhealthy, naming it', () => {
    const members = [member('a', '10.0.0.11'), member('b', '10.0.16.11', false), member('c', '10.0.32.11', false)];
    expect(() => assessQuorum(members, '10.0.32.11')).toThrow(QuorumLostError);
    expect(() => assessQuorum(members, '10.0.32.11')).toThrow(/etcd members b are unhealthy/);
  });

  it('passes over a learner, which does not vote, counting only the voters that remain', () => {
    // Prepare: the unstarted learner a failed join left on another address (etcdctl lists it without a name).
    const members = [member('a', '10.0.0.11'), member('b', '10.0.16.11'), { ...member('(unstarted)', '10.0.48.20', false), isLearner: true }, member('c', '10.0.32.11', false)];

    // Act
    const verdict = assessQuorum(members, '10.0.32.11');

    // Assess
    expect(verdict).toEqual({ memberToRemove: members[3], membersAfter: 2, healthyAfter: 2 });
  });

  it('still refuses when a second voter is unhealthy, a learner or not', () => {
    const members = [member('a', '10.0.0.11'), member('b', '10.0.16.11', false), { ...member('(unstarted)', '10.0.48.20', false), isLearner: true }, member('c', '10.0.32.11', false)];
    expect(() => assessQuorum(members, '10.0.32.11')).toThrow(/etcd members b are unhealthy/);
  });

  it('refuses when only learners would be left besides the target', () => {
    const members = [{ ...member('(unstarted)', '10.0.48.20', false), isLearner: true }, member('c', '10.0.32.11', false)];
    expect(() => assessQuorum(members, '10.0.32.11')).toThrow(/no other voting etcd member/);
  });

  it('is satisfied when the target is already gone from the list, with nothing to remove', () => {
    expect(assessQuorum([member('a', '10.0.0.11'), member('b', '10.0.16.11')], '10.0.32.11')).toMatchObject({ memberToRemove: undefined, membersAfter: 2 });
  });

  it('refuses when the target is the only member', () => {
    expect(() => assessQuorum([member('a', '10.0.0.11', false)], '10.0.0.11')).toThrow(/no other voting etcd member/);
  });
});

describe('decideOnLock', () => {
  const lock = { executionArn: 'arn:holder', purpose: 'heal', acquiredAt: '' };
  it('keeps a lock this execution already holds (a retried Task)', () => {
    expect(decideOnLock(lock, 'arn:holder', 'RUNNING', 0)).toEqual({ verdict: 'held-by-us' });
  });
  it('takes over a lock whose holder is not running any more', () => {
    for (const status of ['SUCCEEDED', 'FAILED', 'ABORTED', undefined]) expect(decideOnLock(lock, 'arn:me', status, 0)).toEqual({ verdict: 'take-over', staleHolder: 'arn:holder' });
  });
  it('takes over a lock whose lease is over, even if its holder still seems to run', () => {
    expect(decideOnLock({ ...lock, leaseUntil: 1000 }, 'arn:me', 'RUNNING', 1001)).toEqual({ verdict: 'take-over', staleHolder: 'arn:holder' });
    expect(decideOnLock({ ...lock, leaseUntil: 1000 }, 'arn:me', 'RUNNING', 999)).toEqual({ verdict: 'wait', holder: 'arn:holder' });
  });
  it('waits for a running holder', () => {
    expect(decideOnLock(lock, 'arn:me', 'RUNNING', 0)).toEqual({ verdict: 'wait', holder: 'arn:holder' });
  });
});

describe('load balancer choices', () => {
  it('picks the running standby, never the failed one or a stopped one', () => {
    const failed = instance('lb');
    const stopped = instance('lb', { ec2State: 'stopped' });
    const standby = instance('lb');
    expect(healthyStandby([failed, stopped, standby], failed.instanceId)).toBe(standby);
    expect(healthyStandby([failed, stopped], failed.instanceId)).toBeUndefined();
  });

  it('orders load balancer addresses with the Elastic IP holder first', () => {
    const balancers = [
      { instanceId: 'i-a', privateIp: '10.0.0.5' },
      { instanceId: 'i-b', privateIp: '10.0.16.5' },
    ];
    expect(loadBalancerOrder(balancers, 'i-b')).toEqual(['10.0.16.5', '10.0.0.5']);
    expect(loadBalancerOrder(balancers, undefined)).toEqual(['10.0.0.5', '10.0.16.5']);
  });
});

describe('healsUnderWay', () => {
  it('counts dead instances not yet replaced and replacements not yet joined, each once, under the instance they heal', () => {
    // Prepare: three workers of a zone dead; one replaced and joined, one replacement booting, one not launched yet.
    const joinedWorker = instance('worker', { nodeState: 'joined' });
    const deadReplaced = instance('worker', { ec2State: 'terminated', privateIp: undefined });
    const deadBooting = instance('worker', { ec2State: 'terminated', privateIp: undefined });
    const deadWaiting = instance('worker', { ec2State: 'shutting-down' });
    const instances = [
      joinedWorker,
      deadReplaced,
      deadBooting,
      deadWaiting,
      instance('worker', { nodeState: 'joined', tags: { 'kubeha:replaces': deadReplaced.instanceId } }),
      instance('worker', { ec2State: 'pending', tags: { 'kubeha:replaces': deadBooting.instanceId } }),
    ];

    // Act
    const underWay = healsUnderWay(instances, true);

    // Assess
    expect(underWay).toEqual([deadBooting.instanceId, deadWaiting.instanceId].sort());
  });

  it('counts a load balancer\'s replacement until it is configured, and a stopped instance only when the policy starts it', () => {
    // Prepare
    const deadBalancer = instance('lb', { ec2State: 'terminated' });
    const stopped = instance('worker', { ec2State: 'stopped', nodeState: 'joined' });
    const instances = [deadBalancer, stopped, instance('lb', { nodeState: 'prepared', tags: { 'kubeha:replaces': deadBalancer.instanceId } })];

    // Act / Assess
    expect(healsUnderWay(instances, true)).toEqual([deadBalancer.instanceId, stopped.instanceId].sort());
    expect(healsUnderWay(instances, false)).toEqual([deadBalancer.instanceId]);
  });

  it('ignores instances without a kubeha role and a cluster with nothing to heal', () => {
    expect(healsUnderWay([instance(undefined, { ec2State: 'terminated' }), ...Array.from({ length: 3 }, () => instance('worker', { nodeState: 'joined' }))], true)).toEqual([]);
  });
});
