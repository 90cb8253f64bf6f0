// Every name kubeha gives an AWS resource, and the limits AWS puts on them, written once.
//
// CommonJS on purpose: osls require()s infra code synchronously (iam.cjs through `${file()}`, plugins by
// path) and cannot load TypeScript, while esbuild, tsx and vitest all import CommonJS happily. So the rules
// live here and functions/core/names.ts re-exports them with types for the CLI and the Lambdas: one
// source, no generated twin to keep in step.
//
// Two rules keep names from colliding:
// - stage and cluster names are lowercase letters, digits and hyphens only (IAM names are unique without
//   regard to case, so `Dev` and `dev` would collide there);
// - where two free-form parts meet in one name (stage and cluster in an IAM role), they are joined with
//   `.`, which neither may contain, so `kubeha-a-b.c` and `kubeha-a.b-c` stay apart; secrets join with `/`.
// IAM policies name resources by exact ARN or Ref, never by a `kubeha-<stage>-*` pattern, so stage `prod`
// cannot reach stage `prod-eu`'s documents, roles or state machines.
'use strict';

const crypto = require('node:crypto');

// Maximum lengths, from each service's API reference:
// IAM CreateRole RoleName 64, CreateInstanceProfile InstanceProfileName 128, inline PolicyName 128
//   (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html);
// Lambda CreateFunction FunctionName 64 (https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html);
// EventBridge PutRule Name 64 (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html);
// Step Functions CreateStateMachine name 80 (https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html);
// SSM CreateDocument Name 128 (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateDocument.html);
// Secrets Manager CreateSecret Name 512 (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html);
// SQS CreateQueue QueueName 80; SNS CreateTopic Name 256; KMS CreateAlias AliasName 256;
// CloudFormation stack name 128. DynamoDB tables (255) and S3 buckets (63, lowercase) are not named by
// kubeha: CloudFormation generates their names, which fit, and a retained table or bucket with a fixed
// name would block the next deploy of the same stage.
const LIMITS = Object.freeze({
  'CloudFormation stack': 128,
  'IAM role': 64,
  'IAM instance profile': 128,
  'IAM inline policy': 128,
  'Lambda function': 64,
  'EventBridge rule': 64,
  'Step Functions state machine': 80,
  'SSM document': 128,
  'Secrets Manager secret': 512,
  'SQS queue': 80,
  'SNS topic': 256,
  'KMS alias': 256,
});

const STAGE = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;
const CLUSTER = /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const NODE_ROLES = Object.freeze(['master', 'worker', 'lb']);

/** A setting that would produce a name AWS rejects. Its message is the whole story: osls prints `stack`, so it holds no trace. */
class NameError extends Error {
  constructor(message) {
    super(message);
    this.name = 'NameError';
    this.stack = `${this.name}: ${message}`;
  }
}

function checkStage(stage) {
  if (!STAGE.test(String(stage))) {
    throw new NameError(`stage "${stage}" must be lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen (IAM names ignore case, and "." and "/" separate names)`);
  }
  return stage;
}

function checkCluster(cluster) {
  if (!CLUSTER.test(String(cluster))) {
    throw new NameError(`cluster name "${cluster}" must be 3-32 lowercase letters, digits or hyphens, starting with a letter and ending with a letter or digit`);
  }
  return cluster;
}

function checkRegion(region) {
  if (!REGION.test(String(region))) throw new NameError(`region "${region}" is not an AWS region name such as eu-west-1`);
  return region;
}

