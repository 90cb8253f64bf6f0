// What each principal of the packaged stack may read and change, from the CloudFormation template itself
// (`sls package` writes it), so README's permission matrix cannot drift from the policies deployed.
// test/contract/permissions.test.ts packages the stack, renders the matrix with this module and fails when
// README's differs (KUBEHA_UPDATE_README=1 writes it instead); the same test resolves the policies to
// concrete ARNs with `resolvePolicies` and evaluates them with an IAM policy simulator.
//
//   npx tsx scripts/permission-matrix.ts .serverless/cloudformation-template-update-stack.json
import { readFileSync } from 'node:fs';

export interface TemplateResource {
  Type: string;
  Properties: Record<string, unknown>;
}
export interface StackTemplate {
  Resources: Record<string, TemplateResource>;
}
export interface PolicyStatement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
export interface Principal {
  /** `mintJoinMaterial` for a function's role, `master (demo)` for a node role. */
  readonly name: string;
  readonly roleId: string;
  readonly statements: PolicyStatement[];
  /** Managed policies attached by ARN (the node roles' AmazonSSMManagedInstanceCore). */
  readonly managedPolicies: string[];
}

/** Where the simulated account lives: what CloudFormation's pseudo parameters resolve to. */
export const ACCOUNT = { 'AWS::Partition': 'aws', 'AWS::Region': 'eu-west-1', 'AWS::AccountId': '123456789012', 'AWS::URLSuffix': 'amazonaws.com' } as const;

const READ = /^(Describe|List|Get|Query|Scan|BatchGet)/;

/** Every IAM role of the stack: one per Lambda function, three per cluster (master, worker, lb). */
export function principals(template: StackTemplate): Principal[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::IAM::Role')
    .map(([roleId, role]) => {
      const policies = (role.Properties.Policies as { PolicyName: string; PolicyDocument: { Statement: PolicyStatement[] } }[] | undefined) ?? [];
      const nodeRole = typeof role.Properties.RoleName === 'string' ? /^[^.]+\.([^.]+)\.([^.]+)\./.exec(role.Properties.RoleName) : null;
      const policyName = policies[0]?.PolicyName ?? roleId;
      const stateMachine = /^(.+)StateMachineRole$/.exec(roleId)?.[1]?.replace(/[A-Z]/g, (letter, index: number) => `${index ? '-' : ''}${letter.toLowerCase()}`);
      return {
        name: nodeRole ? `${nodeRole[2]} instance (${nodeRole[1]})` : stateMachine ? `state machine ${stateMachine}` : policyName.replace(/^kubeha-/, ''),
        roleId,
        statements: policies.flatMap((policy) => policy.PolicyDocument.Statement),
        managedPolicies: ((role.Properties.ManagedPolicyArns as unknown[] | undefined) ?? []).map((arn) => String(resolve(arn, template))),
      };
    })
    .sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}

/** Functions first, then state machines, then instances. */
function rank(name: string): number {
  return name.startsWith('state machine ') ? 1 : name.includes(' instance (') ? 2 : 0;
}

