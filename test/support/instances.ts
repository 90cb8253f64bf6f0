import type { ClusterInstance, Role } from '../../functions/core/cluster.js';

let sequence = 0;

/** A running, tagged instance in subnet-a of vpc-main unless overridden. */
export function instance(role: Role | undefined, overrides: Partial<ClusterInstance> = {}): ClusterInstance {
  sequence += 1;
  return {
    instanceId: `i-${sequence.toString(16).padStart(17, '0')}`,
    role,
    ec2State: 'running',
    privateIp: `10.0.${Math.floor(sequence / 200)}.${10 + (sequence % 200)}`,
    subnetId: 'subnet-a',
    vpcId: 'vpc-main',
    availabilityZone: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'][sequence % 3],
    launchTime: new Date(Date.UTC(2026, 10, 24, 8, 0, sequence)).toISOString(),
    ...overrides,
  };
}

export function standardInstances(counts: { masters?: number; workers?: number; loadBalancers?: number } = {}): ClusterInstance[] {
  return [
    ...Array.from({ length: counts.loadBalancers ?? 2 }, () => instance('lb')),
    ...Array.from({ length: counts.masters ?? 3 }, () => instance('master')),
    ...Array.from({ length: counts.workers ?? 3 }, () => instance('worker')),
  ];
}
