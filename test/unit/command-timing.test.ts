import { describe, expect, it } from 'vitest';
import {
  BATCH_POLL_SECONDS,
  BOOT_DEADLINE_MS,
  BOOT_SLOW_POLL_SECONDS,
  FAST_POLL_SECONDS,
  SLOW_POLL_SECONDS,
  TYPICAL_READY_SECONDS,
  bootWait,
  firstBootPollSeconds,
  nextBootPollSeconds,
  nextPollSeconds,
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
