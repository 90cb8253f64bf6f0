import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { DOUBLES, type FakeCluster, type FakeNode, LOCAL_API_SERVER, RESTARTED_AT, filesContaining, useFakeCluster } from './kubeadm-cluster.js';
import { CERTIFICATE_KEY, JOIN_TOKEN } from './sandbox.js';
import { apiServerCertSans } from '../../functions/core/plan.js';

const fake = useFakeCluster();
let cluster: FakeCluster;
let caPem: string;
const node = (ip: string): FakeNode => fake.node(ip);

beforeEach(() => {
  ({ cluster, caPem } = fake);
});


/** kubeadm's discovery hash, computed independently of the script: sha256 over the CA's SubjectPublicKeyInfo. */
function expectedHash(): string {
  const spki = new X509Certificate(readFileSync(caPem)).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

describe('init-first-master.sh', () => {
  it('should run kubeadm init with the minted token and key in its config, store admin.conf and report the CA hash', () => {
    // Prepare
    const master = node('10.0.0.11');

    // Act
    const run = master.init();

    // Assess
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.result).toEqual({ caCertHash: expectedHash(), changed: true });
    expect(run.calls).toContainEqual(expect.stringMatching(/^kubeadm init --config \S+ --upload-certs --skip-token-print --skip-certificate-key-print$/));
    expect(run.calls).toContainEqual(expect.stringMatching(/^aws secretsmanager put-secret-value .*--secret-id kubeha\/local\/demo\/admin-kubeconfig --secret-string file:\/\//));
    const config = master.lastConfig('init');
    expect(config).toContain(`  - token: "${JOIN_TOKEN}"`);
    expect(config).toContain(`certificateKey: "${CERTIFICATE_KEY}"`);
    expect(config).toContain('controlPlaneEndpoint: "k8s.example.com:6443"');
    expect(config).toContain('kubernetesVersion: "v1.36.4"');
    expect(config).toContain('    - "k8s.example.com"');
    expect(config).toContain('cgroupDriver: systemd');
  });

  it('should give kubeadm a ClusterConfiguration whose certSANs hold every name clients dial (golden file)', async () => {
    // Prepare: the SANs as the bootstrap plan makes them for a cluster with a DNS name and two load balancers.
    const master = node('10.0.0.11');
    const sans = apiServerCertSans({ controlPlaneDnsName: 'k8s.example.com' }, { loadBalancers: [{ instanceId: 'i-1', privateIp: '10.0.0.5', availabilityZone: 'a' }, { instanceId: 'i-2', privateIp: '10.0.16.5', availabilityZone: 'b' }] }, '203.0.113.10');

    // Act
    master.init({ KUBEHA_CERT_SANS: sans.join(',') });

    // Assess: only the ClusterConfiguration document (the InitConfiguration beside it holds the token).
    const clusterConfiguration = master.lastConfig('init').split('---\n').find((document) => document.includes('kind: ClusterConfiguration'));
    await expect(clusterConfiguration).toMatchFileSnapshot('../golden/kubeadm-cluster-configuration.yaml');
    expect(clusterConfiguration).not.toContain(JOIN_TOKEN);
    for (const san of ['203.0.113.10', 'k8s.example.com', '10.0.0.5', '10.0.16.5', '127.0.0.1', 'localhost']) expect(clusterConfiguration).toContain(`    - "${san}"`);
  });

  it('should be a no-op that says so, asking only the cluster, and still report the hash on an initialized node', () => {
    const master = node('10.0.0.11');
    master.init();

    const second = master.init();

    expect(second.status).toBe(0);
    expect(second.stdout).toContain('already initialized, nothing to do');
    expect(second.result).toEqual({ caCertHash: expectedHash(), changed: false });
    expect(second.calls.every((call) => call.startsWith('kubectl '))).toBe(true);
  });

  describe('kube-proxy', () => {
    const restarts = (calls: string[]) => calls.filter((call) => / -n kube-system rollout restart daemonset kube-proxy$/.test(call));
    const patches = (calls: string[]) => calls.filter((call) => / -n kube-system patch configmap kube-proxy /.test(call));
    /** `kubeadm init phase addon kube-proxy` on the master: the addon phase `kubeadm upgrade apply` runs too. */
    const rerunAddonPhase = (master: FakeNode) => {
      const addon = master.exec('kubeadm', ['init', 'phase', 'addon', 'kube-proxy', '--control-plane-endpoint', cluster.endpoint, '--pod-network-cidr', '192.168.0.0/16']);
      expect(addon.stderr).toBe('');
      expect(addon.status).toBe(0);
    };

    it('should point kube-proxy at the node-local API on a fresh init, changing only the server line, and restart its DaemonSet once', () => {
      // Prepare
      const master = node('10.0.0.11');

      // Act
      const run = master.init();
      const pointed = cluster.object('kube-system', 'configmap', 'kube-proxy');
      rerunAddonPhase(master);

      // Assess
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(run.stdout).toContain(`pointed kube-proxy's kubeconfig at ${LOCAL_API_SERVER} (it named https://${cluster.endpoint})`);
      expect(patches(run.calls)).toHaveLength(1);
      expect(restarts(run.calls)).toHaveLength(1);
      // What kubeadm writes, with only the server line changed (config.conf, the CA and the token file as they were).
      expect(pointed).toBe(cluster.object('kube-system', 'configmap', 'kube-proxy')?.replace(`server: https://${cluster.endpoint}`, `server: ${LOCAL_API_SERVER}`));
      expect(pointed).toContain('    clusterCIDR: 192.168.0.0/16');
    });

    it('should change and restart nothing on a second run', () => {
      const master = node('10.0.0.11');
      master.init();
      const restartedAt = cluster.daemonSetAnnotation('kube-system', 'kube-proxy', RESTARTED_AT);
      const configMap = cluster.object('kube-system', 'configmap', 'kube-proxy');

      const second = master.init();

      expect(second.status).toBe(0);
      expect(second.stdout).toContain(`kube-proxy already talks to ${LOCAL_API_SERVER}; nothing to change`);
      expect(second.result).toEqual(expect.objectContaining({ changed: false }));
      expect(patches(second.calls)).toEqual([]);
      expect(restarts(second.calls)).toEqual([]);
      expect(cluster.object('kube-system', 'configmap', 'kube-proxy')).toBe(configMap);
      expect(cluster.daemonSetAnnotation('kube-system', 'kube-proxy', RESTARTED_AT)).toBe(restartedAt);
    });

    it('should point kube-proxy back at the node-local API after kubeadm\'s addon phase rewrote it, as kubeadm upgrade apply does', () => {
      // Prepare
      const master = node('10.0.0.11');
      master.init();
      rerunAddonPhase(master);
      expect(cluster.kubeProxyServers()).toEqual([`https://${cluster.endpoint}`]);
      expect(cluster.daemonSetAnnotation('kube-system', 'kube-proxy', RESTARTED_AT)).toBeUndefined();

      // Act
      const corrected = master.init();
      const after = master.init();

      // Assess
      expect(corrected.stderr).toBe('');
      expect(corrected.status).toBe(0);
      expect(corrected.result).toEqual(expect.objectContaining({ changed: true }));
      expect(corrected.calls.some((call) => call.startsWith('kubeadm'))).toBe(false);
      expect(patches(corrected.calls)).toHaveLength(1);
      expect(restarts(corrected.calls)).toHaveLength(1);
      expect(cluster.kubeProxyServers()).toEqual([LOCAL_API_SERVER]);
      expect(restarts(after.calls)).toEqual([]);
      expect(after.result).toEqual(expect.objectContaining({ changed: false }));
    });

    it('should restart kube-proxy on the next run when an earlier run pointed it locally but failed to restart it', () => {
      const master = node('10.0.0.11');
      // The first restart fails (an API hiccup), later ones reach the double.
      master.sandbox.stub(
        'kubectl',
        `if [[ "$*" == *"rollout restart"* && ! -f "$STATE/restart-failed" ]]; then touch "$STATE/restart-failed"; echo "error: connection reset" >&2; exit 1; fi
exec '${join(DOUBLES, 'kubectl')}' "$@"`,
      );

      const failed = master.init();
      const retried = master.init();

      expect(failed.status).toBe(1);
      expect(failed.stderr).toContain('could not restart kube-system/daemonset/kube-proxy');
      expect(cluster.kubeProxyServers()).toEqual([LOCAL_API_SERVER]);
      expect(retried.status).toBe(0);
      expect(patches(retried.calls)).toEqual([]);
      expect(restarts(retried.calls)).toHaveLength(1);
      expect(retried.result).toEqual(expect.objectContaining({ changed: true }));
      expect(cluster.daemonSetAnnotation('kube-system', 'kube-proxy', RESTARTED_AT)).toBeDefined();
    });

    it('should fail, naming the ConfigMap and the add-on, when kube-proxy\'s ConfigMap is missing', () => {
      const master = node('10.0.0.11');
      master.init();
      cluster.deleteObject('kube-system', 'configmap', 'kube-proxy');

      const run = master.init();

      expect(run.status).toBe(1);
      expect(run.stderr).toContain('could not read kube-system/configmap/kube-proxy: kubeadm\'s kube-proxy add-on writes it');
      expect(run.result).toBeUndefined();
      expect(run.calls.some((call) => call.startsWith('kubeadm'))).toBe(false);
      expect(restarts(run.calls)).toEqual([]);
    });
  });

  it('should never put join material in arguments, output, logs or the temporary config it leaves behind', () => {
    const master = node('10.0.0.11');
    master.failAt('init', 'bootstrap-token');
    const failed = master.init();
    const succeeded = master.init();

    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain('kubeadm-init failed; last lines of');
    for (const text of [failed.stdout, failed.stderr, succeeded.stdout, succeeded.stderr, master.sandbox.allCalls()]) {
      expect(text).not.toContain(JOIN_TOKEN);
      expect(text).not.toContain(CERTIFICATE_KEY);
    }
    expect(readdirSync(master.sandbox.directory).filter((entry) => entry.startsWith('kubeha.'))).toEqual([]);
    expect(filesContaining(master.sandbox.root, [JOIN_TOKEN, CERTIFICATE_KEY])).toEqual([]);
  });

  it('should not report success when kubeadm init exits 0 but the cluster lacks what init creates last', () => {
    const master = node('10.0.0.11');
    master.failAt('init', 'addon');
    // A kubeadm that says it succeeded: the double's own run stops before the add-ons, yet exits 0.
    execFileSync('cp', [`${master.sandbox.bin}/kubeadm`, `${master.sandbox.bin}/kubeadm-real`]);
    master.sandbox.stub('kubeadm', `'${master.sandbox.bin}/kubeadm-real' "$@" || true`);

    const run = master.init();

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('kubeadm init returned, but the cluster lacks kube-system/deployment/coredns, kube-system/daemonset/kube-proxy');
    expect(run.result).toBeUndefined();
  });

  it('should refuse a secret version it cannot read, naming the instance profile as the likely cause', () => {
    const master = node('10.0.0.11');
    const run = master.init({ KUBEHA_JOIN_SECRET_VERSION_ID: 'stale-version-0000000000000000000' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('could not read the join secret (is the kubeha node instance profile attached?)');
    expect(run.calls.some((call) => call.startsWith('kubeadm init'))).toBe(false);
  });
});

describe('join-node.sh', () => {
  let caCertHash: string;
  let master: FakeNode;

  beforeEach(() => {
    master = node('10.0.0.11');
    caCertHash = String(master.init().result?.caCertHash);
    expect(master.refreshJoinMaterial().status).toBe(0);
    expect(master.refreshJoinMaterial('worker').status).toBe(0);
  });

  it('should join a control-plane node with the token and certificate key in its JoinConfiguration only', () => {
    const second = node('10.0.16.11');

    const run = second.join('control-plane', caCertHash);

    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.result).toEqual(expect.objectContaining({ changed: true }));
    expect(run.calls).toContainEqual(expect.stringMatching(/^kubeadm join --config \S+$/));
    const config = second.lastConfig('join');
    expect(config).toContain('apiServerEndpoint: "k8s.example.com:6443"');
    expect(config).toContain(`token: "${JOIN_TOKEN}"`);
    expect(config).toContain(`controlPlane:\n  certificateKey: "${CERTIFICATE_KEY}"`);
    expect(run.calls.join('\n')).not.toContain(JOIN_TOKEN);
  });

  it('should join a worker without any controlPlane block or certificate key', () => {
    const worker = node('10.0.0.12');

    worker.join('worker', caCertHash);

    const config = worker.lastConfig('join');
    expect(config).not.toContain('controlPlane');
    expect(config).not.toContain(CERTIFICATE_KEY);
  });

  it('should do nothing on a node the cluster already has, asking the cluster only', () => {
    const worker = node('10.0.0.12');
    worker.join('worker', caCertHash);

    const second = worker.join('worker', caCertHash);

    expect(second.stdout).toContain('already joined, nothing to do');
    expect(second.result).toEqual(expect.objectContaining({ changed: false }));
    // Only the proxy's check that its configuration and unit are what they should be: no reload, no restart.
    expect(second.calls.filter((call) => !call.startsWith('kubectl ') && call !== 'hostname ')).toEqual([
      expect.stringMatching(/^nginx -t -q -c .*apiserver-proxy\/nginx\.conf\.kubeha-candidate$/),
      'systemctl is-active --quiet kubeha-apiserver-proxy',
    ]);
  });

  it('should start the local API proxy before kubeadm join and point the kubelet at it once joined', () => {
    const worker = node('10.0.0.12');

    const run = worker.join('worker', caCertHash);

    expect(run.status).toBe(0);
    const order = run.calls.filter((call) => /^(systemctl (enable|restart)|kubeadm join)/.test(call));
    expect(order).toEqual(['systemctl enable --now kubeha-apiserver-proxy', expect.stringMatching(/^kubeadm join /), 'systemctl restart kubelet']);
    expect(worker.lastConfig('join')).toContain('apiServerEndpoint: "k8s.example.com:6443"');
    expect(worker.sandbox.read('etc/kubernetes/kubelet.conf')).toMatch(/^ +server: https:\/\/127\.0\.0\.1:6443$/m);
    expect(worker.sandbox.read('etc/kubernetes/kubelet.conf')).not.toContain('k8s.example.com');
    expect(worker.sandbox.read('etc/kubeha/apiserver-proxy/nginx.conf')).toContain('server 10.0.32.11:6443');
  });

  it('should not report success when kubeadm join exits 0 but the cluster does not have the node as a control-plane node', () => {
    const second = node('10.0.16.11');
    second.failAt('join', 'control-plane-join');
    execFileSync('cp', [`${second.sandbox.bin}/kubeadm`, `${second.sandbox.bin}/kubeadm-real`]);
    second.sandbox.stub('kubeadm', `'${second.sandbox.bin}/kubeadm-real' "$@" || true`);

    const run = second.join('control-plane', caCertHash);

    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`kubeadm join returned, but Node ${second.name} lacks the control-plane label or taint`);
  });

  it('should reject a malformed CA hash before touching anything', () => {
    const worker = node('10.0.0.12');
    const run = worker.join('worker', 'sha256:nothex');
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('KUBEHA_CA_CERT_HASH must be sha256:<64 hex digits>');
    expect(run.calls).toEqual([]);
  });
});

describe('refresh-join-material.sh', () => {
  let master: FakeNode;

  beforeEach(() => {
    master = node('10.0.0.11');
    master.init();
  });

  it('should register the token and upload certificates from a config file, deleting only the token id first', () => {
    const run = master.refreshJoinMaterial();

    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.calls.filter((call) => !call.startsWith('crictl'))).toEqual([
      expect.stringMatching(/^aws secretsmanager get-secret-value /),
      `kubeadm token delete ${JOIN_TOKEN.split('.')[0]} --kubeconfig ${master.sandbox.root}/etc/kubernetes/admin.conf`,
      expect.stringMatching(/^kubeadm token create --config \S+ --kubeconfig /),
      expect.stringMatching(/^kubeadm init phase upload-certs --upload-certs --skip-certificate-key-print --config \S+ --kubeconfig \S+$/),
    ]);
    expect(master.lastConfig('token')).toContain('ttl: "30m"');
    expect(cluster.hasObject('kube-system', 'secret', `bootstrap-token-${JOIN_TOKEN.split('.')[0]}`)).toBe(true);
  });

  it('should write neither the token kubeadm prints nor the key to any file, log or output', () => {
    const run = master.refreshJoinMaterial();

    expect(run.stdout + run.stderr).not.toContain(JOIN_TOKEN);
    expect(run.stdout + run.stderr).not.toContain(CERTIFICATE_KEY);
    expect(master.sandbox.exists('var/log/kubeha/token-create.log')).toBe(false);
    expect(master.sandbox.exists('var/log/kubeha/upload-certs.log')).toBe(false);
    expect(filesContaining(master.sandbox.root, [JOIN_TOKEN, CERTIFICATE_KEY])).toEqual([]);
  });

  it('should delete the logs earlier versions left with the token and key in them', () => {
    master.sandbox.file('var/log/kubeha/token-create.log', `${JOIN_TOKEN}\n`);
    master.sandbox.file('var/log/kubeha/upload-certs.log', `[upload-certs] Using certificate key:\n${CERTIFICATE_KEY}\n`);

    master.refreshJoinMaterial();

    expect(filesContaining(master.sandbox.root, [JOIN_TOKEN, CERTIFICATE_KEY])).toEqual([]);
  });

  it('should remove an unstarted learner a failed control-plane join left, and leave started members alone', () => {
    const second = node('10.0.16.11');
    second.failAt('join', 'etcd-join');
    second.join('control-plane', String(master.init().result?.caCertHash));
    expect(cluster.members().map((member) => member.isLearner)).toEqual([false, true]);

    const run = master.refreshJoinMaterial();

    expect(run.stdout).toMatch(/removed unstarted etcd learner [0-9a-f]{16} \(10\.0\.16\.11\) that a failed join left behind/);
    expect(cluster.members()).toEqual([expect.objectContaining({ peerIp: '10.0.0.11', isLearner: false })]);
  });

  it('should refuse to run on a node that is not an initialized control-plane node', () => {
    const worker = node('10.0.0.12');
    const run = worker.refreshJoinMaterial();
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('is not an initialized control-plane node');
  });
});
