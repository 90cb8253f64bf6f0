// The load-balancer pair for real (test/support/load-balancer-pair.ts): keepalived and nginx with the rendered
// configurations, in two network namespaces. This file asserts what happens; how fast it happens is measured by
// bench/load-balancer.ts, so the timeouts below are functional ones, generous on a busy machine.
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadBalancerPair, sleep, until } from '../support/load-balancer-pair.js';

describe('the load-balancer pair in network namespaces (real keepalived and nginx)', () => {
  const pair = new LoadBalancerPair();
  const { primary, standby } = pair;

  beforeAll(() => pair.setUp());
  afterAll(() => pair.tearDown());

  it('should put the Elastic IP on the primary once keepalived elects it', async () => {
    const master = await pair.untilSteady(20_000);

    expect(master).toBe(primary);
    expect(pair.holder()).toBe(primary.instanceId);
    expect(standby.state()).toBe('BACKUP');
  });

  it('should make no transition at all while both load balancers serve under load (a short soak)', async () => {
    // Prepare
    await pair.untilSteady(20_000);
    await sleep(2_500);
    const load = primary.helper('load', '6443', '50');
    const before = pair.transitionCount();

    // Act
    await sleep(10_000);
    primary.stopHelper(load.child);

    // Assess
    const served = load.lines.lines.reduce((sum, line) => sum + Number(/ok (\d+)/.exec(line.text)?.[1] ?? 0), 0);
    expect(pair.transitionCount() - before).toBe(0);
    expect(pair.holder()).toBe(primary.instanceId);
    expect(served).toBeGreaterThan(0);
  });

  it('should repair an nginx crash in place, without moving the Elastic IP', async () => {
    // Prepare
    await pair.untilSteady(20_000);
    const before = pair.transitionCount();
    const restarts = primary.nginx.restarts.length;

    // Act: the master process dies uncleanly; systemd's Restart=on-failure starts a new one.
    primary.nginx.crash();
    await until('nginx restarted by its unit', () => primary.nginx.restarts.length > restarts, 10_000);
    await until('nginx answering again', () => primary.healthy(), 10_000);
    await sleep(3_000);

    // Assess
    expect(pair.transitionCount() - before).toBe(0);
    expect(primary.state()).toBe('MASTER');
    expect(pair.holder()).toBe(primary.instanceId);
  });

  it('should bring the Elastic IP back to the MASTER after a VRRP partition heals, though no transition runs notify_master there', async () => {
    // Prepare: the partition makes the standby MASTER too, and it takes the Elastic IP.
    await pair.untilSteady(20_000);
    pair.partition(true);
    await until('the standby taking the Elastic IP during the partition', () => pair.holder() === standby.instanceId, 20_000);
    expect(primary.state()).toBe('MASTER');

    // The partition heals; the standby steps down, the primary stays MASTER without a transition. Both were
    // MASTER meanwhile, so either may have claimed last: leave the address where a heal can leave it, on the standby.
    pair.partition(false);
    await until('the standby stepping down', () => standby.state() === 'BACKUP', 20_000);
    writeFileSync(pair.eipFile, `${standby.instanceId}\n`);

    // Act
    await until('the Elastic IP back on the MASTER', () => pair.holder() === primary.instanceId, 25_000);

    // Assess
    expect(primary.state()).toBe('MASTER');
    expect(standby.state()).toBe('BACKUP');
  });

  it('should move the Elastic IP to the standby when nginx on the MASTER hangs', async () => {
    // Prepare
    await pair.untilSteady(20_000);

    // Act: every nginx process stops; connections still land in its listen backlog.
    primary.nginx.hang(true);
    try {
      await until('the standby holding the Elastic IP', () => pair.holder() === standby.instanceId, 20_000);
    } finally {
      primary.nginx.hang(false);
    }

    // Assess
    expect(primary.state()).toBe('FAULT');
    expect(standby.state()).toBe('MASTER');
    await until('the primary back to BACKUP once nginx answers again', () => primary.state() === 'BACKUP', 20_000);
    expect(pair.holder()).toBe(standby.instanceId);
  });

  it('should move the Elastic IP when nginx on the MASTER stops for good (a clean stop systemd does not undo)', async () => {
    // Prepare: the standby is MASTER now.
    await pair.untilSteady(20_000);
    expect(standby.state()).toBe('MASTER');

    // Act
    await standby.nginx.stopCleanly();
    await until('the primary holding the Elastic IP', () => pair.holder() === primary.instanceId, 20_000);

    // Assess
    expect(standby.state()).toBe('FAULT');
    expect(primary.state()).toBe('MASTER');
    standby.nginx.start();
    await until('the standby back to BACKUP', () => standby.state() === 'BACKUP', 20_000);
  });

  it('should move the Elastic IP when the MASTER fails hard (keepalived and nginx gone without a word)', async () => {
    // Prepare
    await pair.untilSteady(20_000);
    expect(primary.state()).toBe('MASTER');

    // Act
    primary.nginx.kill();
    await primary.stopKeepalived('SIGKILL');
    await until('the standby holding the Elastic IP', () => pair.holder() === standby.instanceId, 20_000);

    // Assess
    expect(standby.state()).toBe('MASTER');
    primary.nginx.start();
    primary.startKeepalived();
    await until('the primary back as BACKUP (nopreempt)', () => primary.state() === 'BACKUP', 20_000);
    expect(pair.holder()).toBe(standby.instanceId);
  });

  it('should hand the Elastic IP over when the MASTER stops gracefully', async () => {
    // Prepare
    await pair.untilSteady(20_000);
    expect(standby.state()).toBe('MASTER');

    // Act: a graceful stop sends a priority-0 advertisement, so the peer need not wait for the timeout.
    await standby.stopKeepalived('SIGTERM');
    await until('the primary holding the Elastic IP', () => pair.holder() === primary.instanceId, 20_000);

    // Assess
    expect(standby.state()).toBe('STOP');
    expect(primary.state()).toBe('MASTER');
  });
});
