import { describe, expect, it } from 'vitest';
import { parseBootstrapInput } from '../../functions/core/config.js';
import { InputValidationError } from '../../functions/core/errors.js';
import { TODAY, bootstrapInput } from '../support/inputs.js';

function issuesOf(raw: unknown): { field: string; reason: string }[] {
  try {
    parseBootstrapInput(raw, TODAY);
  } catch (error: unknown) {
    if (error instanceof InputValidationError) return [...error.issues];
    throw error;
  }
  throw new Error('expected the input to be rejected');
}

describe('parseBootstrapInput', () => {
  it('fills in the documented defaults for a minimal valid input', () => {
    // Act
    const config = parseBootstrapInput(bootstrapInput(), TODAY);

    // Assess
    expect(config).toMatchObject({
      loadBalancerPort: 6443,
      cni: { plugin: 'calico', version: 'v3.31.3' },
      workerBatchSize: 50,
      stepTimeoutMinutes: 30,
    });
  });

  it('keeps no warm standbys unless asked, and accepts a master standby in each of three zones and three workers', () => {
    // Act
    const defaults = parseBootstrapInput(bootstrapInput(), TODAY);
    const asked = parseBootstrapInput(bootstrapInput({ healing: { standbys: { master: 3, worker: 3 } } } as never), TODAY);

    // Assess
    expect(defaults.healing.standbys).toEqual({ master: 0, worker: 0 });
    expect(asked.healing).toEqual({ startStoppedInstances: true, recoveryTimeoutMinutes: 10, certificateRenewalDays: 30, renewCertificates: true, standbys: { master: 3, worker: 3 } });
  });

  it.each([
    [{ master: 4 }, 'healing.standbys.master', 'must be at most 3: master standbys wait one per availability zone of the masters'],
    [{ master: -1 }, 'healing.standbys.master', 'must be between 0 and 3'],
    [{ worker: 4 }, 'healing.standbys.worker', 'must be at most 3'],
    [{ worker: 1.5 }, 'healing.standbys.worker', 'must be a whole number'],
    [{ lb: 1 }, 'healing.standbys.lb', 'is not a known field'],
  ])('rejects healing.standbys %j, naming the field', (standbys, field, reason) => {
    expect(issuesOf(bootstrapInput({ healing: { standbys } } as never))).toContainEqual({ field, reason: expect.stringContaining(reason) });
  });

  it('acts on certificates 30 days before they expire unless told otherwise', () => {
    expect(parseBootstrapInput(bootstrapInput(), TODAY).healing.certificateRenewalDays).toBe(30);
    expect(parseBootstrapInput(bootstrapInput({ healing: { certificateRenewalDays: 60 } } as never), TODAY).healing.certificateRenewalDays).toBe(60);
  });

  it.each([
    [6, 'must be at least 7'],
    [365, 'must be at most 180: certificates last 365 days'],
    [30.5, 'must be a whole number'],
    ['30', 'expected number'],
  ])('rejects healing.certificateRenewalDays %j, naming the field', (days, reason) => {
    expect(issuesOf(bootstrapInput({ healing: { certificateRenewalDays: days } } as never))).toContainEqual({ field: 'healing.certificateRenewalDays', reason: expect.stringContaining(reason) });
  });

  it('names every unknown field', () => {
    expect(issuesOf(bootstrapInput({ podSubnet: '10.0.0.0/18', extra: 1 } as never))).toEqual(
      expect.arrayContaining([
        { field: 'podSubnet', reason: 'is not a known field' },
        { field: 'extra', reason: 'is not a known field' },
      ]),
    );
  });

  it('names a missing required field', () => {
    const { serviceCidr: _omitted, ...withoutServiceCidr } = bootstrapInput();
    expect(issuesOf(withoutServiceCidr)).toContainEqual({ field: 'serviceCidr', reason: 'is required' });
  });

  it.each([
    ['latest', 'pinned patch release'],
    ['v1.36.4', 'pinned patch release'],
    ['1.36', 'pinned patch release'],
    ['1.14.0', 'minor 1.14 is not supported'],
    ['1.34.9', 'minor 1.34 is not supported'],
  ])('rejects kubernetesVersion %s', (version, reason) => {
    const [issue] = issuesOf(bootstrapInput({ kubernetesVersion: version }));
    expect(issue?.field).toBe('kubernetesVersion');
    expect(issue?.reason).toContain(reason);
  });

  it('rejects a supported minor once it has reached end of life', () => {
    const afterEndOfLife = new Date('2027-03-01T00:00:00Z');
    expect(() => parseBootstrapInput(bootstrapInput({ kubernetesVersion: '1.35.9' }), afterEndOfLife)).toThrow(
      'kubernetesVersion: minor 1.35 reached end of life on 2027-02-28',
    );
  });

  it.each([
    ['10.0.0.0', 'must be an IPv4 CIDR'],
    ['10.0.0.300/16', 'octet above 255'],
    ['10.0.0.0/33', 'prefix length above 32'],
    ['10.0.0.1/16', 'host bits set (did you mean 10.0.0.0/16?)'],
  ])('rejects the malformed podCidr %s', (cidr, reason) => {
    const [issue] = issuesOf(bootstrapInput({ podCidr: cidr }));
    expect(issue).toEqual({ field: 'podCidr', reason: expect.stringContaining(reason) });
  });

  it('rejects pod and service CIDRs that overlap each other', () => {
    expect(issuesOf(bootstrapInput({ podCidr: '10.0.0.0/16', serviceCidr: '10.0.128.0/20' }))).toContainEqual({
      field: 'serviceCidr',
      reason: 'overlaps podCidr 10.0.0.0/16',
    });
  });

  it('rejects CIDRs over the instance metadata range and loopback', () => {
    const issues = issuesOf(bootstrapInput({ podCidr: '169.254.0.0/16', serviceCidr: '127.0.0.0/16' }));
    expect(issues).toEqual(
      expect.arrayContaining([
        { field: 'podCidr', reason: expect.stringContaining('instance metadata') },
        { field: 'serviceCidr', reason: expect.stringContaining('loopback') },
      ]),
    );
  });

  it('rejects a service CIDR larger than kube-apiserver allows', () => {
    expect(issuesOf(bootstrapInput({ serviceCidr: '10.0.0.0/8' }))).toContainEqual({ field: 'serviceCidr', reason: expect.stringContaining('/12') });
  });

  it.each([
    [{ loadBalancerPort: 80 }, 'loadBalancerPort', 'must be 1024 or above'],
    [{ loadBalancerPort: 6443.5 }, 'loadBalancerPort', 'must be a whole number'],
    [{ workerBatchSize: 51 }, 'workerBatchSize', 'SendCommand takes 50 targets'],
    [{ clusterName: 'Prod_EU' }, 'clusterName', 'lowercase'],
    [{ elasticIpAllocationId: 'eip-123' }, 'elasticIpAllocationId', 'allocation id'],
    [{ controlPlaneDnsName: 'not a name' }, 'controlPlaneDnsName', 'DNS name'],
    [{ cni: { plugin: 'flannel', version: 'v0.24.4' } }, 'cni.plugin', 'must be "calico"'],
    [{ cni: { plugin: 'calico', version: 'latest' } }, 'cni.version', 'pinned Calico release'],
  ])('rejects %o naming %s', (override, field, reason) => {
    expect(issuesOf(bootstrapInput(override as never))).toContainEqual({ field, reason: expect.stringContaining(reason) });
  });

  it('reports every problem at once, so one round trip fixes them all', () => {
    const issues = issuesOf(bootstrapInput({ kubernetesVersion: 'stable', podCidr: '10.0.0.0/18', serviceCidr: '10.0.0.0/16' }));
    expect(issues.map((issue) => issue.field)).toEqual(['kubernetesVersion', 'serviceCidr']);
  });

  it('renders all issues into the error message as "field: reason"', () => {
    expect(() => parseBootstrapInput(bootstrapInput({ loadBalancerPort: 80 }), TODAY)).toThrow(/^loadBalancerPort: must be 1024 or above$/);
  });
});
