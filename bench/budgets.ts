// Deterministic budgets of a bootstrap, per worker count: the bench prints them beside the figures and
// `npm test` (test/e2e/scaling-budgets.test.ts) holds the runs to them. They grow with the number of
// batches of 50 (one SendCommand, one Map iteration each), never with the number of workers.

export const BATCH = 50;
export const batches = (workers: number) => Math.max(1, Math.ceil(workers / BATCH));

/** AWS calls of one bootstrap of 3 masters, 2 load balancers and `workers` workers. */
export const callBudget = (workers: number) => 260 + 60 * batches(workers);
/** State transitions (states entered). */
export const transitionBudget = (workers: number) => 420 + 120 * batches(workers);
/** Lambda invocations. */
export const invocationBudget = (workers: number) => 150 + 40 * batches(workers);
/** The largest state input or output: far under the 256 KB Step Functions allows. */
export const PAYLOAD_BUDGET_BYTES = 64 * 1024;
