import { describe, expect, it } from 'vitest';
import { CERTIFICATE_CHECK_INTERVAL_MS, EMPTY_CERTIFICATE_STATE, assessAfterRenewal, assessBeforeRenewal, assessRestartQuorum, certificateCheckDue, recordCertificates } from '../../functions/core/certificates.js';
import { CertificateRenewalError, NodeNotReadyError, QuorumLostError } from '../../functions/core/errors.js';
import { planCertificates, renewalExecutionName } from '../../functions/core/reconcile.js';
import { instance } from '../support/instances.js';

const NOW = Date.parse('2027-11-01T00:00:00Z');
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const masters = [instance('master', { nodeState: 'initialized' }), instance('master', { nodeState: 'joined' }), instance('master', { nodeState: 'joined' })];
const [first, second, third] = masters.map((master) => master.instanceId) as [string, string, string];
const answer = (leafMs: number, caMs = NOW + 3000 * DAY) => ({ leaf: { name: 'admin.conf', expiresAt: iso(leafMs) }, ca: { name: 'ca', expiresAt: iso(caMs) } });

describe('recordCertificates', () => {
  it("records each asked master's answer, keeps the last known expiry of one that did not answer, and forgets masters that are gone", () => {
    // Prepare
    const known = recordCertificates(EMPTY_CERTIFICATE_STATE, masters, [first, second, third], { [first]: answer(NOW + 40 * DAY), [second]: answer(NOW + 50 * DAY), [third]: answer(NOW + 60 * DAY) }, NOW - DAY);

    // Act
    const next = recordCertificates(known, masters.slice(0, 2), [first, second], { [first]: null }, NOW);

    // Assess
    expect(next.renewing).toEqual({});
    expect(next.masters).toEqual({
      [first]: { checkedAt: NOW, leaf: answer(NOW + 40 * DAY).leaf, ca: answer(NOW + 40 * DAY).ca },
      [second]: { checkedAt: NOW, leaf: answer(NOW + 50 * DAY).leaf, ca: answer(NOW + 50 * DAY).ca },
    });
  });
});

describe('certificateCheckDue', () => {
  it('asks a master never asked, and one asked longer ago than the check interval, and not one asked just now', () => {
    const state = recordCertificates(EMPTY_CERTIFICATE_STATE, masters, [first, second], {}, NOW - CERTIFICATE_CHECK_INTERVAL_MS);
    const later = recordCertificates(state, masters, [second], {}, NOW - 60_000);

    expect([first, second, third].map((id) => certificateCheckDue(later, id, NOW, 30))).toEqual([true, false, true]);
  });
});

