// keepalived's takeover as the simulator models it (sim/load-balancer.ts): the peer claims the Elastic IP after
// a detection time measured by bench/load-balancer.ts, not after a constant, and before the EC2 event arrives.
import { describe, expect, it } from 'vitest';
import type { SimInstance } from '../../sim/fleet.js';
import { EIP_MOVE_SECONDS } from '../../sim/fleet.js';
import { API_CALL_SECONDS } from '../../sim/latency.js';
import { detectionSamples, keepalivedDetectionSeconds } from '../../sim/load-balancer.js';
import { bootstrappedCluster } from '../support/cluster.js';

describe("the simulator's keepalived model", () => {
  it('should draw each detection time from the measured samples, the same for the same failure and moment', () => {
    // Act
    const drawn = Array.from({ length: 50 }, (_, index) => keepalivedDetectionSeconds('gracefulStop', `i-0123@${index * 1000}`));

    // Assess
    for (const seconds of drawn) expect(detectionSamples('gracefulStop')).toContain(seconds);
    expect(keepalivedDetectionSeconds('hardFailure', 'i-0123@0')).toBe(keepalivedDetectionSeconds('hardFailure', 'i-0123@0'));
  });

  it("should have the standby's keepalived claim the Elastic IP after a measured graceful-stop detection when the holder stops, with no event delivered", async () => {
    // Prepare
    const { fleet } = await bootstrappedCluster();
    const [primary, standby] = fleet.byRole('lb') as [SimInstance, SimInstance];
    const allocationId = fleet.elasticIpAllocationId;
    expect(fleet.addresses.get(allocationId)?.instanceId).toBe(primary.instanceId);
    const stoppedAt = fleet.now();
    const expectedMs = Math.round((keepalivedDetectionSeconds('gracefulStop', `${primary.instanceId}@${stoppedAt}`) + API_CALL_SECONDS) * 1000);

    // Act: the instance stops; nobody delivers its EC2 events.
    fleet.requestStop(primary.instanceId);
    fleet.advance(expectedMs / 1000 - 0.001);
    fleet.settleLifecycles();
    const beforeDetection = fleet.addresses.get(allocationId)?.instanceId;
    fleet.advance(0.001);
    fleet.settleLifecycles();

    // Assess: claimed at the measured moment; traffic follows EIP_MOVE_SECONDS later.
    const address = fleet.addresses.get(allocationId);
    expect(beforeDetection).toBe(primary.instanceId);
    expect(address?.instanceId).toBe(standby.instanceId);
    expect(address?.effectiveAt).toBe(stoppedAt + expectedMs + EIP_MOVE_SECONDS * 1000);
  });
});
