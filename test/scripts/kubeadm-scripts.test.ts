import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CERTIFICATE_KEY, JOIN_ENV, JOIN_TOKEN, Sandbox, stubAws } from './sandbox.js';

let caPem: string;
let caDirectory: Sandbox;

// A kubeadm that does to the sandbox what the real one does to a node, and records whether it got
// the join material through its --config file (the only place kubeha puts it).
const KUBEADM = `config=""
for ((i = 1; i <= $#; i++)); do if [[ "\${!i}" == "--config" ]]; then j=$((i + 1)); config="\${!j}"; fi; done
if [[ -n "$config" ]]; then
  grep -q "${JOIN_TOKEN}" "$config" && echo "token-in-config $1" >>"$STATE/kubeadm.log"
  grep -q "certificateKey: \\"${CERTIFICATE_KEY}\\"" "$config" && echo "key-in-config $1" >>"$STATE/kubeadm.log"
  cp "$config" "$STATE/last-config.yaml"
fi
case "$1 \${2:-}" in
  "init phase") ;;
  init*)
    [[ -f "$STATE/fail-init" ]] && { echo "[init] error: token ${JOIN_TOKEN} could not be used" >&2; exit 1; }
    mkdir -p "$ROOT/etc/kubernetes/pki"; cp "$CA_PEM" "$ROOT/etc/kubernetes/pki/ca.crt"; echo admin >"$ROOT/etc/kubernetes/admin.conf" ;;
  join*)
    [[ -f "$STATE/fail-join" ]] && { mkdir -p "$ROOT/etc/kubernetes/pki"; echo "[preflight] failed" >&2; exit 1; }
    mkdir -p "$ROOT/etc/kubernetes"; touch "$ROOT/etc/kubernetes/kubelet.conf" ;;
  reset*) rm -rf "$ROOT/etc/kubernetes/pki" "$ROOT/etc/kubernetes/manifests" ;;
  "token create") echo "${JOIN_TOKEN}" ;;
esac`;

beforeAll(() => {
  caDirectory = new Sandbox();
  const key = join(caDirectory.directory, 'ca.key');
  const cert = join(caDirectory.directory, 'ca.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=kubernetes', '-days', '1'], { stdio: 'pipe' });
  caPem = cert;
});

