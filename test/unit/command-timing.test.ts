import { describe, expect, it } from 'vitest';
import {
  BATCH_POLL_SECONDS,
  BOOT_DEADLINE_MS,
  BOOT_SLOW_POLL_SECONDS,
  FAST_POLL_SECONDS,
  POLLS_PER_SECOND,
  SLOW_POLL_SECONDS,
  TYPICAL_READY_SECONDS,
  bootWait,
  firstBootPollSeconds,
  nextBootPollSeconds,
  nextPollSeconds,
  onPollSlot,
  secondsUntilPollSlot,
  sharePolls,
} from '../../functions/core/command-timing.js';
import { awaitInstance } from '../../functions/core/healing-steps.js';
import type { Ports } from '../../functions/core/ports.js';
import { instance } from '../support/instances.js';

describe('nextPollSeconds', () => {
  it('polls a batch step every 2 s, but every second when it is the one command of a healing', () => {
    expect(nextPollSeconds('install-prerequisites', 85)).toBe(BATCH_POLL_SECONDS);
    expect(nextPollSeconds('install-prerequisites', 85, 1)).toBe(FAST_POLL_SECONDS);
    expect(nextPollSeconds('join-worker', 30, 1)).toBe(FAST_POLL_SECONDS);
  });

  it('falls back to the slow poll once a command is late, however closely it was watched', () => {
    expect(nextPollSeconds('install-prerequisites', 200, 1)).toBe(SLOW_POLL_SECONDS);
  });
});

describe('the boot schedule', () => {
  it('first looks at the fast end of a typical boot: a launch waits for its agent to register too', () => {
    expect(firstBootPollSeconds('start')).toBe(Math.floor(TYPICAL_READY_SECONDS.start * 0.85));
    expect(firstBootPollSeconds('launch')).toBe(Math.floor(TYPICAL_READY_SECONDS.launch * 0.85));
    expect(firstBootPollSeconds('launch')).toBeGreaterThan(firstBootPollSeconds('start'));
  });

  it('waits out the rest of the fast end when a look came early, then looks every second, then slowly once late', () => {
    const first = firstBootPollSeconds('launch');
    expect(nextBootPollSeconds('launch', 10)).toBe(first - 10);
    expect(nextBootPollSeconds('launch', first)).toBe(FAST_POLL_SECONDS);
    expect(nextBootPollSeconds('launch', TYPICAL_READY_SECONDS.launch)).toBe(FAST_POLL_SECONDS);
    expect(nextBootPollSeconds('launch', TYPICAL_READY_SECONDS.launch * 2)).toBe(BOOT_SLOW_POLL_SECONDS);
  });
});

describe('awaitInstance', () => {
  const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
  const ports = (ec2State: string, online: boolean) =>
    ({
      ec2: { describeInstance: async (instanceId: string) => instance('worker', { instanceId, ec2State, privateIp: '10.0.1.20' }) },
      ssm: { onlineInstanceIds: async (ids: readonly string[]) => new Set(online ? ids : []) },
      clock: { now: () => NOW },
    }) as unknown as Pick<Ports, 'ec2' | 'ssm' | 'clock'>;
  const input = { instanceId: 'i-0123456789abcdef0', deadline: NOW + 60_000 };

  it('says when to look again from how long the instance has been booting', async () => {
    // Act: a launch 80 s ago, still without an online agent.
    const waiting = await awaitInstance({ ...input, boot: 'launch', bootingSince: NOW - 80_000 }, ports('running', false));

    // Assess
    expect(waiting).toEqual({ status: 'Waiting', ec2State: 'running', pollAfterSeconds: FAST_POLL_SECONDS });
  });

  it('keeps the slow interval for a caller that does not say when the boot began', async () => {
    expect(await awaitInstance(input, ports('pending', false))).toEqual({ status: 'Waiting', ec2State: 'pending', pollAfterSeconds: BOOT_SLOW_POLL_SECONDS });
  });

  it('is Ready with the address once running with an online agent', async () => {
    expect(await awaitInstance({ ...input, boot: 'start', bootingSince: NOW - 45_000 }, ports('running', true))).toEqual({ status: 'Ready', privateIp: '10.0.1.20' });
  });
});

describe('bootWait', () => {
  it('gives a started or launched instance its deadline and first look, and looks again at once at one already booting', () => {
    // Act
    const launched = bootWait('launch', 1_000);
    const started = bootWait('start', 1_000);
    const alreadyBooting = bootWait('start', 1_000, true);

    // Assess
    expect(launched).toEqual({ readyBy: 1_000 + BOOT_DEADLINE_MS, boot: 'launch', bootingSince: 1_000, pollAfterSeconds: firstBootPollSeconds('launch') });
    expect(started.pollAfterSeconds).toBe(firstBootPollSeconds('start'));
    expect(alreadyBooting.pollAfterSeconds).toBe(FAST_POLL_SECONDS);
  });
});

