// Join material kubeha mints itself, so that kubeadm never has to print it: a bootstrap token
// ([a-z0-9]{6}.[a-z0-9]{16}) and a certificate key (32 random bytes, hex) for --upload-certs.

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

export function joinSecretName(clusterName: string): string {
  return `kubeha/${clusterName}/join-material`;
}

export function kubeconfigSecretName(clusterName: string): string {
  return `kubeha/${clusterName}/admin-kubeconfig`;
}

export function settingsParameterName(clusterName: string): string {
  return `/kubeha/${clusterName}/settings`;
}
