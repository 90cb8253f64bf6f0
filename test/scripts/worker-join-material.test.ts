// Issue 11: a compromised worker must not become cluster admin. The worker join path gets a token of its
// own, in a group bound only to what a worker join needs, and never the certificate key: these tests run
// the real scripts against the kubeadm/kubectl doubles, whose tokens carry groups and whose API server
// authorizes them with kubeadm's own RBAC (test/scripts/doubles/cluster.sh, kubeadm).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { type FakeCluster, type FakeNode, filesContaining, useFakeCluster } from './kubeadm-cluster.js';
import { CERTIFICATE_KEY, JOIN_TOKEN, SECRET_ARN, WORKER_SECRET_ARN, WORKER_TOKEN } from './sandbox.js';

const WORKER_GROUP = 'system:bootstrappers:kubeha:worker';
const fake = useFakeCluster();
let cluster: FakeCluster;
let master: FakeNode;
let caCertHash: string;
const node = (ip: string): FakeNode => fake.node(ip);

beforeEach(() => {
  cluster = fake.cluster;
  master = node('10.0.0.11');
  caCertHash = String(master.init().result?.caCertHash);
});

/** Wraps a tool of the node so that every environment it is started with is kept in the node's state. */
function recordEnvironment(on: FakeNode, tool: string): void {
  execFileSync('cp', [join(on.sandbox.bin, tool), join(on.sandbox.bin, `${tool}-recorded`)]);
  on.sandbox.stub(tool, `env >>"$STATE/environments-seen"\nexec '${join(on.sandbox.bin, `${tool}-recorded`)}' "$@"`);
}

/** `kubectl --token TOKEN -n kube-system get secret kubeadm-certs` on a node, as anything holding the token could. */
function getKubeadmCerts(on: FakeNode, token: string): { status: number | null; stderr: string } {
  return on.exec('kubectl', ['--kubeconfig', join(master.sandbox.root, 'etc/kubernetes/admin.conf'), '--token', token, '-n', 'kube-system', 'get', 'secret', 'kubeadm-certs', '-o', 'name']);
}

describe('the worker join path', () => {
  it('should never see the certificate key: not in any file, argument, environment or output of the worker', () => {
    // Prepare: both kinds of material registered, as bootstrap does before workers join.
    expect(master.refreshJoinMaterial().status).toBe(0);
    expect(master.refreshJoinMaterial('worker').status).toBe(0);
    const worker = node('10.0.0.12');
    for (const tool of ['kubeadm', 'kubectl', 'aws']) recordEnvironment(worker, tool);

    // Act
    const run = worker.join('worker', caCertHash);

    // Assess: the node's root, its state (every config kubeadm was given, every environment a tool was
    // started with) and every call's arguments; bin/ holds the stubs, i.e. Secrets Manager's side.
    expect(run.status).toBe(0);
    expect(run.result).toEqual(expect.objectContaining({ changed: true }));
    expect(readFileSync(join(worker.sandbox.state, 'environments-seen'), 'utf8')).toContain('KUBEHA_JOIN_SECRET_ARN=');
    expect(filesContaining(worker.sandbox.root, [CERTIFICATE_KEY, JOIN_TOKEN])).toEqual([]);
    expect(filesContaining(worker.sandbox.state, [CERTIFICATE_KEY, JOIN_TOKEN])).toEqual([]);
    expect(run.stdout + run.stderr + run.calls.join('\n')).not.toContain(CERTIFICATE_KEY);
    // Each call is logged twice here: by the recording wrapper and by the stub it runs.
    expect(new Set(run.calls.filter((call) => call.startsWith('aws ')))).toEqual(new Set([expect.stringContaining(`--secret-id ${WORKER_SECRET_ARN} `)]));
    expect(worker.lastConfig('join')).toContain(`token: "${WORKER_TOKEN}"`);
    expect(worker.lastConfig('join')).not.toContain('certificateKey');
  });

  it('should be refused the control-plane secret by the worker role, and run no kubeadm at all', () => {
    const worker = node('10.0.0.12');

    const run = worker.join('worker', caCertHash, { KUBEHA_JOIN_SECRET_ARN: SECRET_ARN });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('could not read the join secret');
    expect(run.calls.some((call) => call.startsWith('kubeadm'))).toBe(false);
    expect(filesContaining(worker.sandbox.root, [CERTIFICATE_KEY])).toEqual([]);
    expect(filesContaining(worker.sandbox.state, [CERTIFICATE_KEY])).toEqual([]);
  });

  it('should refuse control-plane material handed to a worker join even where the role could read it', () => {
    const worker = node('10.0.0.12');
    worker.setRole('master');

    const run = worker.run('join-node.sh', { KUBEHA_JOIN_AS: 'worker', KUBEHA_CONTROL_PLANE_ENDPOINT: cluster.endpoint, KUBEHA_CA_CERT_HASH: caCertHash, KUBEHA_MASTER_ADDRESSES: '10.0.0.11' });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('the join secret holds control-plane material, but a worker join needs worker material');
    expect(run.calls.some((call) => call.startsWith('kubeadm'))).toBe(false);
  });
});

