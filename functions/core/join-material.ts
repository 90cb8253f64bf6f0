// Join material kubeha mints itself, so that kubeadm never has to print it: a bootstrap token
// ([a-z0-9]{6}.[a-z0-9]{16}) and a certificate key (32 random bytes, hex) for --upload-certs.
import * as names from './names.js';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
// Largest multiple of 36 below 256: bytes at or above it are dropped so every character is equally likely.
const UNBIASED_LIMIT = 252;

export interface JoinMaterial {
  readonly token: string;
  readonly certificateKey: string;
}

export const TOKEN_FORMAT = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
export const CERTIFICATE_KEY_FORMAT = /^[a-f0-9]{64}$/;

export function mintJoinMaterial(random: (bytes: number) => Buffer): JoinMaterial {
  return {
    token: `${randomString(6, random)}.${randomString(16, random)}`,
    certificateKey: random(32).toString('hex'),
  };
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

/** `kubeha/<stage>/<cluster>/join-material`, as infra/names.cjs names the secret the stack creates. */
export function joinSecretName(clusterName: string, stage: string = deployedStage()): string {
  return names.joinSecretName(stage, clusterName);
}

/** `kubeha/<stage>/<cluster>/admin-kubeconfig`. */
export function kubeconfigSecretName(clusterName: string, stage: string = deployedStage()): string {
  return names.kubeconfigSecretName(stage, clusterName);
}

export function settingsParameterName(clusterName: string): string {
  return `/kubeha/${clusterName}/settings`;
}
