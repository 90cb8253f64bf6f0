import { describe, expect, it } from 'vitest';
import { arn, ec2ServicePrincipal, partitionOf } from '../../functions/core/arn.js';

describe('partitionOf', () => {
  it('puts the commercial regions in aws', () => {
    expect(partitionOf('eu-west-1')).toBe('aws');
    expect(partitionOf('us-east-1')).toBe('aws');
    expect(partitionOf('ap-southeast-3')).toBe('aws');
  });

  it('puts both China regions, the runbook cn-northwest-1 among them, in aws-cn', () => {
    expect(partitionOf('cn-north-1')).toBe('aws-cn');
    expect(partitionOf('cn-northwest-1')).toBe('aws-cn');
  });

  it('puts the GovCloud regions in aws-us-gov', () => {
    expect(partitionOf('us-gov-west-1')).toBe('aws-us-gov');
    expect(partitionOf('us-gov-east-1')).toBe('aws-us-gov');
  });

  it('tells the ISO regions apart by their longest prefix', () => {
    expect(partitionOf('us-iso-east-1')).toBe('aws-iso');
    expect(partitionOf('us-isob-east-1')).toBe('aws-iso-b');
  });

  it('refuses something that is not a region name, rather than guessing aws', () => {
    expect(() => partitionOf('Ireland')).toThrow(/not an AWS region name/);
    expect(() => partitionOf('')).toThrow(/not an AWS region name/);
  });
});

describe('arn', () => {
  it('builds a regional ARN in the partition it is given', () => {
    const parts = { service: 'states', region: 'cn-northwest-1', account: '123456789012', resource: 'stateMachine:kubeha-prod-heal-master' } as const;
    expect(arn({ ...parts, partition: partitionOf(parts.region) })).toBe('arn:aws-cn:states:cn-northwest-1:123456789012:stateMachine:kubeha-prod-heal-master');
  });

  it('leaves region and account empty for global and account-less resources', () => {
    expect(arn({ partition: 'aws-us-gov', service: 'iam', account: '123456789012', resource: 'role/kubeha-prod.demo.master.us-gov-west-1' })).toBe(
      'arn:aws-us-gov:iam::123456789012:role/kubeha-prod.demo.master.us-gov-west-1',
    );
    expect(arn({ partition: 'aws-cn', service: 's3', resource: 'kubeha-snapshots/demo/etcd.db' })).toBe('arn:aws-cn:s3:::kubeha-snapshots/demo/etcd.db');
  });

  it('accepts the account "aws" of AWS managed policies', () => {
    expect(arn({ partition: 'aws-cn', service: 'iam', account: 'aws', resource: 'policy/AmazonSSMManagedInstanceCore' })).toBe(
      'arn:aws-cn:iam::aws:policy/AmazonSSMManagedInstanceCore',
    );
  });

  it('rejects an account id that is not 12 digits, a bad service and an empty resource', () => {
    expect(() => arn({ partition: 'aws', service: 'states', region: 'eu-west-1', account: '1234', resource: 'x' })).toThrow(/12-digit/);
    expect(() => arn({ partition: 'aws', service: 'States Service', region: 'eu-west-1', account: '123456789012', resource: 'x' })).toThrow(/service namespace/);
    expect(() => arn({ partition: 'aws', service: 'states', region: 'eu-west-1', account: '123456789012', resource: '' })).toThrow(/needs a resource/);
  });
});

describe('ec2ServicePrincipal', () => {
  it('is ec2.amazonaws.com.cn in China and ec2.amazonaws.com elsewhere', () => {
    expect(ec2ServicePrincipal('aws-cn')).toBe('ec2.amazonaws.com.cn');
    expect(ec2ServicePrincipal('aws')).toBe('ec2.amazonaws.com');
    expect(ec2ServicePrincipal('aws-us-gov')).toBe('ec2.amazonaws.com');
  });
});
