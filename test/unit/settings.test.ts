import { describe, expect, it } from 'vitest';
import { readClusterSettings } from '../../functions/core/bootstrap.js';
import type { SsmPort } from '../../functions/core/ports.js';

const recorded = {
  cluster: {
    clusterName: 'prod-eu', kubernetesVersion: '1.36.4', podCidr: '192.168.0.0/16', serviceCidr: '10.96.0.0/12', cniVersion: 'v3.31.3',
    loadBalancerPort: 6443, elasticIpAllocationId: 'eipalloc-0abc12345def67890', stepTimeoutMinutes: 30, endpoint: 'k8s.example.com:6443',
    certSans: ['203.0.113.10', 'k8s.example.com'], masterIps: ['10.0.0.11', '10.0.16.11', '10.0.32.11'], loadBalancerIps: ['10.0.0.5', '10.0.16.5'], workerCount: 3,
  },
  caCertHash: `sha256:${'ab'.repeat(32)}`,
  firstMasterId: 'i-0123456789abcdef0',
  joinSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kubeha/prod/prod-eu/control-plane-join-AbCdEf',
  kubeconfigSecretName: 'kubeha/prod/prod-eu/admin-kubeconfig',
  policy: { startStoppedInstances: true, recoveryTimeoutMinutes: 10 },
  recordedAt: '2026-11-24T09:00:00.000Z',
};

/** Parameter Store holding one value, as a plain object. */
function storeHolding(value: unknown): { ssm: SsmPort } {
  return { ssm: { getParameter: async () => JSON.stringify(value) } as unknown as SsmPort };
}

describe('readClusterSettings', () => {
  it('returns the settings recorded at bootstrap when every value has the shape its document parameter needs', async () => {
    await expect(readClusterSettings('prod-eu', storeHolding(recorded))).resolves.toMatchObject({ cluster: { clusterName: 'prod-eu' }, caCertHash: recorded.caCertHash });
  });

  it.each([
    ['cluster.clusterName', { ...recorded, cluster: { ...recorded.cluster, clusterName: "demo'; id > /tmp/x; echo '" } }],
    ['cluster.endpoint', { ...recorded, cluster: { ...recorded.cluster, endpoint: 'k8s.example.com:6443 $(id)' } }],
    ['caCertHash', { ...recorded, caCertHash: 'sha256:nothex' }],
    ['joinSecretArn', { ...recorded, joinSecretArn: `${recorded.joinSecretArn}'` }],
  ])('refuses settings read back from Parameter Store whose %s would not pass its document pattern', async (field, settings) => {
    await expect(readClusterSettings('prod-eu', storeHolding(settings))).rejects.toMatchObject({
      name: 'ClusterStateError',
      message: expect.stringContaining(`the recorded settings of prod-eu are invalid: ${field}`),
    });
  });
});