describe('planCertificates', () => {
  const known = recordCertificates(EMPTY_CERTIFICATE_STATE, masters, [first, second, third], { [first]: answer(NOW + 20 * DAY), [second]: answer(NOW + 29 * DAY), [third]: answer(NOW + 200 * DAY) }, NOW);

  it('reports each master within the threshold on every run, and tells a human once per certificate period', () => {
    // Act
    const run1 = planCertificates({ clusterName: 'prod-eu', masters, state: known, thresholdDays: 30, renew: false, now: NOW });
    const run2 = planCertificates({ clusterName: 'prod-eu', masters, state: run1.state, thresholdDays: 30, renew: false, now: NOW + 300_000 });
    // The first master renewed by hand: a new period, far from the threshold, then close again a year later.
    const renewed = recordCertificates(run2.state, masters, [first], { [first]: answer(NOW + 385 * DAY) }, NOW + DAY);
    const run3 = planCertificates({ clusterName: 'prod-eu', masters, state: renewed, thresholdDays: 30, renew: false, now: NOW + DAY });
    const yearLater = planCertificates({ clusterName: 'prod-eu', masters, state: run3.state, thresholdDays: 30, renew: false, now: NOW + 360 * DAY });

    // Assess
    expect(run1.actions.filter((action) => action.kind === 'report')).toHaveLength(2);
    expect(run1.actions.filter((action) => action.kind === 'alert')).toEqual([
      { kind: 'alert', subject: 'kubeha prod-eu: certificates of 2 masters expire within 30 days', message: expect.stringContaining(`${first} (${masters[0]!.privateIp}): admin.conf expires at ${iso(NOW + 20 * DAY)}`) },
    ]);
    expect(run2.actions.filter((action) => action.kind === 'alert')).toEqual([]);
    expect(run2.actions.filter((action) => action.kind === 'report')).toHaveLength(2);
    expect(run3.actions.filter((action) => action.kind === 'alert')).toEqual([]);
    // A year later the other two have expired: besides the once-per-period word, the daily urgent one.
    expect(yearLater.actions.filter((action) => action.kind === 'alert')).toEqual([
      expect.objectContaining({ subject: 'kubeha prod-eu: certificates of 2 masters expire within 7 days' }),
      expect.objectContaining({ subject: 'kubeha prod-eu: certificates of 2 masters expire within 30 days', message: expect.stringContaining(first) }),
    ]);
  });

  it('tells a human once that a certificate authority expires, which kubeha does not rotate', () => {
    const state = recordCertificates(EMPTY_CERTIFICATE_STATE, masters, [first, second], { [first]: answer(NOW + 300 * DAY, NOW + 10 * DAY), [second]: answer(NOW + 300 * DAY, NOW + 10 * DAY) }, NOW);

    const run1 = planCertificates({ clusterName: 'prod-eu', masters, state, thresholdDays: 30, renew: false, now: NOW });
    const run2 = planCertificates({ clusterName: 'prod-eu', masters, state: run1.state, thresholdDays: 30, renew: false, now: NOW + 300_000 });

    expect(run1.actions).toEqual([{ kind: 'alert', subject: 'kubeha prod-eu: a certificate authority expires within 30 days', message: expect.stringContaining(`ca expires at ${iso(NOW + 10 * DAY)}`) }]);
    expect(run2.actions).toEqual([]);
  });

  it('tells a human once of an expiring certificate authority across reconcile runs, which record the answers in between', () => {
    // Prepare: each 5-minute run records what the masters answered, then plans.
    const caSoon = { [first]: answer(NOW + 300 * DAY, NOW + 10 * DAY), [second]: answer(NOW + 300 * DAY, NOW + 10 * DAY) };
    let state = EMPTY_CERTIFICATE_STATE;
    const alerts: string[] = [];

    // Act
    for (let run = 0; run < 3; run += 1) {
      const now = NOW + run * 300_000;
      state = recordCertificates(state, masters, [first, second], caSoon, now);
      const plan = planCertificates({ clusterName: 'prod-eu', masters, state, thresholdDays: 30, renew: false, now });
      alerts.push(...plan.actions.flatMap((action) => (action.kind === 'alert' ? [action.subject] : [])));
      state = plan.state;
    }

    // Assess
    expect(alerts).toEqual(['kubeha prod-eu: a certificate authority expires within 30 days']);
  });
});

