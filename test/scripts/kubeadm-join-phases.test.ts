import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CONTROL_PLANE_JOIN_PHASES, FakeCluster, FakeNode, WORKER_JOIN_PHASES, createTestCa, filesContaining, joinedMasterProblems } from './kubeadm-cluster.js';
import { CERTIFICATE_KEY, JOIN_TOKEN, WORKER_TOKEN } from './sandbox.js';

// The phase matrix of kubeadm join, run against the kubeadm double (doubles/kubeadm): every phase fails
// once, then the script runs again the way heal-master retries it, and the node must end joined.

const MASTER_1 = '10.0.0.11';
const MASTER_2 = '10.0.16.11';
const WORKER = '10.0.0.12';

let caDirectory: string;
let template: { cluster: FakeCluster; master: FakeNode; caCertHash: string };
let cluster: FakeCluster;
let nodes: FakeNode[];

function node(ip: string, copyOf?: FakeNode): FakeNode {
  const created = new FakeNode(cluster, ip, copyOf);
  nodes.push(created);
  return created;
}

/** This test's copy of a cluster whose first master init-first-master.sh initialized, with fresh join material registered. */
function initializedCluster(): { master: FakeNode; caCertHash: string } {
  return { master: node(MASTER_1, template.master), caCertHash: template.caCertHash };
}

function expectJoinedMaster(master: FakeNode): void {
  expect(joinedMasterProblems(cluster, master)).toEqual([]);
}

beforeAll(() => {
  caDirectory = mkdtempSync(join(tmpdir(), 'kubeha-ca-'));
  const templateCluster = new FakeCluster(createTestCa(caDirectory));
  const master = new FakeNode(templateCluster, MASTER_1);
  const init = master.init();
  expect(init.status).toBe(0);
  expect(master.refreshJoinMaterial().status).toBe(0);
  expect(master.refreshJoinMaterial('worker').status).toBe(0);
  template = { cluster: templateCluster, master, caCertHash: String(init.result?.caCertHash) };
});
afterAll(() => {
  template.master.dispose();
  template.cluster.dispose();
  rmSync(caDirectory, { recursive: true, force: true });
});
beforeEach(() => {
  cluster = FakeCluster.copyOf(template.cluster);
  nodes = [];
});
afterEach(() => {
  for (const created of nodes) created.dispose();
  cluster.dispose();
});

describe('join-node.sh as a control-plane node', () => {
  it.each(CONTROL_PLANE_JOIN_PHASES)('should end joined when an earlier join failed in %s, retried the way heal-master retries (fresh material on a healthy master, then join)', (phase) => {
    // Prepare
    const { master, caCertHash } = initializedCluster();
    const second = node(MASTER_2);
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
    expect(again.result).toEqual(expect.objectContaining({ changed: false }));
  });

  it('should not call a master joined whose label, taint and control plane are missing though kubelet.conf exists', () => {
    const { caCertHash } = initializedCluster();
    const second = node(MASTER_2);
    second.failAt('join', 'control-plane-join');
    second.join('control-plane', caCertHash);

    const retried = second.join('control-plane', caCertHash);

    expect(retried.stdout).toContain(`an earlier join did not finish (Node ${second.name} lacks the control-plane label or taint`);
    expect(retried.stdout).toContain("removed this node's etcd member");
    expect(retried.result).toEqual(expect.objectContaining({ changed: true }));
  });

  it('should fail, and reset nothing, when the API does not answer at all', () => {
    const { caCertHash } = initializedCluster();
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
    const { caCertHash } = initializedCluster();
    const worker = node(WORKER);
    worker.failAt('join', phase);

    const failed = worker.join('worker', caCertHash);
    const retried = worker.join('worker', caCertHash);
    const again = worker.join('worker', caCertHash);

    expect(failed.status).toBe(1);
    expect(retried.stderr).toBe('');
    expect(retried.status).toBe(0);
    expect(cluster.node(worker.name)).toEqual({ labels: [], taints: [] });
    expect(again.result).toEqual(expect.objectContaining({ changed: false }));
  });

  it('should recognise a fresh node with the kubelet package\'s manifests/.kubelet-keep as fresh and join it without a reset', () => {
    const { caCertHash } = initializedCluster();
    const worker = node(WORKER);

    const run = worker.join('worker', caCertHash);

    expect(worker.sandbox.exists('etc/kubernetes/manifests/.kubelet-keep')).toBe(true);
    expect(run.result).toEqual(expect.objectContaining({ changed: true }));
    expect(run.calls.filter((call) => call.startsWith('kubeadm'))).toEqual([expect.stringMatching(/^kubeadm join --config /)]);
  });

  it('should fail a join that hangs waiting for the kubelet, and the next run should reset and join', () => {
    const { caCertHash } = initializedCluster();
    const worker = node(WORKER);
    worker.hangAt('join', 'kubelet-wait-bootstrap');

    const hung = worker.join('worker', caCertHash, { KUBEHA_KUBEADM_TIMEOUT_SECONDS: '2' });
    const retried = worker.join('worker', caCertHash);

    expect(hung.stderr).toContain('kubeadm join did not finish within 2 s');
    expect(retried.calls.filter((call) => call.startsWith('kubeadm')).map((call) => call.split(' ')[1])).toEqual(['reset', 'join']);
    expect(cluster.node(worker.name)).toBeDefined();
  });
});

