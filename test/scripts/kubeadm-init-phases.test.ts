import { beforeEach, describe, expect, it } from 'vitest';
import { type FakeCluster, type FakeNode, INIT_PHASES, initializedProblems, useFakeCluster } from './kubeadm-cluster.js';

// The kubeadm double's own fidelity checks, and the phase matrix of kubeadm init: every phase fails once,
// then init-first-master.sh runs again, and the cluster must end initialized.

const MASTER_1 = '10.0.0.11';
const MASTER_2 = '10.0.16.11';

const fake = useFakeCluster();
let cluster: FakeCluster;
const node = (ip: string): FakeNode => fake.node(ip);

/** A first master initialized by the script, and the CA hash it reported. */
function initializedCluster(): { master: FakeNode; caCertHash: string } {
  const master = node(MASTER_1);
  const run = master.init();
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return { master, caCertHash: String(run.result?.caCertHash) };
}

function expectInitialized(master: FakeNode): void {
  expect(initializedProblems(cluster, master)).toEqual([]);
}

beforeEach(() => {
  cluster = fake.cluster;
});

describe('the kubeadm double', () => {
  it('leaves admin.conf and kubelet.conf but no kubeadm-config behind when init fails waiting for the control plane', () => {
    // Prepare
    const master = node(MASTER_1);
    master.failAt('init', 'wait-control-plane');

    // Act
    const run = master.init();

    // Assess
    expect(run.status).toBe(1);
    expect(master.sandbox.exists('etc/kubernetes/admin.conf')).toBe(true);
    expect(master.sandbox.exists('etc/kubernetes/kubelet.conf')).toBe(true);
    expect(cluster.hasObject('kube-system', 'configmap', 'kubeadm-config')).toBe(false);
    expect(cluster.hasObject('kube-public', 'configmap', 'cluster-info')).toBe(false);
  });

  it('writes kube-proxy\'s ConfigMap in the addon phase, its kubeconfig.conf naming the control-plane endpoint', () => {
    // Prepare
    const master = node(MASTER_1);
    const config = master.sandbox.file('../init.yaml', 'controlPlaneEndpoint: "k8s.example.com:6443"\npodSubnet: "192.168.0.0/16"\n');

    // Act
    const init = master.exec('kubeadm', ['init', '--config', config]);

    // Assess: the shape of phases/addons/proxy/manifests.go KubeProxyConfigMap19, both keys.
    expect(init.status).toBe(0);
    const manifest = cluster.object('kube-system', 'configmap', 'kube-proxy') ?? '';
    expect(manifest).toMatch(/^data:\n {2}kubeconfig\.conf: \|-\n {4}apiVersion: v1\n {4}kind: Config\n/m);
    expect(manifest).toMatch(/^ {2}config\.conf: \|-\n {4}apiVersion: kubeproxy\.config\.k8s\.io\/v1alpha1\n {4}kind: KubeProxyConfiguration\n/m);
    expect(manifest).toContain('      kubeconfig: /var/lib/kube-proxy/kubeconfig.conf\n');
    expect(cluster.kubeProxyServers()).toEqual(['https://k8s.example.com:6443']);
    expect(cluster.daemonSetAnnotation('kube-system', 'kube-proxy', 'kubectl.kubernetes.io/restartedAt')).toBeUndefined();
    const read = master.exec('kubectl', ['--kubeconfig', `${master.sandbox.root}/etc/kubernetes/admin.conf`, '-n', 'kube-system', 'get', 'configmap', 'kube-proxy', '-o', 'jsonpath={.data.kubeconfig\\.conf}']);
    expect(read.stdout).toMatch(/^apiVersion: v1\n[\s\S]*\n {4}server: https:\/\/k8s\.example\.com:6443\n[\s\S]*tokenFile: \/var\/run\/secrets\/kubernetes\.io\/serviceaccount\/token$/);
  });

  it('writes no kube-proxy ConfigMap when init fails before its addon phase', () => {
    const master = node(MASTER_1);
    master.failAt('init', 'addon');

    master.init();

    expect(cluster.hasObject('kube-system', 'configmap', 'kube-proxy')).toBe(false);
    expect(cluster.hasObject('kube-system', 'daemonset', 'kube-proxy')).toBe(false);
  });

  it('writes kubelet.conf only after etcd-join, and the control-plane label and taint only after that', () => {
    const { master, caCertHash } = initializedCluster();
    master.refreshJoinMaterial();
    const second = node(MASTER_2);
    second.failAt('join', 'control-plane-join');

    const run = second.join('control-plane', caCertHash);

    expect(run.status).toBe(1);
    expect(second.sandbox.exists('etc/kubernetes/kubelet.conf')).toBe(true);
    expect(cluster.members().find((member) => member.peerIp === MASTER_2)).toEqual(expect.objectContaining({ name: second.name, isLearner: false }));
    expect(cluster.node(second.name)).toEqual({ labels: [], taints: [] });
  });

  it('leaves an unstarted learner, which kubeadm reset cannot remove, when a control-plane join fails in etcd-join', () => {
    const { master, caCertHash } = initializedCluster();
    master.refreshJoinMaterial();
    const second = node(MASTER_2);
    second.failAt('join', 'etcd-join');

    second.join('control-plane', caCertHash);
    const reset = second.run('reset-node.sh');

    expect(reset.status).toBe(0);
    expect(second.sandbox.exists('etc/kubernetes/kubelet.conf')).toBe(false);
    expect(cluster.members().find((member) => member.peerIp === MASTER_2)).toEqual(expect.objectContaining({ name: '', isLearner: true }));
  });

  it('refuses a second kubeadm init on a node a failed one left running, as kubeadm preflight does', () => {
    const master = node(MASTER_1);
    master.failAt('init', 'upload-config');
    master.init();
    const config = master.sandbox.file('../init.yaml', 'controlPlaneEndpoint: "k8s.example.com:6443"\n');

    const again = master.exec('kubeadm', ['init', '--config', config]);

    expect(again.status).toBe(1);
    expect(again.stderr).toContain('[ERROR Port-10250]: Port 10250 is in use');
  });
});

