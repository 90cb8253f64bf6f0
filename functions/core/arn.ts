// ARNs carry a partition, and the partition follows from the region: never write `arn:aws:` by hand.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
// Pure, so the CLI (which knows only a region) and the Lambdas (which know AWS_REGION) build the same ARNs.

export type Partition = 'aws' | 'aws-cn' | 'aws-us-gov' | 'aws-iso' | 'aws-iso-b' | 'aws-iso-e' | 'aws-iso-f' | 'aws-eusc';

// Longest prefix first: `us-isob-` before `us-iso-`. Region prefixes from the partitions.json the AWS SDKs ship
// (@aws-sdk/util-endpoints, `regionRegex` of each partition).
const PARTITION_PREFIXES: readonly (readonly [string, Partition])[] = [
  ['cn-', 'aws-cn'],
  ['us-gov-', 'aws-us-gov'],
  ['us-isob-', 'aws-iso-b'],
  ['us-iso-', 'aws-iso'],
  ['eu-isoe-', 'aws-iso-e'],
  ['us-isof-', 'aws-iso-f'],
  ['eusc-', 'aws-eusc'],
];

const REGION = /^[a-z]{2,4}(-[a-z]+)+-\d+$/;

/** The partition a region belongs to: `aws-cn` for cn-north-1 and cn-northwest-1, `aws` for the commercial regions. */
export function partitionOf(region: string): Partition {
  if (!REGION.test(region)) throw new Error(`"${region}" is not an AWS region name such as eu-west-1`);
  return PARTITION_PREFIXES.find(([prefix]) => region.startsWith(prefix))?.[1] ?? 'aws';
}

export interface ArnParts {
  readonly partition: Partition;
  readonly service: string;
  /** Empty for global services such as IAM. */
  readonly region?: string | undefined;
  /** Empty for resources that belong to no account (S3 objects, public images); `aws` for AWS managed policies. */
  readonly account?: string | undefined;
  /** Everything after the account: `stateMachine:kubeha-prod-heal-master`, `role/name`, `bucket/key`. */
  readonly resource: string;
}

/** `arn:<partition>:<service>:<region>:<account>:<resource>`. */
export function arn({ partition, service, region = '', account = '', resource }: ArnParts): string {
  if (!/^[a-z0-9-]+$/.test(service)) throw new Error(`"${service}" is not an AWS service namespace such as states or ec2`);
  // `aws` is the account of AWS managed policies: arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore.
  if (account !== '' && account !== 'aws' && !/^\d{12}$/.test(account)) throw new Error(`"${account}" is not a 12-digit AWS account id`);
  if (resource === '') throw new Error('an ARN needs a resource');
  return `arn:${partition}:${service}:${region}:${account}:${resource}`;
}

/** The EC2 service principal of a partition: trust policies and iam:PassedToService use it. */
export function ec2ServicePrincipal(partition: Partition): string {
  return partition === 'aws-cn' ? 'ec2.amazonaws.com.cn' : 'ec2.amazonaws.com';
}
