// Least-privilege IAM for kubeha, generated from one table so that each policy is reviewable in
// one place and tests can check every statement.
//
// - One role per Lambda function, holding only what that function calls.
// - Per cluster (the `clusters` stack parameter): its join-material and admin-kubeconfig secrets,
//   and a master, a worker and a load-balancer instance profile. Nodes read only their own cluster's join secret; only masters may write the admin
//   kubeconfig; only load balancers may move the Elastic IP, and only between instances and Elastic
//   IPs tagged for their cluster.
'use strict';

const ARN = {
  logGroup: (stage, fn) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/kubeha-${stage}-${fn}:*` }),
  secret: (pattern) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${pattern}` }),
  document: (stage) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:document/kubeha-${stage}-*` }),
  instances: { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*' },
  elasticIps: { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:elastic-ip/*' },
  parameters: { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/kubeha/*' },
  locks: { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/kubeha/*/lock' },
  healingMachines: (stage) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:stateMachine:kubeha-${stage}-heal-*` }),
  executions: (stage) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:execution:kubeha-${stage}-*:*` }),
  nodeRoles: (stage) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/kubeha-${stage}-*` }),
  ec2: (type) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:ec2:\${AWS::Region}:\${AWS::AccountId}:${type}/*` }),
  images: { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}::image/*' },
};

const KUBEHA_INSTANCE = { Null: { 'ec2:ResourceTag/kubeha:role': 'false' } };
const READ_FLEET = { Effect: 'Allow', Action: ['ec2:DescribeInstances', 'ec2:DescribeAddresses'], Resource: '*' };
const READ_SETTINGS = { Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: ARN.parameters };
const MOVE_ELASTIC_IP = [
  { Effect: 'Allow', Action: ['ec2:AssociateAddress'], Resource: ARN.instances, Condition: { StringEquals: { 'ec2:ResourceTag/kubeha:role': 'lb' } } },
  { Effect: 'Allow', Action: ['ec2:AssociateAddress'], Resource: ARN.elasticIps },
];

const MANAGED_INSTANCE = { Null: { 'ssm:resourceTag/kubeha:role': 'false' } };

/** What each Lambda function may do besides writing its own logs. `*` resources only for Describe/List/Get calls, which AWS does not scope. */
function functionStatements(stage) {
  return {
    validateInput: [],
    discoverCluster: [{ Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: '*' }],
    preflightCluster: [
      { Effect: 'Allow', Action: ['ec2:DescribeSubnets', 'ec2:DescribeVpcs', 'ec2:DescribeAddresses', 'ssm:DescribeInstanceInformation'], Resource: '*' },
      { Effect: 'Allow', Action: ['secretsmanager:DescribeSecret'], Resource: ARN.secret('kubeha/*') },
    ],
    mintJoinMaterial: [
      { Effect: 'Allow', Action: ['secretsmanager:DescribeSecret'], Resource: ARN.secret('kubeha/*') },
      { Effect: 'Allow', Action: ['secretsmanager:PutSecretValue'], Resource: ARN.secret('kubeha/*/join-material-*') },
    ],
    sendCommand: [
      { Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: ARN.document(stage) },
      { Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: ARN.instances, Condition: MANAGED_INSTANCE },
    ],
    awaitCommand: [
      { Effect: 'Allow', Action: ['ssm:ListCommandInvocations', 'ssm:GetCommandInvocation'], Resource: '*' },
      {
        Effect: 'Allow',
        Action: ['ec2:CreateTags'],
        Resource: ARN.instances,
        Condition: { Null: { 'ec2:ResourceTag/kubeha:role': 'false' }, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['kubeha:node-state', 'kubeha:upstreams'] } },
      },
    ],
    placeElasticIp: [
      { Effect: 'Allow', Action: ['ec2:DescribeAddresses'], Resource: '*' },
      { Effect: 'Allow', Action: ['ec2:AssociateAddress'], Resource: ARN.instances, Condition: { StringEquals: { 'ec2:ResourceTag/kubeha:role': 'lb' } } },
      { Effect: 'Allow', Action: ['ec2:AssociateAddress'], Resource: ARN.elasticIps },
    ],
    recordCluster: [
      { Effect: 'Allow', Action: ['ssm:PutParameter', 'ssm:GetParameter'], Resource: ARN.parameters },
      { Effect: 'Allow', Action: ['ec2:DescribeInstances', 'ec2:DescribeVolumes'], Resource: '*' },
    ],
    onInstanceStateChange: [
      READ_FLEET,
      READ_SETTINGS,
      ...MOVE_ELASTIC_IP,
      { Effect: 'Allow', Action: ['states:StartExecution'], Resource: ARN.healingMachines(stage) },
    ],
    acquireLock: [
      { Effect: 'Allow', Action: ['ssm:PutParameter', 'ssm:GetParameter', 'ssm:DeleteParameter'], Resource: ARN.locks },
      { Effect: 'Allow', Action: ['states:DescribeExecution'], Resource: ARN.executions(stage) },
    ],
    releaseLock: [{ Effect: 'Allow', Action: ['ssm:GetParameter', 'ssm:DeleteParameter'], Resource: ARN.locks }],
    inspectCluster: [READ_FLEET, READ_SETTINGS],
    assessQuorum: [],
    evaluateNodeHealth: [],
    startInstance: [
      { Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: '*' },
      { Effect: 'Allow', Action: ['ec2:StartInstances'], Resource: ARN.instances, Condition: KUBEHA_INSTANCE },
    ],
    awaitInstance: [{ Effect: 'Allow', Action: ['ec2:DescribeInstances', 'ssm:DescribeInstanceInformation'], Resource: '*' }],
    launchReplacement: [
      { Effect: 'Allow', Action: ['ec2:DescribeInstances', 'ec2:DescribeVolumes'], Resource: '*' },
      READ_SETTINGS,
      {
        Effect: 'Allow',
        Action: ['ec2:RunInstances'],
        Resource: ARN.instances,
        Condition: { Null: { 'aws:RequestTag/kubeha:role': 'false' } },
      },
      {
        Effect: 'Allow',
        Action: ['ec2:RunInstances'],
        Resource: [ARN.images, ...['subnet', 'network-interface', 'volume', 'security-group', 'key-pair', 'launch-template'].map(ARN.ec2)],
      },
      {
        Effect: 'Allow',
        Action: ['ec2:CreateTags'],
        Resource: [ARN.instances, ARN.ec2('volume'), ARN.ec2('network-interface')],
        Condition: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } },
      },
      { Effect: 'Allow', Action: ['iam:PassRole'], Resource: ARN.nodeRoles(stage), Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } } },
    ],
    refreshAddresses: [READ_FLEET],
    ensureElasticIp: [READ_FLEET, READ_SETTINGS, ...MOVE_ELASTIC_IP],
    notify: [{ Effect: 'Allow', Action: ['sns:Publish'], Resource: { Ref: 'AlertsTopic' } }],
    prepareDrill: [READ_FLEET, READ_SETTINGS],
    assessDrill: [{ Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: '*' }],
    injectFailure: [
      { Effect: 'Allow', Action: ['ec2:StopInstances', 'ec2:TerminateInstances'], Resource: ARN.instances, Condition: KUBEHA_INSTANCE },
    ],
    awaitHealing: [{ Effect: 'Allow', Action: ['states:ListExecutions'], Resource: ARN.healingMachines(stage) }],
    reportDrill: [],
    reconcile: [
      READ_FLEET,
      { Effect: 'Allow', Action: ['ssm:DescribeInstanceInformation', 'ssm:ListCommandInvocations', 'ssm:GetCommandInvocation'], Resource: '*' },
      { Effect: 'Allow', Action: ['ssm:GetParameter', 'ssm:PutParameter', 'ssm:DeleteParameter'], Resource: ARN.parameters },
      { Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: ARN.document(stage) },
      { Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: ARN.instances, Condition: MANAGED_INSTANCE },
      {
        Effect: 'Allow',
        Action: ['ec2:CreateTags'],
        Resource: ARN.instances,
        Condition: { StringEquals: { 'ec2:ResourceTag/kubeha:role': 'lb' }, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['kubeha:upstreams'] } },
      },
      ...MOVE_ELASTIC_IP,
      { Effect: 'Allow', Action: ['states:StartExecution'], Resource: ARN.healingMachines(stage) },
      { Effect: 'Allow', Action: ['states:DescribeExecution'], Resource: ARN.executions(stage) },
      { Effect: 'Allow', Action: ['sns:Publish'], Resource: { Ref: 'AlertsTopic' } },
    ],
  };
}

