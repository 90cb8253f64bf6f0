// Secrets encryption on the masters: the EncryptionConfiguration init and control-plane joins write
// before kubeadm runs, the kube-apiserver manifest kubeadm renders from the ClusterConfiguration (the
// kubeadm double renders extraArgs and extraVolumes as kubeadm's manifests.go and volumes.go do; there is
// no kube-apiserver binary here, so both are golden files), the restart a rotation step makes, and the
// rewrite of every Secret. No key may reach an argument, the output or a log.
import { statSync, writeFileSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeCluster, type FakeNode, useFakeCluster } from './kubeadm-cluster.js';
import { ENCRYPTION_KEYS, Sandbox } from './sandbox.js';

const GOLDEN = fileURLToPath(new URL('../golden/', import.meta.url));
const golden = (name: string) => readFileSync(join(GOLDEN, name), 'utf8');
const KEY_VALUES = (JSON.parse(ENCRYPTION_KEYS) as { keys: { secret: string }[] }).keys.map((key) => key.secret);
const ROTATED = JSON.stringify({
  keys: [
    { name: 'key-r1', secret: Buffer.alloc(32, 3).toString('base64') },
    ...(JSON.parse(ENCRYPTION_KEYS) as { keys: unknown[] }).keys,
  ],
});
const VERSION = 'a1b2c3d4-0000-1111-2222-333344445555';

const fake = useFakeCluster();
let cluster: FakeCluster;
let caPem: string;
const node = (ip: string): FakeNode => fake.node(ip);

beforeEach(() => {
  ({ cluster, caPem } = fake);
});


