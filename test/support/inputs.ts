import type { BootstrapInput } from '../../functions/core/config.js';

/** A valid console input; tests override one field at a time. */
export function bootstrapInput(overrides: Partial<Record<keyof BootstrapInput, unknown>> = {}): Record<string, unknown> {
  return {
    clusterName: 'prod-eu',
    kubernetesVersion: '1.36.4',
    elasticIpAllocationId: 'eipalloc-0abc12345def67890',
    podCidr: '192.168.0.0/16',
    serviceCidr: '10.96.0.0/12',
    ...overrides,
  };
}

export const TODAY = new Date('2026-11-24T09:00:00Z');
