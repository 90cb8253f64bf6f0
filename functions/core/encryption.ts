// Secrets at rest in etcd: the keys of the API servers' EncryptionConfiguration, kept in a master-only
// Secrets Manager secret, and the moves of a key rotation. Pure decisions over the key list; the use
// cases at the bottom take the ports. Key values live in the secret and in memory here, never in a
// return value, a payload, a parameter or a log line: callers get key names and secret versions.
//
// Provider: secretbox (XSalsa20 + Poly1305, 32-byte keys). Kubernetes' "Encrypting Confidential Data at
// Rest" (kubernetes.io/docs/tasks/administer-cluster/encrypt-data/) rates it strong and faster; aesgcm
// must be rotated every 200k writes (random nonces), aescbc is weak against padding oracles and no
// longer recommended; kms v2 needs a KMS plugin on every master, which kubeha does not run.
//
// Rotation follows the same page's procedure for several API servers: add the new key second on every
// master and restart them all; move it first and restart them all; rewrite every Secret; remove the old
// keys and restart them all. Each move below is idempotent for one rotation id, so a rotation that stops
// anywhere is resumed by running it again with the same id.
import { z } from 'zod';
import { ClusterStateError } from './errors.js';
import * as names from './names.js';
import type { Ports, SecretRef } from './ports.js';

export interface EncryptionKey {
  /** Not secret: provider key names appear in the config and in kubeha's output. */
  readonly name: string;
  /** base64 of 32 random bytes. */
  readonly secret: string;
}

/** The secret's value: the keys in provider order. The first encrypts; all decrypt; identity reads what predates encryption. */
export interface EncryptionKeys {
  readonly keys: readonly EncryptionKey[];
}

export const KEY_NAME_FORMAT = /^key-[a-z0-9-]{1,40}$/;
export const ROTATION_ID_FORMAT = /^[a-z0-9][a-z0-9-]{0,35}$/;
const KEY_SECRET_FORMAT = /^[A-Za-z0-9+/]{43}=$/;

const keysSchema = z.object({
  keys: z.array(z.object({ name: z.string().regex(KEY_NAME_FORMAT), secret: z.string().regex(KEY_SECRET_FORMAT) })),
});

export const ROTATION_PHASES = ['add', 'promote', 'retire'] as const;
export type RotationPhase = (typeof ROTATION_PHASES)[number];

/** The placeholder the stack writes: no key yet. */
export const NO_KEYS = '{"keys":[]}';

export function encryptionSecretName(clusterName: string, stage: string = deployedStage()): string {
  return names.encryptionSecretName(stage, clusterName);
}

function deployedStage(): string {
  const stage = process.env.KUBEHA_STAGE;
  if (!stage) throw new Error('KUBEHA_STAGE is not set: deploy with serverless.yml, which sets it (the CLI sets it from --stage)');
  return stage;
}

export function keyNameFor(rotationId: string): string {
  return `key-${rotationId}`;
}

export function mintEncryptionKey(name: string, random: (bytes: number) => Buffer): EncryptionKey {
  return { name, secret: random(32).toString('base64') };
}

/** Parses the secret's value; a value that is not a key list is a broken secret, said without quoting it. */
export function parseEncryptionKeys(raw: string): EncryptionKeys {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ClusterStateError('the encryption secret does not hold JSON (expected {"keys":[{"name","secret"}]})');
  }
  const result = keysSchema.safeParse(parsed);
  if (!result.success) throw new ClusterStateError(`the encryption secret is malformed at ${result.error.issues[0]?.path.join('.') || 'its top level'}: ${result.error.issues[0]?.message ?? 'unexpected shape'}`);
  return result.data;
}

/** First key of a cluster that has none; a cluster with keys keeps them. */
export function withInitialKey(current: EncryptionKeys, mint: () => EncryptionKey): EncryptionKeys | undefined {
  return current.keys.length > 0 ? undefined : { keys: [mint()] };
}