function pascal(name) {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function functionRoleId(fn) {
  return `${pascal(fn)}Role`;
}

function functionRoles(stage) {
  const resources = {};
  for (const [fn, statements] of Object.entries(functionStatements(stage))) {
    resources[functionRoleId(fn)] = {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        },
        Policies: [
          {
            PolicyName: `kubeha-${fn}`,
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: ARN.logGroup(stage, fn) }, ...statements],
            },
          },
        ],
      },
    };
  }
  return resources;
}

function clusterId(cluster) {
  return cluster.split('-').map(pascal).join('');
}

function secretIds(cluster) {
  return { join: `${clusterId(cluster)}JoinMaterialSecret`, kubeconfig: `${clusterId(cluster)}AdminKubeconfigSecret` };
}

/** The two secrets of a cluster. Placeholder values until kubeha writes real ones; scripts reject placeholders. */
function clusterSecrets(cluster) {
  const ids = secretIds(cluster);
  const tags = [{ Key: 'kubeha:cluster', Value: cluster }];
  return {
    [ids.join]: {
      Type: 'AWS::SecretsManager::Secret',
      Properties: {
        Name: `kubeha/${cluster}/join-material`,
        Description: `kubeadm bootstrap token and certificate key for ${cluster}, minted and rotated by kubeha`,
        SecretString: '{"token":"","certificateKey":""}',
        Tags: tags,
      },
    },
    [ids.kubeconfig]: {
      Type: 'AWS::SecretsManager::Secret',
      Properties: {
        Name: `kubeha/${cluster}/admin-kubeconfig`,
        Description: `admin kubeconfig of ${cluster}, written by its first master`,
        SecretString: 'not written yet',
        Tags: tags,
      },
    },
  };
}

