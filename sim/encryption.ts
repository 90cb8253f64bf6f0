// Secrets at rest in the simulated clusters: which keys each master's API server loaded at its last
// start, and which key each Secret in etcd is encrypted with. The API server behaviour modelled is the
// one Kubernetes documents for EncryptionConfiguration (kubernetes.io/docs/tasks/administer-cluster/encrypt-data/):
// - the config is read only when the API server starts;
// - it writes with the first provider's first key, and reads with whichever listed key (or identity)
//   matches what is stored; a Secret stored with a key it does not list cannot be read (an error, not
//   a fallback), which is what a careless rotation breaks;
// - every API server serves every Secret: the load balancer may send any request to any of them.
// After every start and every rewrite each API server reads every Secret and writes one, so a key order
// that any master cannot follow shows up as a recorded violation.
import type { KubeCluster, SimulatedFleet } from './fleet.js';

export interface EncryptionModel {
  /** Each master's API server: the provider names it loaded at its last start, first one writing. */
  readonly apiServers: Map<string, string[]>;
  /** Each Secret in etcd and what it is stored with ('identity' means plain text). */
  readonly secrets: Map<string, string>;
  /** Every time an API server met a Secret it could not decrypt. */
  readonly violations: string[];
  /** Every API server start, in order, with the keys it loaded. */
  readonly starts: { instanceId: string; keys: string[]; at: number }[];
}

export function encryptionOf(cluster: KubeCluster): EncryptionModel {
  return (cluster.encryption ??= { apiServers: new Map(), secrets: new Map(), violations: [], starts: [] });
}

/** What a master reads with its role: the provider order of that version of the encryption secret. */
export function providersOnInstance(fleet: SimulatedFleet, secretId: string, versionId?: string): string[] {
  const raw = fleet.readSecretOnInstance(secretId, versionId);
  const keys = (JSON.parse(raw) as { keys?: { name?: string; secret?: string }[] }).keys ?? [];
  if (keys.length === 0 || keys.some((key) => !key.name || !/^[A-Za-z0-9+/]{43}=$/.test(key.secret ?? ''))) {
    throw new Error('kubeha: error: the encryption secret holds no valid key list');
  }
  return [...keys.map((key) => key.name as string), 'identity'];
}

/** The API server of `instanceId` starts with these providers, then the cluster's traffic runs. */
export function startApiServer(fleet: SimulatedFleet, cluster: KubeCluster, instanceId: string, providers: string[]): void {
  const model = encryptionOf(cluster);
  model.apiServers.set(instanceId, providers);
  model.starts.push({ instanceId, keys: providers, at: fleet.now() });
  exercise(fleet, cluster);
}

/** A master's API server leaves (reset, replaced): it serves nothing any more. */
export function stopApiServer(cluster: KubeCluster, instanceId: string): void {
  encryptionOf(cluster).apiServers.delete(instanceId);
}

/** `kubectl get secrets -A -o json | kubectl replace -f -` through this master: each Secret is stored again with its first key. */
export function rewriteSecrets(fleet: SimulatedFleet, cluster: KubeCluster, instanceId: string): number {
  const model = encryptionOf(cluster);
  const providers = model.apiServers.get(instanceId);
  if (!providers) throw new Error('The connection to the server was refused: kube-apiserver is not running here');
  for (const [name, key] of model.secrets) {
    if (!providers.includes(key)) {
      model.violations.push(`${instanceId} could not read Secret ${name} (stored with ${key}) to rewrite it`);
      continue;
    }
    model.secrets.set(name, providers[0]!);
  }
  exercise(fleet, cluster);
  return model.secrets.size;
}

/** Every API server reads every Secret, then writes its own: what controllers and users do all day. */
function exercise(fleet: SimulatedFleet, cluster: KubeCluster): void {
  const model = encryptionOf(cluster);
  for (const [server, providers] of model.apiServers) {
    for (const [name, key] of model.secrets) {
      if (!providers.includes(key)) model.violations.push(`at ${new Date(fleet.now()).toISOString()} ${server} (keys ${providers.join(', ')}) could not decrypt Secret ${name}, stored with ${key}`);
    }
  }
  for (const [server, providers] of model.apiServers) model.secrets.set(`default/written-through-${server}`, providers[0]!);
}