describe('planCertificates with renewal on', () => {
  const known = recordCertificates(EMPTY_CERTIFICATE_STATE, masters, [first, second, third], { [first]: answer(NOW + 20 * DAY), [second]: answer(NOW + 21 * DAY), [third]: answer(NOW + 200 * DAY) }, NOW);

  it('starts one renewal named after the earliest expiry, does not start it again for the same expiries, and tells nobody itself', () => {
    const run1 = planCertificates({ clusterName: 'prod-eu', masters, state: known, thresholdDays: 30, renew: true, now: NOW });
    // The renewal failed on the second master: its expiry is unchanged, the first's renewed.
    const afterFailure = recordCertificates(run1.state, masters, [first, second], { [first]: answer(NOW + 365 * DAY), [second]: answer(NOW + 21 * DAY) }, NOW + 3600_000);
    const run2 = planCertificates({ clusterName: 'prod-eu', masters, state: afterFailure, thresholdDays: 30, renew: true, now: NOW + 3600_000 });

    expect(run1.actions.filter((action) => action.kind !== 'report')).toEqual([{ kind: 'renew-certificates', executionName: `prod-eu-certs-${iso(NOW + 20 * DAY).replace(/[-:]/g, '')}-20271101`, masters: [first, second] }]);
    expect(run2.actions.filter((action) => action.kind !== 'report')).toEqual([]);
  });

  it('tries a failed renewal again the next day under a new name, and tells a human then that the first attempt did not renew it', () => {
    // Prepare: day 1 starts a renewal; it fails: the second master's expiry is unchanged on day 2.
    const day1 = planCertificates({ clusterName: 'prod-eu', masters, state: known, thresholdDays: 30, renew: true, now: NOW });
    const sameDay = planCertificates({ clusterName: 'prod-eu', masters, state: day1.state, thresholdDays: 30, renew: true, now: NOW + 6 * 3600_000 });
    const failed = recordCertificates(sameDay.state, masters, [first, second], { [first]: answer(NOW + 365 * DAY), [second]: answer(NOW + 21 * DAY) }, NOW + DAY);

    // Act
    const day2 = planCertificates({ clusterName: 'prod-eu', masters, state: failed, thresholdDays: 30, renew: true, now: NOW + DAY });
    const day2Later = planCertificates({ clusterName: 'prod-eu', masters, state: day2.state, thresholdDays: 30, renew: true, now: NOW + DAY + 300_000 });

    // Assess
    expect(sameDay.actions.filter((action) => action.kind !== 'report')).toEqual([]);
    expect(day2.actions.filter((action) => action.kind !== 'report')).toEqual([
      { kind: 'renew-certificates', executionName: `prod-eu-certs-${iso(NOW + 21 * DAY).replace(/[-:]/g, '')}-20271102`, masters: [second] },
      { kind: 'alert', subject: 'kubeha prod-eu: certificates of 1 master still expire after a renewal attempt', message: expect.stringContaining(`${second} (${masters[1]!.privateIp}): admin.conf expires at ${iso(NOW + 21 * DAY)}`) },
    ]);
    expect(day2Later.actions.filter((action) => action.kind !== 'report')).toEqual([]);
  });

  it('tells a human every day, once, while a master has 7 days or fewer left, renewal or not', () => {
    const close = recordCertificates(EMPTY_CERTIFICATE_STATE, masters, [first, second, third], { [first]: answer(NOW + 6 * DAY), [second]: answer(NOW + 200 * DAY), [third]: answer(NOW + 200 * DAY) }, NOW);

    const runs = [0, 300_000, DAY, DAY + 300_000].map((offset) => offset);
    let state = close;
    const alerts: number[] = [];
    for (const offset of runs) {
      const plan = planCertificates({ clusterName: 'prod-eu', masters, state, thresholdDays: 30, renew: true, now: NOW + offset });
      alerts.push(plan.actions.filter((action) => action.kind === 'alert').length);
      state = plan.state;
    }

    expect(alerts).toEqual([1, 0, 1, 0]);
  });

  it('keeps the execution name within the 80 characters Step Functions allows, for the longest cluster name', () => {
    expect(renewalExecutionName('a'.repeat(32), '2027-12-01T05:19:12Z', Date.parse('2027-11-30T23:59:59Z'))).toBe(`${'a'.repeat(32)}-certs-20271201T051912Z-20271130`);
    expect(renewalExecutionName('a'.repeat(32), '2027-12-01T05:19:12.123Z', NOW).length).toBeLessThanOrEqual(80);
  });

  it('checks a master within the window on every run, and one beyond it only every few hours', () => {
    expect(certificateCheckDue(known, first, NOW + 60_000, 30)).toBe(true);
    expect(certificateCheckDue(known, third, NOW + 60_000, 30)).toBe(false);
  });

  it('checks a master within the window hourly, not on every run, when only a human renews', () => {
    expect(certificateCheckDue(known, first, NOW + 300_000, 30, false)).toBe(false);
    expect(certificateCheckDue(known, first, NOW + 3600_000, 30, false)).toBe(true);
    expect(certificateCheckDue(known, third, NOW + 3600_000, 30, false)).toBe(false);
  });
});