/** kubeadm's discovery hash, computed independently of the script: sha256 over the CA's SubjectPublicKeyInfo. */
function expectedHash(): string {
  const spki = new X509Certificate(readFileSync(caPem)).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

describe('init-first-master.sh', () => {
  let sandbox: Sandbox;
  const env = () => ({
    ...JOIN_ENV,
    CA_PEM: caPem,
    KUBEHA_CLUSTER_NAME: 'demo',
    KUBEHA_KUBERNETES_VERSION: '1.36.4',
    KUBEHA_CONTROL_PLANE_ENDPOINT: 'k8s.example.com:6443',
    KUBEHA_CERT_SANS: '203.0.113.10,k8s.example.com,10.0.0.5',
    KUBEHA_POD_CIDR: '192.168.0.0/16',
    KUBEHA_SERVICE_CIDR: '10.96.0.0/12',
    KUBEHA_KUBECONFIG_SECRET_ID: 'kubeha/demo/admin-kubeconfig',
  });

  beforeEach(() => {
    sandbox = new Sandbox();
    sandbox.stub('kubeadm', KUBEADM);
    stubAws(sandbox);
  });
  afterEach(() => sandbox.dispose());

  it('should run kubeadm init with the minted token and key in its config, store admin.conf and report the CA hash', () => {
    // Act
    const run = sandbox.run('init-first-master.sh', env());

    // Assess
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.result).toEqual({ caCertHash: expectedHash(), changed: true });
    expect(run.calls).toContainEqual(expect.stringMatching(/^kubeadm init --config \S+ --upload-certs --skip-token-print --skip-certificate-key-print$/));
    expect(run.calls).toContainEqual(expect.stringMatching(/^aws secretsmanager put-secret-value .*--secret-id kubeha\/demo\/admin-kubeconfig --secret-string file:\/\//));
    expect(readFileSync(join(sandbox.state, 'kubeadm.log'), 'utf8')).toBe('token-in-config init\nkey-in-config init\n');
    const config = readFileSync(join(sandbox.state, 'last-config.yaml'), 'utf8');
    expect(config).toContain('controlPlaneEndpoint: "k8s.example.com:6443"');
    expect(config).toContain('kubernetesVersion: "v1.36.4"');
    expect(config).toContain('    - "k8s.example.com"');
    expect(config).toContain('cgroupDriver: systemd');
  });

  it('should be a no-op that says so, and still reports the hash, on an initialized node', () => {
    sandbox.run('init-first-master.sh', env());
    const second = sandbox.run('init-first-master.sh', env());
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('already initialized, nothing to do');
    expect(second.result).toEqual({ caCertHash: expectedHash(), changed: false });
    expect(second.calls).toEqual([]);
  });

  it('should never put join material in arguments, output or the temporary config it leaves behind', () => {
    sandbox.file('../state/fail-init', '');
    const failed = sandbox.run('init-first-master.sh', env());
    execFileSync('rm', ['-f', join(sandbox.state, 'fail-init')]);
    const succeeded = sandbox.run('init-first-master.sh', env());
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain('[masked-token] could not be used');
    for (const text of [failed.stdout, failed.stderr, succeeded.stdout, succeeded.stderr, sandbox.allCalls()]) {
      expect(text).not.toContain(JOIN_TOKEN);
      expect(text).not.toContain(CERTIFICATE_KEY);
    }
    expect(execFileSync('find', [sandbox.directory, '-name', 'kubeha.*', '-type', 'd'], { encoding: 'utf8' })).toBe('');
  });

  it('should refuse a secret version it cannot read, naming the instance profile as the likely cause', () => {
    const run = sandbox.run('init-first-master.sh', { ...env(), KUBEHA_JOIN_SECRET_VERSION_ID: 'stale-version-0000000000000000000' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('could not read the join secret (is the kubeha node instance profile attached?)');
    expect(run.calls.some((call) => call.startsWith('kubeadm init'))).toBe(false);
  });
});

describe('join-node.sh', () => {
  let sandbox: Sandbox;
  const env = (joinAs: string) => ({
    ...JOIN_ENV,
    KUBEHA_JOIN_AS: joinAs,
    KUBEHA_CONTROL_PLANE_ENDPOINT: '203.0.113.10:6443',
    KUBEHA_CA_CERT_HASH: `sha256:${'ab'.repeat(32)}`,
  });

  beforeEach(() => {
    sandbox = new Sandbox();
    sandbox.stub('kubeadm', KUBEADM);
    stubAws(sandbox);
  });
  afterEach(() => sandbox.dispose());

  it('should join a control-plane node with the certificate key in its JoinConfiguration', () => {
    const run = sandbox.run('join-node.sh', env('control-plane'));
    expect(run.status).toBe(0);
    expect(run.result).toEqual({ changed: true });
    expect(run.calls).toContainEqual(expect.stringMatching(/^kubeadm join --config \S+$/));
    const config = readFileSync(join(sandbox.state, 'last-config.yaml'), 'utf8');
    expect(config).toContain('apiServerEndpoint: "203.0.113.10:6443"');
    expect(config).toContain('controlPlane:');
    expect(readFileSync(join(sandbox.state, 'kubeadm.log'), 'utf8')).toBe('token-in-config join\nkey-in-config join\n');
  });

  it('should join a worker without any controlPlane block or certificate key', () => {
    sandbox.run('join-node.sh', env('worker'));
    const config = readFileSync(join(sandbox.state, 'last-config.yaml'), 'utf8');
    expect(config).not.toContain('controlPlane');
    expect(config).not.toContain(CERTIFICATE_KEY);
  });

  it('should do nothing on a node that has joined already', () => {
    sandbox.run('join-node.sh', env('worker'));
    const second = sandbox.run('join-node.sh', env('worker'));
    expect(second.stdout).toContain('already joined, nothing to do');
    expect(second.result).toEqual({ changed: false });
    expect(second.calls).toEqual([]);
  });

  it('should reset a node a failed join left half-configured before joining again', () => {
    sandbox.file('../state/fail-join', '');
    const failed = sandbox.run('join-node.sh', env('control-plane'));
    execFileSync('rm', ['-f', join(sandbox.state, 'fail-join')]);
    const retried = sandbox.run('join-node.sh', env('control-plane'));
    expect(failed.status).toBe(1);
    expect(retried.status).toBe(0);
    expect(retried.calls.filter((call) => call.startsWith('kubeadm'))).toEqual(['kubeadm reset --force', expect.stringMatching(/^kubeadm join/)]);
  });

  it('should reject a malformed CA hash before touching anything', () => {
    const run = sandbox.run('join-node.sh', { ...env('worker'), KUBEHA_CA_CERT_HASH: 'sha256:nothex' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('KUBEHA_CA_CERT_HASH must be sha256:<64 hex digits>');
    expect(run.calls).toEqual([]);
  });
});

describe('refresh-join-material.sh', () => {
  let sandbox: Sandbox;

  beforeEach(() => {
    sandbox = new Sandbox();
    sandbox.stub('kubeadm', KUBEADM);
    stubAws(sandbox);
    sandbox.file('etc/kubernetes/admin.conf', 'admin');
  });
  afterEach(() => sandbox.dispose());

  it('should register the token and upload certificates from a config file, deleting only the token id first', () => {
    const run = sandbox.run('refresh-join-material.sh', { ...JOIN_ENV, KUBEHA_TOKEN_TTL: '30m' });
    expect(run.status).toBe(0);
    expect(run.calls).toEqual([
      expect.stringMatching(/^aws secretsmanager get-secret-value /),
      `kubeadm token delete ${JOIN_TOKEN.split('.')[0]} --kubeconfig ${sandbox.root}/etc/kubernetes/admin.conf`,
      expect.stringMatching(/^kubeadm token create --config \S+ --kubeconfig /),
      expect.stringMatching(/^kubeadm init phase upload-certs --upload-certs --config \S+$/),
    ]);
    expect(readFileSync(join(sandbox.state, 'last-config.yaml'), 'utf8')).toContain('ttl: "30m"');
    expect(run.stdout).not.toContain(JOIN_TOKEN);
  });

  it('should refuse to run on a node that is not an initialized control-plane node', () => {
    execFileSync('rm', [join(sandbox.root, 'etc/kubernetes/admin.conf')]);
    const run = sandbox.run('refresh-join-material.sh', { ...JOIN_ENV, KUBEHA_TOKEN_TTL: '30m' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('is not an initialized control-plane node');
  });
});
