// Join material kubeha mints itself, so that kubeadm never has to print it: a bootstrap token
// ([a-z0-9]{6}.[a-z0-9]{16}) and, for control-plane joins only, a certificate key (32 random bytes, hex)
// for --upload-certs. The two kinds live in two secrets: workers' instance role reads only the worker one,
// whose token is registered in a group that cannot read kube-system/kubeadm-certs (README "Security model").
import * as names from './names.js';
import type { JoinKind } from './names.js';

export type { JoinKind };

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
// Largest multiple of 36 below 256: bytes at or above it are dropped so every character is equally likely.
const UNBIASED_LIMIT = 252;

/** What a worker join needs: a token and nothing else (the CA hash travels as a plain parameter). */
export interface WorkerJoinMaterial {
  readonly token: string;
}
/** What a control-plane join needs: a token in kubeadm's default group and the certificate key. */
export interface ControlPlaneJoinMaterial {
  readonly token: string;
  readonly certificateKey: string;
}
export type JoinMaterial = WorkerJoinMaterial | ControlPlaneJoinMaterial;

export const TOKEN_FORMAT = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
export const CERTIFICATE_KEY_FORMAT = /^[a-f0-9]{64}$/;

export function mintJoinMaterial(kind: 'worker', random: (bytes: number) => Buffer): WorkerJoinMaterial;
export function mintJoinMaterial(kind: 'control-plane', random: (bytes: number) => Buffer): ControlPlaneJoinMaterial;
export function mintJoinMaterial(kind: JoinKind, random: (bytes: number) => Buffer): JoinMaterial;
export function mintJoinMaterial(kind: JoinKind, random: (bytes: number) => Buffer): JoinMaterial {
  const token = `${randomString(6, random)}.${randomString(16, random)}`;
  // A worker's secret never holds a certificate key, not even an empty field: there is nothing to leak.
  return kind === 'worker' ? { token } : { token, certificateKey: random(32).toString('hex') };
}

function randomString(length: number, random: (bytes: number) => Buffer): string {
  let result = '';
  while (result.length < length) {
    for (const byte of random(length * 2)) {
      if (byte < UNBIASED_LIMIT && result.length < length) result += ALPHABET[byte % ALPHABET.length];
    }
  }
  return result;
}

/**
 * The stage this deployment serves: secret names include it, so two stages in one account and region keep
 * their secrets apart. serverless.yml sets KUBEHA_STAGE for every function; the CLI sets it from --stage.
 */
function deployedStage(): string {
  const stage = process.env.KUBEHA_STAGE;
  if (!stage) throw new Error('KUBEHA_STAGE is not set: deploy with serverless.yml, which sets it (the CLI sets it from --stage)');
  return stage;
}

/** `kubeha/<stage>/<cluster>/worker-join` or `…/control-plane-join`, as infra/names.cjs names the secrets the stack creates. */
export function joinSecretName(clusterName: string, kind: JoinKind, stage: string = deployedStage()): string {
  return names.joinSecretName(stage, clusterName, kind);
}

/** `kubeha/<stage>/<cluster>/admin-kubeconfig`. */
export function kubeconfigSecretName(clusterName: string, stage: string = deployedStage()): string {
  return names.kubeconfigSecretName(stage, clusterName);
}

export function settingsParameterName(clusterName: string): string {
  return `/kubeha/${clusterName}/settings`;
}