describe('planCertificates and a restart pending', () => {
  it('starts a renewal for a master whose certificates are renewed but whose static pods never restarted', () => {
    const state = recordCertificates(EMPTY_CERTIFICATE_STATE, masters, [first, second, third], { [first]: { ...answer(NOW + 300 * DAY), restartPending: true }, [second]: answer(NOW + 300 * DAY), [third]: answer(NOW + 300 * DAY) }, NOW);

    const plan = planCertificates({ clusterName: 'prod-eu', masters, state, thresholdDays: 30, renew: true, now: NOW });

    expect(plan.actions.filter((action) => action.kind === 'renew-certificates')).toEqual([expect.objectContaining({ masters: [first] })]);
  });
});

describe('planCertificates with renewal on and two masters', () => {
  it('starts no renewal, whose restart would stop etcd, and tells a human once that it needs downtime', () => {
    const two = masters.slice(0, 2);
    const state = recordCertificates(EMPTY_CERTIFICATE_STATE, two, [first, second], { [first]: answer(NOW + 20 * DAY), [second]: answer(NOW + 21 * DAY) }, NOW);

    const run1 = planCertificates({ clusterName: 'prod-eu', masters: two, state, thresholdDays: 30, renew: true, now: NOW });
    const run2 = planCertificates({ clusterName: 'prod-eu', masters: two, state: run1.state, thresholdDays: 30, renew: true, now: NOW + 300_000 });

    expect(run1.actions.filter((action) => action.kind !== 'report')).toEqual([{ kind: 'alert', subject: 'kubeha prod-eu: certificates of 2 masters expire within 30 days', message: expect.stringContaining('needs downtime a human decides on') }]);
    expect(run2.actions.filter((action) => action.kind !== 'report')).toEqual([]);
  });
});

describe('assessBeforeRenewal', () => {
  const ips = masters.map((master) => master.privateIp!);
  const status = (leafMs: number, healthy = [true, true, true], ready = [true, true, true], restartPending = false) => ({
    members: ips.map((ip, index) => ({ id: `m${index}`, name: `m${index}`, peerIp: ip, healthy: healthy[index]!, isLearner: false })),
    nodes: ips.map((ip, index) => ({ name: `m${index}`, internalIp: ip, ready: ready[index]!, controlPlane: true })),
    certificates: { ...answer(leafMs), restartPending },
  });

  it('restarts a master whose files are renewed but whose static pods still run from before, through the same guard', () => {
    expect(assessBeforeRenewal(status(NOW + 300 * DAY, undefined, undefined, true), ips[0]!, 30, NOW)).toEqual({ renew: true, expiresAt: iso(NOW + 300 * DAY) });
    expect(() => assessBeforeRenewal(status(NOW + 300 * DAY, [true, false, true], undefined, true), ips[0]!, 30, NOW)).toThrow(QuorumLostError);
  });

  it('does not call a renewed master back while a static pod still runs from before the renewal', () => {
    expect(assessAfterRenewal(status(NOW + 365 * DAY, undefined, undefined, true), ips[1]!, 30, NOW + 600_000, NOW)).toEqual({ healthy: false, reason: expect.stringContaining('still run from before the renewal') });
  });

  it('skips a master whose certificates expire beyond the window, whatever else is wrong', () => {
    expect(assessBeforeRenewal(status(NOW + 300 * DAY, [true, false, false]), ips[0]!, 30, NOW)).toEqual({ renew: false, expiresAt: iso(NOW + 300 * DAY) });
  });

  it('renews a master within the window only while every other member is healthy and every other master Ready', () => {
    expect(assessBeforeRenewal(status(NOW + 20 * DAY), ips[0]!, 30, NOW)).toEqual({ renew: true, expiresAt: iso(NOW + 20 * DAY) });
    expect(() => assessBeforeRenewal(status(NOW + 20 * DAY, [true, false, true]), ips[0]!, 30, NOW)).toThrow(QuorumLostError);
    expect(() => assessBeforeRenewal(status(NOW + 20 * DAY, [true, true, true], [true, true, false]), ips[0]!, 30, NOW)).toThrow(/not Ready/);
  });

  it('waits for a renewed master, fails when its certificates are still old, and gives up when it does not come back', () => {
    const deadline = NOW + 600_000;
    expect(assessAfterRenewal(status(NOW + 365 * DAY), ips[1]!, 30, deadline, NOW)).toEqual({ healthy: true, expiresAt: iso(NOW + 365 * DAY) });
    expect(assessAfterRenewal(status(NOW + 365 * DAY, [true, false, true]), ips[1]!, 30, deadline, NOW)).toEqual({ healthy: false, reason: 'etcd member m1 is not healthy' });
    expect(() => assessAfterRenewal(status(NOW + 365 * DAY, [true, false, true]), ips[1]!, 30, deadline, deadline + 1)).toThrow(NodeNotReadyError);
    expect(() => assessAfterRenewal(status(NOW + 20 * DAY), ips[1]!, 30, deadline, NOW)).toThrow(CertificateRenewalError);
  });
});

