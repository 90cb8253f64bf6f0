// SendCommand has no client token: a Task retried after a Lambda fault or timeout would send its
// document a second time, and two `kubeadm join` or `reset` runs would overlap on one node
// (shared/reality.md, "SSM Run Command"). So each send is written to the state table first,
// conditionally, keyed by the execution, the step and its targets, and carries a token in its Comment.
// A retry finds the command it already sent: by the record, or, when the first attempt died between
// SendCommand and the record, by the token in the instance's recent command history. The poll marks
// the record done once the command has ended, so a deliberate later run of the same step sends anew.
import { createHash } from 'node:crypto';
import { AwsThrottledError } from './errors.js';
import type { Ports } from './ports.js';

export const COMMAND_PREFIX = 'command#';

export interface CommandRecord {
  readonly status: 'sending' | 'sent' | 'done';
  readonly token: string;
  readonly createdAt: number;
  readonly commandId?: string | undefined;
  readonly sentAt?: number | undefined;
}

export interface LedgerKey {
  readonly clusterName: string;
  readonly key: string;
}

export function ledgerKey(clusterName: string, executionArn: string, step: string, instanceIds: readonly string[]): LedgerKey {
  const digest = createHash('sha256').update([executionArn, step, ...[...instanceIds].sort()].join('|')).digest('hex').slice(0, 40);
  return { clusterName, key: `${COMMAND_PREFIX}${digest}` };
}

/**
 * Sends at most once per ledger key while the command is open. `send` receives the token to put in the
 * command's Comment and returns the command id.
 */
export async function sendOnce(
  ledger: LedgerKey,
  instanceIds: readonly string[],
  send: (token: string) => Promise<string>,
  ports: Pick<Ports, 'state' | 'ssm' | 'clock'>,
): Promise<{ commandId: string; sentAt: number; resent: boolean }> {
  // The usual case, a step's first send: one create-only write claims it. Only when a record exists (a
  // retried Task, a later run of the same step) is it read and decided on below.
  const claimedAt = ports.clock.now();
  const claim: CommandRecord = { status: 'sending', token: tokenFor(ledger.key, claimedAt, 0), createdAt: claimedAt };
  if (await ports.state.put(ledger.clusterName, ledger.key, claim, 'absent')) return sendClaimed(ledger, claim, send, ports);
  const stored = await ports.state.get<CommandRecord>(ledger.clusterName, ledger.key);
  if (stored?.value.status === 'sent' && stored.value.commandId) return { commandId: stored.value.commandId, sentAt: stored.value.sentAt ?? stored.value.createdAt, resent: true };
  if (stored?.value.status === 'sending') {
    const found = await ports.ssm.findCommand(instanceIds[0] ?? '', stored.value.token, stored.value.createdAt);
    if (found) {
      await ports.state.put(ledger.clusterName, ledger.key, { ...stored.value, status: 'sent', commandId: found, sentAt: stored.value.createdAt }, stored.version);
      return { commandId: found, sentAt: stored.value.createdAt, resent: true };
    }
  }
  const now = ports.clock.now();
  const record: CommandRecord = { status: 'sending', token: tokenFor(ledger.key, now, stored?.version ?? 0), createdAt: now };
  if (!(await ports.state.put(ledger.clusterName, ledger.key, record, stored?.version ?? 'absent'))) {
    // Another attempt of this very Task is sending right now: back off and find its command.
    throw new AwsThrottledError('ssm:SendCommand', { cause: new Error('another attempt of this step is sending its command') });
  }
  return sendClaimed(ledger, record, send, ports);
}

const tokenFor = (key: string, now: number, version: number) => createHash('sha256').update(`${key}|${now}|${version}`).digest('hex').slice(0, 16);

/** Sends the command this attempt has claimed, and records its id for a retry to find. */
async function sendClaimed(ledger: LedgerKey, record: CommandRecord, send: (token: string) => Promise<string>, ports: Pick<Ports, 'state' | 'clock'>): Promise<{ commandId: string; sentAt: number; resent: boolean }> {
  const commandId = await send(record.token);
  const sentAt = ports.clock.now();
  await ports.state.put(ledger.clusterName, ledger.key, { ...record, status: 'sent', commandId, sentAt }, 'any');
  return { commandId, sentAt, resent: false };
}

/**
 * The command has ended (done or failed): the next send of this step is a new command. One write marks
 * it done, without reading it first: nothing else writes this execution's record of this step while its
 * poll closes it (the next send of the step comes after the poll, in the same execution).
 */
export async function closeLedger(ledger: LedgerKey, ports: Pick<Ports, 'state'>, sent: { commandId: string; sentAt: number }): Promise<void> {
  const record: CommandRecord = { status: 'done', token: '', createdAt: sent.sentAt, commandId: sent.commandId, sentAt: sent.sentAt };
  await ports.state.put(ledger.clusterName, ledger.key, record, 'any');
}
