// The per-cluster lock: one healing workflow mutates a cluster at a time. It is an item in the state
// table, taken and taken over with conditional writes and released with a conditional delete, so two
// workflows can never both hold it (Parameter Store, which held it before, has no compare-and-set and
// no conditional delete: shared/reality.md, "Parameter Store").
import { ClusterBusyError } from './errors.js';
import { type LockRecord, decideOnLock } from './healing-decisions.js';
import type { Logger } from './log.js';
import type { Ports, StoredItem } from './ports.js';

export const LOCK_KEY = 'lock';
/** The longest a healing execution may run (heal-master's TimeoutSeconds): a lease never outlives it. */
export const LOCK_LEASE_MS = 6 * 3600_000;
/** How long a workflow waits for another to release the lock before it gives up (ClusterBusyError). */
export const LOCK_PATIENCE_MS = 3 * 3600_000;

export interface LockOutcome {
  readonly acquired: boolean;
  readonly holder?: string;
  /** When the waiting started: the deadline is counted from here across Wait loops. */
  readonly waitingSince: number;
}

export async function readLock(clusterName: string, ports: Pick<Ports, 'state'>): Promise<StoredItem<LockRecord> | undefined> {
  return ports.state.get<LockRecord>(clusterName, LOCK_KEY);
}

export async function acquireLock(
  input: { clusterName: string; executionArn: string; purpose: string; waitingSince?: number | undefined },
  ports: Pick<Ports, 'state' | 'workflows' | 'clock'>,
  log: Logger,
): Promise<LockOutcome> {
  const now = ports.clock.now();
  const waitingSince = input.waitingSince ?? now;
  const record: LockRecord = { executionArn: input.executionArn, purpose: input.purpose, acquiredAt: new Date(now).toISOString(), leaseUntil: now + LOCK_LEASE_MS };
  const existing = await readLock(input.clusterName, ports);
  if (!existing) return { acquired: await ports.state.put(input.clusterName, LOCK_KEY, record, 'absent'), waitingSince };

  const decision = decideOnLock(existing.value, input.executionArn, await ports.workflows.executionStatus(existing.value.executionArn), now);
  if (decision.verdict === 'held-by-us') return { acquired: true, waitingSince };
  if (decision.verdict === 'take-over') {
    // Conditional on the version read: of two waiters taking over the same stale lock, one wins.
    const acquired = await ports.state.put(input.clusterName, LOCK_KEY, record, existing.version);
    if (acquired) log.warn('took over a stale lock', { clusterName: input.clusterName, staleHolder: decision.staleHolder });
    return { acquired, waitingSince };
  }
  if (now - waitingSince > LOCK_PATIENCE_MS) throw new ClusterBusyError(`cluster ${input.clusterName} has been locked by ${decision.holder} for more than 3 hours`);
  return { acquired: false, holder: decision.holder, waitingSince };
}

/** Releases the lock if this execution holds it; a no-op otherwise (a retried release, or a taken-over lock). */
export async function releaseLock(input: { clusterName: string; executionArn: string }, ports: Pick<Ports, 'state'>): Promise<{ released: boolean }> {
  const existing = await readLock(input.clusterName, ports);
  if (!existing || existing.value.executionArn !== input.executionArn) return { released: false };
  return { released: await ports.state.remove(input.clusterName, LOCK_KEY, existing.version) };
}

/** Reconcile's cleanup: removes the lock only if it is still the stale one it saw. */
export async function clearStaleLock(clusterName: string, stale: StoredItem<LockRecord>, ports: Pick<Ports, 'state'>): Promise<boolean> {
  return ports.state.remove(clusterName, LOCK_KEY, stale.version);
}
