// The runbook deploys to cn-northwest-1 (partition aws-cn): the same stack must package there, carry no
// `arn:aws:`, and trust EC2 under the China principal.
import { beforeAll, describe, expect, it } from 'vitest';
import { type Template, actionsOf, expectValidForCloudFormation, hardCodedPartitions, ofType, packageTemplate, statementsOf, substitute } from './template.js';

// Pseudo parameters as CloudFormation resolves them in each partition.
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html
const CHINA = { 'AWS::Partition': 'aws-cn', 'AWS::URLSuffix': 'amazonaws.com.cn', 'AWS::Region': 'cn-northwest-1', 'AWS::AccountId': '123456789012' };
const COMMERCIAL = { 'AWS::Partition': 'aws', 'AWS::URLSuffix': 'amazonaws.com', 'AWS::Region': 'eu-west-1', 'AWS::AccountId': '123456789012' };
let template: Template;

beforeAll(() => {
  template = packageTemplate(['--stage', 'ci', '--region', 'cn-northwest-1', '--param', 'clusters=demo']);
}, 360_000);

describe('sls package --region cn-northwest-1', () => {
  it('uses only resource types and properties that CloudFormation knows, with every required property set', () => {
    expectValidForCloudFormation(template);
  });

  it('writes no partition into any ARN', () => {
    expect(hardCodedPartitions(template)).toEqual([]);
  });

  it('lets instance roles be assumed by ec2.amazonaws.com.cn in China and ec2.amazonaws.com elsewhere', () => {
    const nodeRoles = ofType(template, 'AWS::IAM::Role').filter(([id]) => id.endsWith('NodeRole'));
    expect(nodeRoles).toHaveLength(3);
    for (const [id, role] of nodeRoles) {
      const trust = role.Properties.AssumeRolePolicyDocument;
      expect(JSON.stringify(substitute(trust, CHINA)), id).toContain('"Service":"ec2.amazonaws.com.cn"');
      expect(JSON.stringify(substitute(trust, COMMERCIAL)), id).toContain('"Service":"ec2.amazonaws.com"');
    }
  });

  it('lets launchReplacement pass roles to the China EC2 principal', () => {
    const [, role] = ofType(template, 'AWS::IAM::Role').find(([id]) => id === 'LaunchReplacementRole')!;
    const passRole = statementsOf(role).find((statement) => actionsOf(statement).includes('iam:PassRole'))!;
    expect(substitute(passRole.Condition, CHINA)).toEqual({ StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com.cn' } });
  });

  it('builds ARNs that resolve into the aws-cn partition', () => {
    const [, role] = ofType(template, 'AWS::IAM::Role').find(([id]) => id === 'SendCommandRole')!;
    const documents = JSON.stringify(substitute(statementsOf(role), CHINA));
    expect(documents).toContain('"arn:aws-cn:ssm:cn-northwest-1:123456789012:document/kubeha-ci-');
    expect(documents).not.toMatch(/arn:aws:/);
  });

  it('names instance profiles for the China region, apart from the same stage elsewhere', () => {
    const profiles = ofType(template, 'AWS::IAM::InstanceProfile').map(([, profile]) => profile.Properties.InstanceProfileName);
    expect(profiles.sort()).toEqual(['kubeha-ci.demo.lb.cn-northwest-1', 'kubeha-ci.demo.master.cn-northwest-1', 'kubeha-ci.demo.worker.cn-northwest-1']);
  });
});
