// The names kubeha gives AWS resources and AWS's limits on them. The rules are written once, in
// infra/names.cjs, because `sls package` needs them where only CommonJS loads; this module gives the CLI
// and the Lambdas the same functions with types. Pure: no AWS calls, no environment.
export {
  JOIN_KINDS,
  LIMITS,
  NODE_ROLES,
  NameError,
  checkCluster,
  checkNames,
  checkRegion,
  checkStack,
  checkStage,
  clusterLogicalId,
  clusterNames,
  documentName,
  documentPrefix,
  encryptionSecretName,
  functionName,
  instanceProfileName,
  joinSecretName,
  kubeconfigSecretName,
  userSecretName,
  userSecretPrefix,
  nameProblems,
  nodeRoleName,
  parseClusters,
  rateExpression,
  stackName,
  stackNames,
  stateMachineName,
} from '../../infra/names.cjs';
export type { JoinKind, NameKind, NamedResource, NodeRole, StackSettings } from '../../infra/names.cjs';