describe("the workers' bootstrap token", () => {
  it('should be registered in kubeha\'s worker group, with the five bindings a worker join needs and not kubeadm-certs', () => {
    const run = master.refreshJoinMaterial('worker');

    expect(run.status).toBe(0);
    expect(master.lastConfig('token')).toContain(`groups: ["${WORKER_GROUP}"]`);
    expect(master.lastConfig('token')).not.toContain('certificateKey');
    expect(run.calls.some((call) => call.includes('upload-certs'))).toBe(false);
    for (const name of ['kubeha:worker-kubelet-bootstrap', 'kubeha:worker-node-autoapprove-bootstrap', 'kubeha:worker-get-nodes']) {
      expect(cluster.hasObject('-', 'clusterrolebinding', name), name).toBe(true);
    }
    for (const name of ['kubeha:worker-nodes-kubeadm-config', 'kubeha:worker-kubelet-config']) {
      expect(cluster.hasObject('kube-system', 'rolebinding', name), name).toBe(true);
    }
    expect(readFileSync(join(cluster.directory, 'objects/kube-system/rolebinding/kubeadm:kubeadm-certs'), 'utf8')).not.toContain(WORKER_GROUP);
  });

  it('should create its bindings once: a second refresh only checks them', () => {
    master.refreshJoinMaterial('worker');

    const again = master.refreshJoinMaterial('worker');

    expect(again.status).toBe(0);
    expect(again.calls.filter((call) => call.includes(' create clusterrolebinding ') || call.includes(' create rolebinding '))).toEqual([]);
  });

  it('cannot get kube-system/kubeadm-certs, while the control-plane token can', () => {
    // Prepare: a joined worker holding its token, and certificates uploaded for a control-plane join.
    master.refreshJoinMaterial();
    master.refreshJoinMaterial('worker');
    const worker = node('10.0.0.12');
    expect(worker.join('worker', caCertHash).status).toBe(0);

    // Act
    const asWorker = getKubeadmCerts(worker, WORKER_TOKEN);
    const asControlPlane = getKubeadmCerts(master, JOIN_TOKEN);

    // Assess
    expect(asWorker.status).toBe(1);
    expect(asWorker.stderr).toContain(`Error from server (Forbidden): secrets "kubeadm-certs" is forbidden: User "system:bootstrap:${WORKER_TOKEN.split('.')[0]}" cannot get resource "secrets"`);
    expect(asControlPlane.status).toBe(0);
  });

  it('cannot join a worker without each binding: the double authorizes every call kubeadm makes with the token', () => {
    // Prepare: the worker token registered, then one binding lost.
    master.refreshJoinMaterial('worker');
    rmSync(join(cluster.directory, 'objects/-/clusterrolebinding/kubeha:worker-get-nodes'));
    const worker = node('10.0.0.12');

    // Act
    const run = worker.join('worker', caCertHash);

    // Assess
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`nodes "${worker.name}" is forbidden: User "system:bootstrap:${WORKER_TOKEN.split('.')[0]}" cannot get resource "nodes"`);
    expect(cluster.node(worker.name)).toBeUndefined();
  });

  it('cannot serve a control-plane join: kubeadm is refused kubeadm-certs at download-certs', () => {
    // Prepare: a JoinConfiguration with the worker's token and a certificate key, as an attacker would write it.
    master.refreshJoinMaterial();
    master.refreshJoinMaterial('worker');
    const intruder = node('10.0.16.11');
    const config = intruder.sandbox.file('tmp/join.yaml', `kind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    apiServerEndpoint: "${cluster.endpoint}"\n    token: "${WORKER_TOKEN}"\n    caCertHashes: ["${caCertHash}"]\ncontrolPlane:\n  certificateKey: "${CERTIFICATE_KEY}"\n`);

    // Act
    const run = intruder.exec('kubeadm', ['join', '--config', config]);

    // Assess
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('error execution phase control-plane-prepare/download-certs: secrets "kubeadm-certs" is forbidden');
    expect(intruder.sandbox.exists('etc/kubernetes/pki/ca.key')).toBe(false);
  });
});
