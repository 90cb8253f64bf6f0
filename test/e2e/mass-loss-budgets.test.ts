// Deterministic budgets of a mass loss (bench/mass-loss.ts): a third of a cluster's workers terminated at
// once all heal, and their heals together stay inside every AWS request rate kubeha budgets for
// (bench/rate-limits.ts), because each polls at its share (functions/core/command-timing.ts sharePolls).
import { describe, expect, it } from 'vitest';
import { POLLS_PER_SECOND } from '../../functions/core/command-timing.js';
import { measureMassLoss } from '../../bench/mass-loss.js';

describe('twenty of sixty workers lost at once', () => {
  it('heals all twenty without any API going past its rate in any second', { timeout: 240_000 }, async () => {
    // Act: with AWS's throttling modelled, so a call past a bucket would be answered as AWS answers it.
    const figures = await measureMassLoss(60, 20, { throttled: true });

    // Assess: every heal succeeded; no second past a rate (SSM's 10 a second per API among them); the polls
    // of twenty heals together within twice their share (one slot's heals and the previous slot's late ones).
    expect(figures.healed).toBe(20);
    expect(figures.heals).toBe(20);
    expect(figures.secondsOverLimit).toBe(0);
    expect(figures.throttledCalls).toBe(0);
    expect(figures.busiest.calls).toBeLessThanOrEqual(figures.busiest.limit);
    expect(figures.busiestPollSecond).toBeLessThanOrEqual(2 * POLLS_PER_SECOND);
    // Each heal polls its commands and its boot at its share, not every second (32 and 12 per heal before).
    expect(figures.callsByOperation['ssm:ListCommandInvocations']).toBeLessThanOrEqual(20 * 16);
    expect(figures.callsByOperation['ssm:DescribeInstanceInformation']).toBeLessThanOrEqual(20 * 6);
  });
});