/**
 * One move of a rotation, or undefined when the key list already shows it done (the idempotency).
 * add: the new key goes second, so every API server can read it before any writes with it.
 * promote: the new key goes first, every other key stays to read what is not rewritten yet.
 * retire: only the new key stays; valid only after every Secret was rewritten with it.
 */
export function rotationMove(current: EncryptionKeys, phase: RotationPhase, name: string, mint: () => EncryptionKey): EncryptionKeys | undefined {
  const present = current.keys.find((key) => key.name === name);
  const others = current.keys.filter((key) => key.name !== name);
  switch (phase) {
    case 'add':
      if (present) return undefined;
      if (current.keys.length === 0) throw new ClusterStateError('the cluster has no encryption key to rotate from: bootstrap it with kubeha first');
      return { keys: [current.keys[0]!, mint(), ...current.keys.slice(1)] };
    case 'promote':
      if (!present) throw new ClusterStateError(`${name} is not among the encryption keys: run the rotation from its start`);
      if (current.keys[0]?.name === name) return undefined;
      return { keys: [present, ...others] };
    case 'retire':
      if (!present || current.keys[0]?.name !== name) throw new ClusterStateError(`${name} does not encrypt yet: it must be first before the old keys go`);
      if (others.length === 0) return undefined;
      return { keys: [present] };
  }
}

/** The keys' names in provider order, and identity last: what the API servers will be told. */
export function providerOrder(keys: EncryptionKeys): string[] {
  return [...keys.keys.map((key) => key.name), 'identity'];
}

async function requireSecretArn(clusterName: string, ports: Pick<Ports, 'secrets'>): Promise<string> {
  const name = encryptionSecretName(clusterName);
  const arn = await ports.secrets.findSecretArn(name);
  if (!arn) throw new ClusterStateError(`the stack holds no secret ${name}: add ${clusterName} to the stack's clusters parameter and deploy again`);
  return arn;
}

export interface KeysOutcome {
  readonly secretArn: string;
  /** The version masters render from: passed to them so every master of one step gets the same keys. */
  readonly versionId: string;
  readonly keyNames: string[];
  readonly changed: boolean;
}

async function store(secretArn: string, next: EncryptionKeys | undefined, current: EncryptionKeys, ports: Pick<Ports, 'secrets'>): Promise<KeysOutcome> {
  if (next) {
    const reference: SecretRef = await ports.secrets.putSecretValue(secretArn, JSON.stringify(next));
    return { secretArn, versionId: reference.versionId, keyNames: providerOrder(next), changed: true };
  }
  const version = await ports.secrets.currentVersion(secretArn);
  if (!version) throw new ClusterStateError('the encryption secret has no current version');
  return { secretArn, versionId: version.versionId, keyNames: providerOrder(current), changed: false };
}

/** Bootstrap: the cluster's first key, before the first master's kubeadm init reads it. */
export async function ensureEncryptionKey(clusterName: string, ports: Pick<Ports, 'secrets' | 'random' | 'clock'>): Promise<KeysOutcome> {
  const secretArn = await requireSecretArn(clusterName, ports);
  const current = parseEncryptionKeys((await ports.secrets.getSecretValue(secretArn)) ?? NO_KEYS);
  const stamp = new Date(ports.clock.now()).toISOString().replace(/[-:TZ.]/g, '').slice(0, 14);
  return store(secretArn, withInitialKey(current, () => mintEncryptionKey(`key-${stamp}`, ports.random)), current, ports);
}

/** One move of rotation `rotationId`; repeating it changes nothing. */
export async function changeEncryptionKeys(
  input: { clusterName: string; rotationId: string; phase: RotationPhase },
  ports: Pick<Ports, 'secrets' | 'random'>,
): Promise<KeysOutcome> {
  const secretArn = await requireSecretArn(input.clusterName, ports);
  const current = parseEncryptionKeys((await ports.secrets.getSecretValue(secretArn)) ?? NO_KEYS);
  const name = keyNameFor(input.rotationId);
  return store(secretArn, rotationMove(current, input.phase, name, () => mintEncryptionKey(name, ports.random)), current, ports);
}
