// Idempotent sends against the simulated SSM and state table.
import { afterEach, describe, expect, it } from 'vitest';
import { ports } from '../../functions/adapters/index.js';
import { closeLedger, ledgerKey, sendOnce } from '../../functions/core/command-ledger.js';
import { installFleet } from '../../sim/aws.js';
import { SimulatedFleet } from '../../sim/fleet.js';

let uninstall: (() => void) | undefined;
afterEach(() => {
  uninstall?.();
  uninstall = undefined;
});

describe('sendOnce', () => {
  it('finds the command a first attempt sent before dying, by the token in its comment, and sends nothing more', async () => {
    // Prepare
    const fleet = SimulatedFleet.standard();
    uninstall = installFleet(fleet);
    const target = fleet.byRole('master')[0]!.instanceId;
    const ledger = ledgerKey('demo', 'arn:aws:states:eu-west-1:1:execution:m:e', 'reset-node', [target]);
    const send = (token: string) => ports.ssm.sendCommand({ documentName: 'kubeha-local-ResetNode', instanceIds: [target], parameters: { ExecutionTimeout: '600' }, comment: `kubeha demo reset-node ${token}`, timeoutSeconds: 600 });

    // Act: the first attempt dies right after SendCommand, before it records the command id.
    const first = sendOnce(ledger, [target], async (token) => {
      await send(token);
      throw new Error('Runtime.ExitError: the function died');
    }, ports);
    await expect(first).rejects.toThrow('died');
    const retried = await sendOnce(ledger, [target], send, ports);

    // Assess
    expect(fleet.calls.filter((call) => call.operation === 'SendCommand')).toHaveLength(1);
    expect(retried.resent).toBe(true);
    expect(fleet.invocations.find((invocation) => invocation.commandId === retried.commandId)?.instanceId).toBe(target);
  });

  it('sends anew once the last command of the step was closed, as a deliberate second run of the step', async () => {
    const fleet = SimulatedFleet.standard();
    uninstall = installFleet(fleet);
    const target = fleet.byRole('worker')[0]!.instanceId;
    const ledger = ledgerKey('demo', 'arn:aws:states:eu-west-1:1:execution:m:e', 'cluster-status', [target]);
    const send = (token: string) => ports.ssm.sendCommand({ documentName: 'kubeha-local-ResetNode', instanceIds: [target], parameters: { ExecutionTimeout: '600' }, comment: `c ${token}`, timeoutSeconds: 600 });

    const first = await sendOnce(ledger, [target], send, ports);
    const again = await sendOnce(ledger, [target], send, ports);
    await closeLedger(ledger, ports, first);
    const next = await sendOnce(ledger, [target], send, ports);

    expect(again.commandId).toBe(first.commandId);
    expect(next.commandId).not.toBe(first.commandId);
    expect(fleet.calls.filter((call) => call.operation === 'SendCommand')).toHaveLength(2);
  });
});