describe("join-node.sh's report of the node it joined", () => {
  it('should report a joined master Ready with its address and every etcd member healthy once the network plugin runs', () => {
    // Prepare
    const { caCertHash } = initializedCluster();
    cluster.installNetworkPlugin();
    const second = node(MASTER_2);

    // Act
    const run = second.join('control-plane', caCertHash);

    // Assess
    expect(run.status).toBe(0);
    expect(run.result?.nodes).toEqual([{ name: second.name, internalIp: MASTER_2, ready: true, controlPlane: true }]);
    expect(run.result?.members).toEqual(
      expect.arrayContaining([MASTER_1, MASTER_2].map((peerIp) => expect.objectContaining({ peerIp, healthy: true, isLearner: false }))),
    );
    expect(run.result?.members).toHaveLength(2);
  });

  it('should report the node not Ready while no network plugin runs, and Ready on a later run once it does', () => {
    // Prepare
    const { caCertHash } = initializedCluster();
    const worker = node(WORKER);

    // Act
    const joined = worker.join('worker', caCertHash);
    cluster.installNetworkPlugin();
    const again = worker.join('worker', caCertHash);

    // Assess
    expect(joined.result).toEqual({ changed: true, members: [], nodes: [{ name: worker.name, internalIp: WORKER, ready: false, controlPlane: false }] });
    expect(again.result).toEqual({ changed: false, members: [], nodes: [{ name: worker.name, internalIp: WORKER, ready: true, controlPlane: false }] });
  });

  it('should report the node not Ready when its kubelet stopped after the join, so healing asks a healthy master again', () => {
    // Prepare
    const { caCertHash } = initializedCluster();
    cluster.installNetworkPlugin();
    const worker = node(WORKER);
    worker.join('worker', caCertHash);
    rmSync(join(cluster.directory, 'runtime', WORKER, 'kubelet'));

    // Act
    const again = worker.join('worker', caCertHash);

    // Assess
    expect(again.result?.nodes).toEqual([expect.objectContaining({ internalIp: WORKER, ready: false })]);
  });
});

describe('join material on disk', () => {
  it('should leave no file holding the token or the certificate key on any node, after failures, retries and refreshes', () => {
    // Prepare: every place kubeadm or kubeha could leave material behind gets a chance to, from a
    // cluster that does not exist yet.
    cluster.dispose();
    cluster = new FakeCluster(template.cluster.caPem);
    const master = node(MASTER_1);
    master.failAt('init', 'upload-certs');
    master.init();
    const caCertHash = String(master.init().result?.caCertHash);
    const second = node(MASTER_2);
    const worker = node(WORKER);

    // Act
    master.refreshJoinMaterial();
    master.refreshJoinMaterial('worker');
    second.failAt('join', 'kubelet-start');
    second.join('control-plane', caCertHash);
    master.refreshJoinMaterial();
    second.join('control-plane', caCertHash);
    worker.hangAt('join', 'kubelet-wait-bootstrap');
    worker.join('worker', caCertHash, { KUBEHA_KUBEADM_TIMEOUT_SECONDS: '2' });
    const leftDuringFailure = filesContaining(worker.sandbox.root, [WORKER_TOKEN]);
    worker.join('worker', caCertHash);

    // Assess
    expect(leftDuringFailure).toEqual(['./etc/kubernetes/bootstrap-kubelet.conf']); // the double does leave it, like kubeadm
    for (const each of [master, second, worker]) {
      expect(filesContaining(each.sandbox.root, [JOIN_TOKEN, WORKER_TOKEN, CERTIFICATE_KEY]), each.name).toEqual([]);
    }
    expectJoinedMaster(second);
    expect(cluster.node(worker.name)).toBeDefined();
  });
});