describe('assessRestartQuorum', () => {
  /** Voting members m0..m(n-1) at 10.0.0.<i>, healthy unless listed; learners appended after them. */
  const members = (n: number, unhealthy: number[] = [], learners = 0) => [
    ...Array.from({ length: n }, (_, index) => ({ id: `m${index}`, name: `m${index}`, peerIp: `10.0.0.${index}`, healthy: !unhealthy.includes(index), isLearner: false })),
    ...Array.from({ length: learners }, (_, index) => ({ id: `l${index}`, name: '', peerIp: `10.0.1.${index}`, healthy: false, isLearner: true })),
  ];

  it('lets a master restart while the healthy voters besides it are a quorum of all voters', () => {
    expect(assessRestartQuorum(members(3), '10.0.0.0')).toEqual({ voters: 3, quorum: 2, healthyOthers: 2 });
    // Five voters, one other down: the three healthy others are still a quorum of five.
    expect(assessRestartQuorum(members(5, [4]), '10.0.0.0')).toEqual({ voters: 5, quorum: 3, healthyOthers: 3 });
    // A learner a failed join left does not vote and does not count.
    expect(assessRestartQuorum(members(3, [], 1), '10.0.0.0')).toEqual({ voters: 3, quorum: 2, healthyOthers: 2 });
  });

  it('refuses when the healthy voters besides the master are fewer than a quorum of all voters', () => {
    expect(() => assessRestartQuorum(members(3, [1]), '10.0.0.0')).toThrow(QuorumLostError);
    expect(() => assessRestartQuorum(members(5, [3, 4]), '10.0.0.0')).toThrow(/2 healthy voting members besides 10\.0\.0\.0, 3 needed/);
  });

  it('refuses a cluster of one or two voters, whose etcd stops while any member restarts: that renewal needs downtime a human decides on', () => {
    expect(() => assessRestartQuorum(members(2), '10.0.0.0')).toThrow(/needs downtime/);
    expect(() => assessRestartQuorum(members(1), '10.0.0.0')).toThrow(QuorumLostError);
  });

  it('is the guard before a renewal: two healthy masters are refused', () => {
    const two = { members: members(2), nodes: [0, 1].map((index) => ({ name: `m${index}`, internalIp: `10.0.0.${index}`, ready: true, controlPlane: true })), certificates: answer(NOW + 20 * DAY) };
    expect(() => assessBeforeRenewal(two, '10.0.0.0', 30, NOW)).toThrow(/needs downtime/);
  });
});