describe('sharePolls', () => {
  it('keeps a heal alone looking every second', () => {
    expect(sharePolls(1, 0)).toEqual({ pollEverySeconds: FAST_POLL_SECONDS, pollSlot: 0 });
    expect(sharePolls(POLLS_PER_SECOND, POLLS_PER_SECOND - 1)).toEqual({ pollEverySeconds: 1, pollSlot: 0 });
  });

  it('spaces N heals to ⌈N / POLLS_PER_SECOND⌉ s, as bootstrap spaces its batches', () => {
    expect(sharePolls(6, 0).pollEverySeconds).toBe(2);
    expect(sharePolls(20, 0).pollEverySeconds).toBe(4);
    expect(sharePolls(30, 0).pollEverySeconds).toBe(6);
  });

  it('puts at most POLLS_PER_SECOND heals in any slot of the period', () => {
    // Prepare / Act: 23 heals ranked 0-22.
    const shares = Array.from({ length: 23 }, (_, rank) => sharePolls(23, rank));

    // Assess: every heal in one of the period's 5 slots, none holding more than 5.
    const perSlot = new Map<number, number>();
    for (const share of shares) perSlot.set(share.pollSlot, (perSlot.get(share.pollSlot) ?? 0) + 1);
    expect(shares.every((share) => share.pollEverySeconds === 5 && share.pollSlot >= 0 && share.pollSlot < 5)).toBe(true);
    expect(Math.max(...perSlot.values())).toBeLessThanOrEqual(POLLS_PER_SECOND);
  });

  it('stops at the slow poll however many heals run', () => {
    expect(sharePolls(500, 499)).toEqual({ pollEverySeconds: SLOW_POLL_SECONDS, pollSlot: 499 % SLOW_POLL_SECONDS });
  });
});

describe('onPollSlot', () => {
  const at = (second: number, fraction = 0.3) => (1_000_000 + second + fraction) * 1000;

  it('changes nothing without a share or with a period of one second', () => {
    expect(onPollSlot(7, at(0))).toBe(7);
    expect(onPollSlot(7, at(0), { pollEverySeconds: 1, pollSlot: 0 })).toBe(7);
    expect(onPollSlot(7, at(0), { pollEverySeconds: 4 })).toBe(7);
  });

  it('moves a look into its slot by at most half a period, either way', () => {
    // Prepare: 1,000,000 is divisible by 4, so second s of the test is s modulo 4.
    const share = { pollEverySeconds: 4, pollSlot: 2 };

    // Act / Assess: a look due at second 4 (slot 0) moves to 2 or 6; at 5 (slot 1) to 6; at 7 (slot 3) to 6.
    expect([2, 6]).toContain(onPollSlot(4, at(0), share));
    expect(onPollSlot(5, at(0), share)).toBe(6);
    expect(onPollSlot(7, at(0), share)).toBe(6);
    expect(onPollSlot(6, at(0), share)).toBe(6);
  });

  it('keeps the period on average when a Lambda ran past a second boundary', () => {
    // A poll in slot 2 whose Lambda ended in second 3: the next look waits 3 s, not 7.
    expect(onPollSlot(4, at(3, 0.1), { pollEverySeconds: 4, pollSlot: 2 })).toBe(3);
  });

  it('never waits less than a second', () => {
    expect(onPollSlot(1, at(0), { pollEverySeconds: 6, pollSlot: 4 })).toBeGreaterThanOrEqual(1);
  });
});

describe('secondsUntilPollSlot', () => {
  it('counts the seconds to the next second of the slot, 0 within it', () => {
    // Prepare: second 1,200,000 is 0 modulo 6.
    const share = { pollEverySeconds: 6, pollSlot: 4 };
    const second = (n: number, fraction = 0.5) => (1_200_000 + n + fraction) * 1000;

    // Act / Assess
    expect(secondsUntilPollSlot(second(4), share)).toBe(0);
    expect(secondsUntilPollSlot(second(5), share)).toBe(5);
    expect(secondsUntilPollSlot(second(0, 0), share)).toBe(4);
    expect(secondsUntilPollSlot(second(3), { pollEverySeconds: 1, pollSlot: 0 })).toBe(0);
  });
});

describe('the boot schedule of a heal among many', () => {
  it('looks every pollEverySeconds while the boot is likely to end, and no more often than the slow poll once late', () => {
    const first = firstBootPollSeconds('launch');
    expect(nextBootPollSeconds('launch', first, 4)).toBe(4);
    expect(nextBootPollSeconds('launch', TYPICAL_READY_SECONDS.launch * 2, 4)).toBe(BOOT_SLOW_POLL_SECONDS);
    expect(nextBootPollSeconds('launch', TYPICAL_READY_SECONDS.launch * 2, 8)).toBe(8);
  });

  it('puts the first look of a launch in the heal\'s slot', () => {
    // Prepare: launched at second 1,000,000.5; the typical first look would come at second 1,000,072.
    const now = 1_000_000_500;
    const share = { pollEverySeconds: 5, pollSlot: 3 };

    // Act
    const wait = bootWait('launch', now, false, share).pollAfterSeconds;

    // Assess: in the slot, within half a period of the usual first look.
    expect((Math.floor(now / 1000) + wait) % 5).toBe(3);
    expect(Math.abs(wait - firstBootPollSeconds('launch'))).toBeLessThanOrEqual(2.5);
    expect(bootWait('launch', now).pollAfterSeconds).toBe(firstBootPollSeconds('launch'));
  });

  it('answers a heal\'s boot poll in its slot', async () => {
    // Prepare: NOW is a whole minute, so its second is 0 modulo 4.
    const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
    const ports = {
      ec2: { describeInstance: async (instanceId: string) => instance('worker', { instanceId, ec2State: 'running', privateIp: '10.0.1.20' }) },
      ssm: { onlineInstanceIds: async () => new Set<string>() },
      clock: { now: () => NOW },
    } as unknown as Pick<Ports, 'ec2' | 'ssm' | 'clock'>;

    // Act: 80 s into a launch, the heal polls every 4 s in slot 1.
    const waiting = await awaitInstance({ instanceId: 'i-0123456789abcdef0', deadline: NOW + 60_000, boot: 'launch', bootingSince: NOW - 80_000, pollEverySeconds: 4, pollSlot: 1 }, ports);

    // Assess
    expect(waiting).toEqual({ status: 'Waiting', ec2State: 'running', pollAfterSeconds: 5 });
  });
});