const digest = (text: string) => createHash('sha256').update(text).digest('hex');
const starts = (master: FakeNode) => {
  try {
    return readFileSync(join(master.sandbox.state, 'apiserver-starts'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};
const leaked = (...texts: string[]) => KEY_VALUES.concat(Buffer.alloc(32, 3).toString('base64')).filter((key) => texts.some((text) => text.includes(key)));

describe('init-first-master.sh and join-node.sh with Secrets encryption', () => {
  it('should write the EncryptionConfiguration 0600 before kubeadm init, as the golden file renders it', () => {
    // Prepare
    const master = node('10.0.0.11');

    // Act
    const run = master.init();

    // Assess
    expect(run.status).toBe(0);
    expect(master.sandbox.read('etc/kubernetes/encryption/config.yaml')).toBe(golden('encryption-config.yaml'));
    expect(statSync(join(master.sandbox.root, 'etc/kubernetes/encryption/config.yaml')).mode & 0o777).toBe(0o600);
    expect(statSync(join(master.sandbox.root, 'etc/kubernetes/encryption')).mode & 0o777).toBe(0o700);
    const readKeys = run.calls.findIndex((call) => call.includes('--secret-id kubeha/local/demo/encryption-keys'));
    const init = run.calls.findIndex((call) => call.startsWith('kubeadm init'));
    expect(readKeys).toBeGreaterThanOrEqual(0);
    expect(readKeys).toBeLessThan(init);
    expect(leaked(run.stdout, run.stderr, run.calls.join('\n'), master.sandbox.allCalls())).toEqual([]);
  });

  it('should give kubeadm the flag and the volume in the ClusterConfiguration, and kubeadm renders the golden kube-apiserver manifest', () => {
    // Prepare
    const master = node('10.0.0.11');

    // Act
    master.init();

    // Assess
    expect(master.lastConfig('init')).toContain(golden('kubeadm-apiserver-encryption.yaml'));
    expect(master.sandbox.read('etc/kubernetes/manifests/kube-apiserver.yaml')).toBe(golden('kube-apiserver.yaml'));
  });

  it('should give a joining master the same config and, from the stored ClusterConfiguration, the same manifest', () => {
    // Prepare
    const first = node('10.0.0.11');
    const hash = String(first.init().result?.caCertHash);
    const second = node('10.0.0.12');

    // Act
    const run = second.join('control-plane', hash);

    // Assess
    expect(run.status).toBe(0);
    expect(second.sandbox.read('etc/kubernetes/encryption/config.yaml')).toBe(golden('encryption-config.yaml'));
    expect(second.sandbox.read('etc/kubernetes/manifests/kube-apiserver.yaml')).toBe(golden('kube-apiserver.yaml').replace('--advertise-address=10.0.0.11', '--advertise-address=10.0.0.12'));
    const readKeys = run.calls.findIndex((call) => call.includes('encryption-keys'));
    expect(readKeys).toBeLessThan(run.calls.findIndex((call) => call.startsWith('kubeadm join')));
  });

  it('should never read the encryption secret on a worker', () => {
    // Prepare
    const first = node('10.0.0.11');
    const hash = String(first.init().result?.caCertHash);
    expect(first.refreshJoinMaterial('worker').status).toBe(0);
    const worker = node('10.0.0.21');

    // Act
    const run = worker.join('worker', hash);

    // Assess
    expect(run.status, run.stderr).toBe(0);
    expect(run.calls.filter((call) => call.includes('encryption-keys'))).toEqual([]);
    expect(worker.sandbox.exists('etc/kubernetes/encryption')).toBe(false);
  });

  it('should refuse an empty or malformed key list without writing a file or printing the value', () => {
    // Prepare
    const master = node('10.0.0.11');
    writeFileSync(join(master.sandbox.state, 'encryption-keys.json'), '{"keys":[{"name":"key-x","secret":"c2hvcnQ="}]}');

    // Act
    const run = master.init();

    // Assess
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('the encryption secret holds no valid key list');
    expect(run.stderr + run.stdout).not.toContain('c2hvcnQ=');
    expect(run.calls.some((call) => call.startsWith('kubeadm init'))).toBe(false);
    expect(master.sandbox.exists('etc/kubernetes/encryption/config.yaml')).toBe(false);
  });
});

describe('apply-encryption-config.sh', () => {
  const apply = (master: FakeNode) =>
    master.run('apply-encryption-config.sh', { KUBEHA_ENCRYPTION_SECRET_VERSION_ID: VERSION });

  it('should write the new key list and restart kube-apiserver once, after the file is written', () => {
    // Prepare
    const master = node('10.0.0.11');
    master.init();
    writeFileSync(join(master.sandbox.state, 'encryption-keys.json'), ROTATED);

    // Act
    const run = apply(master);

    // Assess
    expect(run.status).toBe(0);
    expect(run.result).toEqual({ changed: true });
    const written = master.sandbox.read('etc/kubernetes/encryption/config.yaml');
    expect(written.indexOf('name: key-r1')).toBeLessThan(written.indexOf('name: key-20261130t1510'));
    expect(starts(master)).toEqual([digest(written)]);
    expect(run.calls).toContainEqual(expect.stringMatching(/--version-id a1b2c3d4-0000-1111-2222-333344445555/));
    expect(leaked(run.stdout, run.stderr, master.sandbox.allCalls())).toEqual([]);
  });

  it('should restart nothing when run again with the same version', () => {
    // Prepare
    const master = node('10.0.0.11');
    master.init();
    writeFileSync(join(master.sandbox.state, 'encryption-keys.json'), ROTATED);
    apply(master);

    // Act
    const again = apply(master);

    // Assess
    expect(again.result).toEqual({ changed: false });
    expect(starts(master)).toHaveLength(1);
  });

  it('should restart when an earlier run wrote the file but died before the restart', () => {
    // Prepare: the file already holds the new keys, no restart has read them (no marker).
    const master = node('10.0.0.11');
    master.init();
    writeFileSync(join(master.sandbox.state, 'encryption-keys.json'), ROTATED);
    apply(master);
    master.sandbox.file('var/lib/kubeha/encryption-config-applied', 'an older digest\n');

    // Act
    const run = apply(master);

    // Assess
    expect(run.result).toEqual({ changed: true });
    expect(starts(master)).toHaveLength(2);
  });

  it('should refuse, changing nothing, on a master whose kube-apiserver does not read the config', () => {
    // Prepare
    const master = node('10.0.0.11');
    master.init();
    master.sandbox.file('etc/kubernetes/manifests/kube-apiserver.yaml', 'apiVersion: v1\nkind: Pod\n');
    writeFileSync(join(master.sandbox.state, 'encryption-keys.json'), ROTATED);

    // Act
    const run = apply(master);

    // Assess
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('does not read /etc/kubernetes/encryption/config.yaml');
    expect(master.sandbox.read('etc/kubernetes/encryption/config.yaml')).toBe(golden('encryption-config.yaml'));
    expect(starts(master)).toEqual([]);
  });
});

describe('rewrite-secrets.sh', () => {
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = new Sandbox();
    sandbox.file('etc/kubernetes/admin.conf', 'apiVersion: v1\nkind: Config\n');
    // kubectl: /readyz answers; get lists two Secrets; replace reads the list from stdin (a pipe, not a file).
    sandbox.stub(
      'kubectl',
      `case " $* " in
  *" get --raw /readyz "*) echo ok ;;
  *" get secrets --all-namespaces -o name "*) printf 'secret/a\\nsecret/b\\n' ;;
  *" get secrets --all-namespaces -o json "*) printf '{"kind":"List","items":[{"metadata":{"name":"a"},"data":{"password":"c2VjcmV0LXZhbHVl"}}]}\\n' ;;
  *" replace -f - "*) cat >"$STATE/replaced.json"; if [[ -f "$STATE/conflict" ]]; then echo 'Error from server (Conflict): error when replacing "STDIN": Operation cannot be fulfilled on secrets "a": the object has been modified' >&2; exit 1; fi ;;
  *) echo "unexpected kubectl $*" >&2; exit 2 ;;
esac`,
    );
  });
  afterEach(() => sandbox.dispose());

  it('should replace every Secret through a pipe and print none of their data', () => {
    // Act
    const run = sandbox.run('rewrite-secrets.sh', {});

    // Assess
    expect(run.status).toBe(0);
    expect(run.result).toEqual({ changed: true, secrets: 2 });
    expect(readFileSync(join(sandbox.state, 'replaced.json'), 'utf8')).toContain('c2VjcmV0LXZhbHVl');
    expect(run.stdout + run.stderr).not.toContain('c2VjcmV0LXZhbHVl');
  });

  it('should accept a conflict (the Secret was written meanwhile, with the new key) and fail on any other error', () => {
    // Prepare
    writeFileSync(join(sandbox.state, 'conflict'), '');

    // Act
    const conflicted = sandbox.run('rewrite-secrets.sh', {});
    sandbox.stub('kubectl', `case " $* " in *" get --raw /readyz "*) echo ok ;; *" -o name "*) echo secret/a ;; *" -o json "*) echo '{}' ;; *) echo 'error: unable to recognize "STDIN": forbidden' >&2; exit 1 ;; esac`);
    const refused = sandbox.run('rewrite-secrets.sh', {});

    // Assess
    expect(conflicted.status).toBe(0);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('not every Secret was rewritten');
  });
});
