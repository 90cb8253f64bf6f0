import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CONTROL_PLANE_JOIN_PHASES, FakeCluster, FakeNode, createTestCa, INIT_PHASES, WORKER_JOIN_PHASES, filesContaining } from './kubeadm-cluster.js';
import { CERTIFICATE_KEY, JOIN_TOKEN } from './sandbox.js';

const MASTER_1 = '10.0.0.11';
const MASTER_2 = '10.0.16.11';
const WORKER = '10.0.0.12';

let cluster: FakeCluster;
let nodes: FakeNode[];
let caDirectory: string;
let caPem: string;

function node(ip: string): FakeNode {
  const created = new FakeNode(cluster, ip);
  nodes.push(created);
  return created;
}

/** A first master initialized by the script, and the CA hash it reported. */
function initializedCluster(): { master: FakeNode; caCertHash: string } {
  const master = node(MASTER_1);
  const run = master.init();
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return { master, caCertHash: String(run.result?.caCertHash) };
}

function expectInitialized(master: FakeNode): void {
  for (const [namespace, kind, name] of [
    ['kube-system', 'configmap', 'kubeadm-config'], ['kube-public', 'configmap', 'cluster-info'],
    ['kube-system', 'deployment', 'coredns'], ['kube-system', 'daemonset', 'kube-proxy'], ['kube-system', 'secret', 'kubeadm-certs'],
  ] as const) {
    expect(cluster.hasObject(namespace, kind, name), `${namespace}/${kind}/${name}`).toBe(true);
  }
  expect(cluster.members()).toEqual([expect.objectContaining({ name: master.name, peerIp: master.ip, isLearner: false })]);
  expect(cluster.node(master.name)?.taints).toContain('node-role.kubernetes.io/control-plane:NoSchedule');
}

function expectJoinedMaster(master: FakeNode): void {
  const registered = cluster.node(master.name);
  expect(registered?.labels).toContain('node-role.kubernetes.io/control-plane=');
  expect(registered?.taints).toContain('node-role.kubernetes.io/control-plane:NoSchedule');
  expect(cluster.members().filter((member) => member.peerIp === master.ip)).toEqual([expect.objectContaining({ name: master.name, isLearner: false })]);
  expect(cluster.members().filter((member) => member.isLearner || member.name === '')).toEqual([]);
  expect(cluster.isRunning(master.ip, 'control-plane')).toBe(true);
}