/** The ARN (or, for `Ref` of a topic or secret, the ARN too) a logical id stands for in the simulated account. */
function physical(id: string, attribute: string | undefined, template: StackTemplate): string {
  const resource = template.Resources[id];
  if (!resource) throw new Error(`the template has no resource ${id}`);
  const { 'AWS::Region': region, 'AWS::AccountId': account } = ACCOUNT;
  const properties = resource.Properties ?? {};
  switch (resource.Type) {
    case 'AWS::SecretsManager::Secret':
      // Secrets Manager appends six random characters to a secret's name in its ARN.
      return `arn:aws:secretsmanager:${region}:${account}:secret:${String(properties.Name)}-AbCdEf`;
    case 'AWS::SNS::Topic':
      return `arn:aws:sns:${region}:${account}:${String(properties.TopicName ?? id)}`;
    case 'AWS::SQS::Queue':
      return `arn:aws:sqs:${region}:${account}:${String(properties.QueueName ?? id)}`;
    case 'AWS::DynamoDB::Table':
      return `arn:aws:dynamodb:${region}:${account}:table/${id}`;
    case 'AWS::S3::Bucket':
      return `arn:aws:s3:::${id.toLowerCase()}`;
    case 'AWS::KMS::Key':
      return `arn:aws:kms:${region}:${account}:key/${id}`;
    case 'AWS::IAM::Role':
      return `arn:aws:iam::${account}:role/${String(properties.RoleName ?? id)}`;
    case 'AWS::Lambda::Function':
      return `arn:aws:lambda:${region}:${account}:function:${String(properties.FunctionName ?? id)}`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:aws:states:${region}:${account}:stateMachine:${String(properties.StateMachineName ?? id)}`;
    case 'AWS::Logs::LogGroup':
      return `arn:aws:logs:${region}:${account}:log-group:${String(properties.LogGroupName ?? id)}`;
    default:
      throw new Error(`no ARN for ${id} (${resource.Type})${attribute ? `.${attribute}` : ''}`);
  }
}

/** Resolves Ref, Fn::GetAtt and Fn::Sub as CloudFormation would in ACCOUNT. */
export function resolve(value: unknown, template: StackTemplate): unknown {
  if (Array.isArray(value)) return value.map((item) => resolve(item, template));
  if (!value || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  if (typeof object.Ref === 'string') return object.Ref in ACCOUNT ? ACCOUNT[object.Ref as keyof typeof ACCOUNT] : physical(object.Ref, undefined, template);
  if (Array.isArray(object['Fn::GetAtt'])) {
    const [id, attribute] = object['Fn::GetAtt'] as [string, string];
    return physical(id, attribute, template);
  }
  if (object['Fn::Sub'] !== undefined) {
    // Fn::Sub is a string, or [string, variables] (serverless-step-functions writes `${functionArn}:*`).
    const [text, variables = {}] = ([] as unknown[]).concat(object['Fn::Sub']) as [string, Record<string, unknown>?];
    return text.replace(/\$\{([A-Za-z0-9:]+)(?:\.([A-Za-z]+))?\}/g, (_whole, name: string, attribute?: string) => {
      if (name in variables) return String(resolve(variables[name], template));
      return name in ACCOUNT ? ACCOUNT[name as keyof typeof ACCOUNT] : physical(name, attribute, template);
    });
  }
  return Object.fromEntries(Object.entries(object).map(([key, item]) => [key, resolve(item, template)]));
}

/** A principal's statements with every intrinsic resolved: a policy document an IAM evaluator takes. */
export function resolvedPolicy(principal: Principal, template: StackTemplate): { Version: string; Statement: PolicyStatement[] } {
  return { Version: '2012-10-17', Statement: resolve(principal.statements, template) as PolicyStatement[] };
}

/** A resource as README shows it: without partition, region and account, secrets and roles by name. */
function shortResource(resource: string): string {
  if (resource === '*') return '`*`';
  const shortened = resource
    .replace(/^arn:aws:secretsmanager:[^:]+:\d+:secret:(.*)-AbCdEf$/, 'secret $1')
    .replace(/^arn:aws:iam::\d+:role\//, 'role ')
    .replace(/^arn:aws:s3:::/, 's3 ')
    .replace(/^arn:aws:([a-z0-9-]+):[a-z0-9-]*:\d*:/, '$1 ')
    // Document names end with the digest of the rendered set (KUBEHA_DOCUMENT_SUFFIX), which changes with any
    // script: the matrix shows its place, so that it changes only when a permission does.
    .replace(/^(ssm document\/.+)-[0-9a-f]{10}$/, '$1-<digest>');
  return `\`${shortened}\``;
}

function conditionText(condition: PolicyStatement['Condition']): string {
  if (!condition) return '';
  const parts = Object.entries(condition).flatMap(([operator, keys]) =>
    Object.entries(keys).map(([key, value]) => {
      const values = ([] as unknown[]).concat(value).map(String).join('|');
      if (operator === 'Null') return `${key} set`;
      return `${key}=${values}`;
    }),
  );
  return ` if ${parts.join(', ')}`;
}

/** One principal's grants as "action, action on resource, resource if condition", reads and changes apart. */
function grants(principal: Principal, template: StackTemplate): { reads: string[]; changes: string[] } {
  const reads: string[] = [];
  const changes: string[] = [];
  for (const statement of resolvedPolicy(principal, template).Statement) {
    if (statement.Effect !== 'Allow') continue;
    const actions = ([] as string[]).concat(statement.Action);
    const arns = ([] as unknown[]).concat(statement.Resource).map(String);
    if (arns.every((arn) => /:log-group:\/aws\/lambda\/[^:]+:\*$/.test(arn))) {
      changes.push('its own log group (CreateLogStream, PutLogEvents)');
      continue;
    }
    // A function's versions (`<arn>:*`) go with the function.
    const resources = arns.filter((arn) => !(arn.endsWith(':*') && arns.includes(arn.slice(0, -2)))).map(shortResource);
    const where = `${resources.join(', ')}${conditionText(statement.Condition)}`;
    const read = actions.filter((action) => READ.test(action.split(':')[1] ?? ''));
    const change = actions.filter((action) => !read.includes(action));
    if (read.length > 0) reads.push(`${read.join(', ')} on ${where}`);
    if (change.length > 0) changes.push(`${change.join(', ')} on ${where}`);
  }
  for (const managed of principal.managedPolicies) reads.push(`the AWS managed policy \`${managed.replace(/^arn:aws:iam::aws:policy\//, '')}\` (the SSM agent)`);
  return { reads, changes };
}

/** README's matrix: one row per principal, what it may read and what it may change. */
export function permissionMatrix(template: StackTemplate): string {
  const rows = principals(template).map((principal) => {
    const { reads, changes } = grants(principal, template);
    const cell = (items: string[]) => (items.length > 0 ? items.join('<br>') : 'nothing');
    return `| ${principal.name} | ${cell(reads)} | ${cell(changes)} |`;
  });
  return ['| principal | may read | may change |', '| --- | --- | --- |', ...rows].join('\n');
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: npx tsx scripts/permission-matrix.ts <packaged CloudFormation template>');
  process.stdout.write(`${permissionMatrix(JSON.parse(readFileSync(file, 'utf8')) as StackTemplate)}\n`);
}