describe('init-first-master.sh', () => {
  it.each(INIT_PHASES)('should end with an initialized cluster when an earlier kubeadm init failed in %s, never reporting success on the broken node', (phase) => {
    // Prepare
    const master = node(MASTER_1);
    master.failAt('init', phase);

    // Act
    const failed = master.init();
    const retried = master.init();
    const again = master.init();

    // Assess
    expect(failed.status).toBe(1);
    expect(failed.result).toBeUndefined();
    expect(retried.stderr).toBe('');
    expect(retried.status).toBe(0);
    expectInitialized(master);
    expect(again.result).toEqual(expect.objectContaining({ changed: false }));
    expect(again.calls.filter((call) => call.startsWith('kubeadm'))).toEqual([]);
  });

  it('should reset a partial init and say what it found, rather than report an initialized node', () => {
    const master = node(MASTER_1);
    master.failAt('init', 'wait-control-plane');
    master.init();

    const retried = master.init();

    expect(retried.stdout).toContain('an earlier kubeadm init did not finish (missing: an API that answers; left: /etc/kubernetes/admin.conf');
    expect(retried.result).toEqual(expect.objectContaining({ changed: true }));
    expect(retried.calls.filter((call) => call.startsWith('kubeadm') || call.startsWith('iptables'))).toEqual([
      'kubeadm reset --force', 'iptables -t filter -F', 'iptables -t nat -F', 'iptables -t mangle -F', 'iptables -X', expect.stringMatching(/^kubeadm init /),
    ]);
  });

  it('should make the add-ons again, not reset, when init failed in its addon phase', () => {
    // Prepare: init got past bootstrap-token (cluster-info exists, so nodes could have joined) and failed after.
    const master = node(MASTER_1);
    master.failAt('init', 'addon');
    master.init();

    // Act
    const retried = master.init();

    // Assess
    expect(retried.status).toBe(0);
    expect(retried.stdout).toContain('making kubeadm\'s add-ons again instead of resetting a live control plane');
    expect(retried.calls.filter((call) => call.startsWith('kubeadm'))).toEqual([expect.stringMatching(/^kubeadm init phase addon all --config /)]);
    expectInitialized(master);
  });

  it('should never reset a live control plane whose CoreDNS was deleted: a second master stays a member', () => {
    // Prepare: a cluster with two masters; someone deletes the CoreDNS Deployment.
    const { master, caCertHash } = initializedCluster();
    expect(master.refreshJoinMaterial().status).toBe(0);
    const second = node(MASTER_2);
    expect(second.join('control-plane', caCertHash).status).toBe(0);
    const membersBefore = cluster.members().map((member) => member.name).sort();
    cluster.deleteObject('kube-system', 'deployment', 'coredns');

    // Act
    const run = master.init();

    // Assess
    expect(run.status).toBe(0);
    expect(run.calls.some((call) => call.startsWith('kubeadm reset'))).toBe(false);
    expect(cluster.hasObject('kube-system', 'deployment', 'coredns')).toBe(true);
    expect(cluster.members().map((member) => member.name).sort()).toEqual(membersBefore);
    expect(cluster.kubeProxyServers()).toEqual(['https://127.0.0.1:6443']);
  });

  it('should refuse to reset a master kubeha recorded as initialized when the cluster lacks what a finished init made', () => {
    // Prepare: an initialized cluster that lost kubeadm-config (as it would lose everything with its API down).
    const { master } = initializedCluster();
    cluster.deleteObject('kube-system', 'configmap', 'kubeadm-config');

    // Act
    const recorded = master.init({ KUBEHA_INITIALIZED_BEFORE: 'true' });

    // Assess
    expect(recorded.status).toBe(1);
    expect(recorded.stderr).toContain("kubeha recorded this cluster as initialized, but it lacks kube-system/configmap/kubeadm-config; not resetting a control plane that holds the cluster's data");
    expect(recorded.calls.filter((call) => call.startsWith('kubeadm'))).toEqual([]);
  });

  it('should init a fresh node that has only the kubelet package files without resetting it', () => {
    const master = node(MASTER_1);

    const run = master.init();

    expect(run.status).toBe(0);
    expect(run.calls.some((call) => call.startsWith('kubeadm reset'))).toBe(false);
  });

  it('should fail a kubeadm init that hangs, and the next run should reset and initialize', () => {
    const master = node(MASTER_1);
    master.hangAt('init', 'upload-certs');

    const started = Date.now();
    const hung = master.init({ KUBEHA_KUBEADM_TIMEOUT_SECONDS: '2' });
    const took = Date.now() - started;
    const retried = master.init();

    expect(hung.status).toBe(1);
    expect(hung.stderr).toContain('kubeadm init did not finish within 2 s');
    expect(took).toBeLessThan(10_000);
    expect(retried.status).toBe(0);
    expectInitialized(master);
  });
});