/** The `clusters` stack parameter: a comma-separated list of distinct cluster names. */
function parseClusters(value) {
  const clusters = String(value ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const seen = new Set();
  for (const cluster of clusters) {
    try {
      checkCluster(cluster);
    } catch (error) {
      throw new NameError(`clusters parameter: ${error.message}`);
    }
    if (seen.has(cluster)) throw new NameError(`clusters parameter: "${cluster}" is listed twice`);
    seen.add(cluster);
  }
  return clusters;
}

const stackName = (stage) => `kubeha-${stage}`;
const functionName = (stage, fn) => `${stackName(stage)}-${fn}`;
const stateMachineName = (stage, machine) => `${stackName(stage)}-${machine}`;
const documentPrefix = (stage) => `${stackName(stage)}-`;
/**
 * A document's name ends with the digest of the whole document set: any change to any document makes
 * new documents, so the functions built with a set only ever run that set (SendCommand pins a version
 * only by number, which a build cannot know). `digest` is ssm-documents/render.cjs documentDigest().
 */
const DOCUMENT_DIGEST_LENGTH = 10;
const documentName = (stage, document, digest = '') => `${documentPrefix(stage)}${document}${digest ? `-${digest}` : ''}`;
const eventRuleName = (stage, purpose) => `${stackName(stage)}-${purpose}`;
const alertsTopicName = (stage) => `${stackName(stage)}-alerts`;
const alertsKeyAlias = (stage) => `alias/${stackName(stage)}-alerts`;
const undeliveredQueueName = (stage) => `${stackName(stage)}-undelivered-events`;
/** IAM is global: the region keeps two deployments of one stage in one account apart. */
const nodeRoleName = (stage, region, cluster, role) => `${stackName(stage)}.${cluster}.${role}.${region}`;
const instanceProfileName = nodeRoleName;
const nodePolicyName = (cluster, role) => `kubeha.${cluster}.${role}`;
const functionPolicyName = (fn) => `kubeha-${fn}`;
/**
 * Join material is split by who may read it: workers read only the worker join secret (a bootstrap token
 * whose group cannot read kube-system/kubeadm-certs); the control-plane join secret (a token in kubeadm's
 * default group and the certificate key) is for masters only. README "Security model" says why.
 */
const JOIN_KINDS = Object.freeze(['worker', 'control-plane']);
const joinSecretName = (stage, cluster, kind) => {
  if (!JOIN_KINDS.includes(kind)) throw new NameError(`join kind "${kind}" must be one of ${JOIN_KINDS.join(', ')}`);
  return `kubeha/${stage}/${cluster}/${kind}-join`;
};
const kubeconfigSecretName = (stage, cluster) => `kubeha/${stage}/${cluster}/admin-kubeconfig`;
/** Users' kubeconfigs (`kubeha access grant`), one secret each, created by a master of the cluster. */
const userSecretPrefix = (stage, cluster) => `kubeha/${stage}/${cluster}/users/`;
const userSecretName = (stage, cluster, user) => `${userSecretPrefix(stage, cluster)}${user}`;
/** The API server's EncryptionConfiguration keys: masters read it, no other node role does. */
const encryptionSecretName = (stage, cluster) => `kubeha/${stage}/${cluster}/encryption-keys`;

function pascal(name) {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * The cluster's part of a CloudFormation logical id. Logical ids are alphanumeric, so the hyphens of a
 * cluster name are lost; a short hash of the exact name keeps `a-1b` and `a1b` apart.
 */
function clusterLogicalId(cluster) {
  const digest = crypto.createHash('sha256').update(cluster).digest('hex').slice(0, 8);
  return `${cluster.split('-').map(pascal).join('')}${digest}`;
}

/** Every name one cluster adds to the stack, with the settings that make it longer. */
function clusterNames(stage, region, cluster) {
  const setting = `the stage ("${stage}") or the cluster name ("${cluster}")`;
  const names = [
    ...JOIN_KINDS.map((kind) => ({ kind: 'Secrets Manager secret', name: joinSecretName(stage, cluster, kind), setting })),
    { kind: 'Secrets Manager secret', name: kubeconfigSecretName(stage, cluster), setting },
    { kind: 'Secrets Manager secret', name: encryptionSecretName(stage, cluster), setting },
  ];
  for (const role of NODE_ROLES) {
    names.push(
      { kind: 'IAM role', name: nodeRoleName(stage, region, cluster, role), setting },
      { kind: 'IAM instance profile', name: instanceProfileName(stage, region, cluster, role), setting },
      { kind: 'IAM inline policy', name: nodePolicyName(cluster, role), setting: `the cluster name ("${cluster}")` },
    );
  }
  return names;
}

/**
 * Every name the stack creates for a stage, region and list of clusters. `functions`, `stateMachines`
 * and `documents` are the short names (`reconcile`, `heal-master`, `BootstrapMaster`).
 */
function stackNames({ stage, region, clusters, functions = [], stateMachines = [], documents = [], documentDigest = '0'.repeat(DOCUMENT_DIGEST_LENGTH) }) {
  const setting = `the stage ("${stage}")`;
  const names = [
    { kind: 'CloudFormation stack', name: stackName(stage), setting },
    { kind: 'SNS topic', name: alertsTopicName(stage), setting },
    { kind: 'KMS alias', name: alertsKeyAlias(stage), setting },
    { kind: 'SQS queue', name: undeliveredQueueName(stage), setting },
    { kind: 'EventBridge rule', name: eventRuleName(stage, 'ec2-state-change'), setting },
    { kind: 'EventBridge rule', name: eventRuleName(stage, 'reconcile-schedule'), setting },
    ...functions.map((fn) => ({ kind: 'Lambda function', name: functionName(stage, fn), setting })),
    ...functions.map((fn) => ({ kind: 'IAM inline policy', name: functionPolicyName(fn), setting: `the function name ("${fn}")` })),
    ...stateMachines.map((machine) => ({ kind: 'Step Functions state machine', name: stateMachineName(stage, machine), setting })),
    ...documents.map((document) => ({ kind: 'SSM document', name: documentName(stage, document, documentDigest), setting })),
    ...clusters.flatMap((cluster) => clusterNames(stage, region, cluster)),
  ];
  return names;
}

/** The names that break an AWS limit, each with a sentence that says which setting to shorten. */
function nameProblems(names) {
  return names
    .filter(({ kind, name }) => name.length > LIMITS[kind])
    .map(({ kind, name, setting }) => `${kind} name "${name}" is ${name.length} characters, over AWS's limit of ${LIMITS[kind]}: shorten ${setting}`);
}

/** Throws one NameError listing every name over its limit; returns the names otherwise. */
function checkNames(names) {
  const problems = nameProblems(names);
  if (problems.length > 0) throw new NameError(`kubeha would create names AWS rejects:\n- ${problems.join('\n- ')}`);
  return names;
}

/** Validates the settings, then every name they produce. What `sls package` and the CLI both run. */
function checkStack(settings) {
  checkStage(settings.stage);
  checkRegion(settings.region);
  settings.clusters.forEach(checkCluster);
  return checkNames(stackNames(settings));
}

/** `rate(1 minute)` but `rate(5 minutes)`: EventBridge rejects the other forms. */
function rateExpression(minutes) {
  const value = Number(minutes);
  if (!Number.isInteger(value) || value < 1) throw new NameError(`reconcileRateMinutes must be a whole number of minutes, 1 or more (got "${minutes}")`);
  return value === 1 ? 'rate(1 minute)' : `rate(${value} minutes)`;
}

exports.LIMITS = LIMITS;
exports.NODE_ROLES = NODE_ROLES;
exports.JOIN_KINDS = JOIN_KINDS;
exports.NameError = NameError;
exports.checkStage = checkStage;
exports.checkCluster = checkCluster;
exports.checkRegion = checkRegion;
exports.parseClusters = parseClusters;
exports.stackName = stackName;
exports.functionName = functionName;
exports.stateMachineName = stateMachineName;
exports.documentPrefix = documentPrefix;
exports.documentName = documentName;
exports.DOCUMENT_DIGEST_LENGTH = DOCUMENT_DIGEST_LENGTH;
exports.eventRuleName = eventRuleName;
exports.alertsTopicName = alertsTopicName;
exports.alertsKeyAlias = alertsKeyAlias;
exports.undeliveredQueueName = undeliveredQueueName;
exports.nodeRoleName = nodeRoleName;
exports.instanceProfileName = instanceProfileName;
exports.nodePolicyName = nodePolicyName;
exports.functionPolicyName = functionPolicyName;
exports.joinSecretName = joinSecretName;
exports.kubeconfigSecretName = kubeconfigSecretName;
exports.userSecretPrefix = userSecretPrefix;
exports.userSecretName = userSecretName;
exports.encryptionSecretName = encryptionSecretName;
exports.clusterLogicalId = clusterLogicalId;
exports.clusterNames = clusterNames;
exports.stackNames = stackNames;
exports.nameProblems = nameProblems;
exports.checkNames = checkNames;
exports.checkStack = checkStack;
exports.rateExpression = rateExpression;