beforeAll(() => {
  caDirectory = mkdtempSync(join(tmpdir(), 'kubeha-ca-'));
  caPem = createTestCa(caDirectory);
});
afterAll(() => rmSync(caDirectory, { recursive: true, force: true }));
beforeEach(() => {
  cluster = new FakeCluster(caPem);
  nodes = [];
});
afterEach(() => {
  for (const created of nodes) created.dispose();
  cluster.dispose();
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

describe('join-node.sh as a control-plane node', () => {
  it.each(CONTROL_PLANE_JOIN_PHASES)('should end joined when an earlier join failed in %s, retried the way heal-master retries (fresh material on a healthy master, then join)', (phase) => {
    // Prepare
    const { master, caCertHash } = initializedCluster();
    const second = node(MASTER_2);
    expect(master.refreshJoinMaterial().status).toBe(0);
    second.failAt('join', phase);

    // Act
    const failed = second.join('control-plane', caCertHash);
    const refreshed = master.refreshJoinMaterial();
    const retried = second.join('control-plane', caCertHash);
    const again = second.join('control-plane', caCertHash);

    // Assess
    expect(failed.status).toBe(1);
    expect(failed.result).toBeUndefined();
    expect(refreshed.status).toBe(0);
    expect(retried.stderr).toBe('');
    expect(retried.status).toBe(0);
    expectJoinedMaster(second);
    expect(cluster.members()).toHaveLength(2);
    expect(again.result).toEqual({ changed: false });
  });

  it('should not call a master joined whose label, taint and control plane are missing though kubelet.conf exists', () => {
    const { master, caCertHash } = initializedCluster();
    master.refreshJoinMaterial();
    const second = node(MASTER_2);
    second.failAt('join', 'control-plane-join');
    second.join('control-plane', caCertHash);

    const retried = second.join('control-plane', caCertHash);

    expect(retried.stdout).toContain(`an earlier join did not finish (Node ${second.name} lacks the control-plane label or taint`);
    expect(retried.stdout).toContain("removed this node's etcd member");
    expect(retried.result).toEqual({ changed: true });
  });

  it('should fail, and reset nothing, when the API does not answer at all', () => {
    const { master, caCertHash } = initializedCluster();
    master.refreshJoinMaterial();
    const second = node(MASTER_2);
    second.join('control-plane', caCertHash);
    for (const ip of [MASTER_1, MASTER_2]) rmSync(join(cluster.directory, 'runtime', ip, 'control-plane'));

    const run = second.join('control-plane', caCertHash);

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('cannot tell whether this node has joined, so nothing was reset');
    expect(run.calls.some((call) => call.startsWith('kubeadm'))).toBe(false);
    expect(second.sandbox.exists('etc/kubernetes/admin.conf')).toBe(true);
  });
});

describe('join-node.sh as a worker', () => {
  it.each(WORKER_JOIN_PHASES)('should end registered when an earlier join failed in %s', (phase) => {
    const { master, caCertHash } = initializedCluster();
    master.refreshJoinMaterial();
    const worker = node(WORKER);
    worker.failAt('join', phase);

    const failed = worker.join('worker', caCertHash);
    const retried = worker.join('worker', caCertHash);
    const again = worker.join('worker', caCertHash);

    expect(failed.status).toBe(1);
    expect(retried.stderr).toBe('');
    expect(retried.status).toBe(0);
    expect(cluster.node(worker.name)).toEqual({ labels: [], taints: [] });
    expect(again.result).toEqual({ changed: false });
  });

  it('should recognise a fresh node with the kubelet package\'s manifests/.kubelet-keep as fresh and join it without a reset', () => {
    const { master, caCertHash } = initializedCluster();
    master.refreshJoinMaterial();
    const worker = node(WORKER);

    const run = worker.join('worker', caCertHash);

    expect(worker.sandbox.exists('etc/kubernetes/manifests/.kubelet-keep')).toBe(true);
    expect(run.result).toEqual({ changed: true });
    expect(run.calls.filter((call) => call.startsWith('kubeadm'))).toEqual([expect.stringMatching(/^kubeadm join --config /)]);
  });

  it('should fail a join that hangs waiting for the kubelet, and the next run should reset and join', () => {
    const { master, caCertHash } = initializedCluster();
    master.refreshJoinMaterial();
    const worker = node(WORKER);
    worker.hangAt('join', 'kubelet-wait-bootstrap');

    const hung = worker.join('worker', caCertHash, { KUBEHA_KUBEADM_TIMEOUT_SECONDS: '2' });
    const retried = worker.join('worker', caCertHash);

    expect(hung.stderr).toContain('kubeadm join did not finish within 2 s');
    expect(retried.calls.filter((call) => call.startsWith('kubeadm')).map((call) => call.split(' ')[1])).toEqual(['reset', 'join']);
    expect(cluster.node(worker.name)).toBeDefined();
  });
});

describe('join material on disk', () => {
  it('should leave no file holding the token or the certificate key on any node, after failures, retries and refreshes', () => {
    // Prepare: every place kubeadm or kubeha could leave material behind gets a chance to.
    const master = node(MASTER_1);
    master.failAt('init', 'upload-certs');
    master.init();
    const caCertHash = String(master.init().result?.caCertHash);
    const second = node(MASTER_2);
    const worker = node(WORKER);

    // Act
    master.refreshJoinMaterial();
    second.failAt('join', 'kubelet-start');
    second.join('control-plane', caCertHash);
    master.refreshJoinMaterial();
    second.join('control-plane', caCertHash);
    worker.hangAt('join', 'kubelet-wait-bootstrap');
    worker.join('worker', caCertHash, { KUBEHA_KUBEADM_TIMEOUT_SECONDS: '2' });
    const leftDuringFailure = filesContaining(worker.sandbox.root, [JOIN_TOKEN]);
    worker.join('worker', caCertHash);

    // Assess
    expect(leftDuringFailure).toEqual(['./etc/kubernetes/bootstrap-kubelet.conf']); // the double does leave it, like kubeadm
    for (const each of [master, second, worker]) {
      expect(filesContaining(each.sandbox.root, [JOIN_TOKEN, CERTIFICATE_KEY]), each.name).toEqual([]);
    }
    expectJoinedMaster(second);
    expect(cluster.node(worker.name)).toBeDefined();
  });
});
