// Deterministic budgets of a bootstrap (bench/budgets.ts): AWS calls, transitions and Lambda invocations
// grow with the number of batches of 50 workers, not with the workers; the payload stays far under 256 KB.
import { describe, expect, it } from 'vitest';
import { PAYLOAD_BUDGET_BYTES, batches, callBudget, invocationBudget, transitionBudget } from '../../bench/budgets.js';
import { measure } from '../../bench/scaling.js';

describe('bootstrap budgets per worker count', () => {
  it.each([3, 300])('keeps a bootstrap with %i workers within its calls, transitions, invocations and payload', async (workers) => {
    const figures = await measure(workers);

    expect(figures.calls).toBeLessThanOrEqual(callBudget(workers));
    expect(figures.transitions).toBeLessThanOrEqual(transitionBudget(workers));
    expect(figures.lambdaInvocations).toBeLessThanOrEqual(invocationBudget(workers));
    expect(figures.peakPayloadBytes).toBeLessThanOrEqual(PAYLOAD_BUDGET_BYTES);
    expect(figures.sendCommandTargets.max).toBeLessThanOrEqual(50);
  });

  it('grows with ⌈N/50⌉, not N: six times the batches costs well under six times the calls', async () => {
    const [few, many] = [await measure(50), await measure(300)];
    expect(batches(300) / batches(50)).toBe(6);
    // 250 more workers cost a bounded amount per extra batch, a fraction of a call per worker.
    const perExtraBatch = (many.calls - few.calls) / (batches(300) - batches(50));
    expect(perExtraBatch).toBeLessThan(60);
    expect((many.calls - few.calls) / 250).toBeLessThan(1.2);
    expect(many.transitions - few.transitions).toBeLessThan(120 * 5);
  });
});