function nodeStatements(cluster, role) {
  const clusterTag = `kubernetes.io/cluster/${cluster}`;
  const ids = secretIds(cluster);
  const readJoinSecret = { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: { Ref: ids.join } };
  switch (role) {
    case 'master':
      return [
        readJoinSecret,
        { Effect: 'Allow', Action: ['secretsmanager:PutSecretValue'], Resource: { Ref: ids.kubeconfig } },
        { Effect: 'Allow', Action: ['s3:PutObject'], Resource: { 'Fn::Sub': `\${EtcdSnapshotBucket.Arn}/${cluster}/*` } },
      ];
    case 'worker':
      return [readJoinSecret];
    case 'lb':
      return [
        // The MASTER's notify script checks every 10 s where the Elastic IP is (Describe* takes no resource).
        { Effect: 'Allow', Action: ['ec2:DescribeAddresses'], Resource: '*' },
        { Effect: 'Allow', Action: ['ec2:AssociateAddress'], Resource: ARN.instances, Condition: { StringEquals: { [`ec2:ResourceTag/${clusterTag}`]: 'owned', 'ec2:ResourceTag/kubeha:role': 'lb' } } },
        { Effect: 'Allow', Action: ['ec2:AssociateAddress'], Resource: ARN.elasticIps, Condition: { StringEquals: { [`aws:ResourceTag/${clusterTag}`]: 'owned' } } },
      ];
    default:
      throw new Error(`unknown role ${role}`);
  }
}

function nodeRoleId(cluster, role) {
  return `${clusterId(cluster)}${pascal(role)}NodeRole`;
}

function nodeRoles(stage, clusters) {
  const resources = {};
  for (const cluster of clusters) {
    Object.assign(resources, clusterSecrets(cluster));
    for (const role of ['master', 'worker', 'lb']) {
      const roleId = nodeRoleId(cluster, role);
      resources[roleId] = {
        Type: 'AWS::IAM::Role',
        Properties: {
          RoleName: `kubeha-${stage}-${cluster}-${role}`,
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
          },
          ManagedPolicyArns: [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore' }],
          Policies: [{ PolicyName: `kubeha-${cluster}-${role}`, PolicyDocument: { Version: '2012-10-17', Statement: nodeStatements(cluster, role) } }],
          Tags: [{ Key: 'kubeha:cluster', Value: cluster }],
        },
      };
      resources[roleId.replace(/Role$/, 'InstanceProfile')] = {
        Type: 'AWS::IAM::InstanceProfile',
        Properties: { InstanceProfileName: `kubeha-${stage}-${cluster}-${role}`, Roles: [{ Ref: roleId }] },
      };
    }
  }
  return resources;
}

const CLUSTER_NAME = /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/;

function parseClusters(value) {
  const clusters = String(value ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const cluster of clusters) {
    if (!CLUSTER_NAME.test(cluster)) throw new Error(`clusters parameter: "${cluster}" is not a valid cluster name`);
  }
  return clusters;
}

module.exports = async ({ resolveVariable }) => {
  const stage = await resolveVariable('sls:stage');
  const clusters = parseClusters(await resolveVariable('param:clusters'));
  return { Resources: { ...functionRoles(stage), ...nodeRoles(stage, clusters) } };
};
module.exports.functionStatements = functionStatements;
module.exports.functionRoleId = functionRoleId;
module.exports.nodeStatements = nodeStatements;
module.exports.parseClusters = parseClusters;
module.exports.secretIds = secretIds;
