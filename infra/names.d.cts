// Types for names.cjs, so that functions/core/names.ts can re-export the one set of naming rules.
export type NameKind =
  | 'CloudFormation stack'
  | 'IAM role'
  | 'IAM instance profile'
  | 'IAM inline policy'
  | 'Lambda function'
  | 'EventBridge rule'
  | 'Step Functions state machine'
  | 'SSM document'
  | 'Secrets Manager secret'
  | 'SQS queue'
  | 'SNS topic'
  | 'KMS alias';
export type NodeRole = 'master' | 'worker' | 'lb';
/** Which join a secret serves: workers may read only `worker`; `control-plane` holds the certificate key. */
export type JoinKind = 'worker' | 'control-plane';
export interface NamedResource {
  readonly kind: NameKind;
  readonly name: string;
  /** The setting(s) to shorten when the name is too long, as a phrase. */
  readonly setting: string;
}
export interface StackSettings {
  readonly stage: string;
  readonly region: string;
  readonly clusters: readonly string[];
  readonly functions?: readonly string[];
  readonly stateMachines?: readonly string[];
  readonly documents?: readonly string[];
  /** The document set's digest (ssm-documents/render.cjs); a placeholder of its length when absent. */
  readonly documentDigest?: string;
}
export declare const LIMITS: Readonly<Record<NameKind, number>>;
export declare const NODE_ROLES: readonly NodeRole[];
export declare const JOIN_KINDS: readonly JoinKind[];
export declare class NameError extends Error {}
export declare function checkStage(stage: string): string;
export declare function checkCluster(cluster: string): string;
export declare function checkRegion(region: string): string;
export declare function parseClusters(value: string | undefined): string[];
export declare function stackName(stage: string): string;
export declare function functionName(stage: string, fn: string): string;
export declare function stateMachineName(stage: string, machine: string): string;
export declare function documentPrefix(stage: string): string;
export declare function documentName(stage: string, document: string, digest?: string): string;
export declare const DOCUMENT_DIGEST_LENGTH: number;
export declare function eventRuleName(stage: string, purpose: string): string;
export declare function alertsTopicName(stage: string): string;
export declare function alertsKeyAlias(stage: string): string;
export declare function undeliveredQueueName(stage: string): string;
export declare function nodeRoleName(stage: string, region: string, cluster: string, role: NodeRole): string;
export declare function instanceProfileName(stage: string, region: string, cluster: string, role: NodeRole): string;
export declare function nodePolicyName(cluster: string, role: NodeRole): string;
export declare function functionPolicyName(fn: string): string;
export declare function joinSecretName(stage: string, cluster: string, kind: JoinKind): string;
export declare function kubeconfigSecretName(stage: string, cluster: string): string;
export declare function userSecretPrefix(stage: string, cluster: string): string;
export declare function userSecretName(stage: string, cluster: string, user: string): string;
export declare function encryptionSecretName(stage: string, cluster: string): string;
export declare function clusterLogicalId(cluster: string): string;
export declare function clusterNames(stage: string, region: string, cluster: string): NamedResource[];
export declare function stackNames(settings: StackSettings): NamedResource[];
export declare function nameProblems(names: readonly NamedResource[]): string[];
export declare function checkNames(names: readonly NamedResource[]): NamedResource[];
export declare function checkStack(settings: StackSettings): NamedResource[];
export declare function rateExpression(minutes: number | string): string;
