import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type FakeNode, useFakeCluster } from './kubeadm-cluster.js';

// A master's kubeadm certificates as cluster-status.sh reports them, against the kubeadm double's
// `certs check-expiration -o json` and `certs renew all` (test/scripts/doubles/kubeadm cites certs.go).

const MASTER_1 = '10.0.0.11';
const MASTER_2 = '10.0.16.11';
const DAY = 86_400;
const INIT_AT = 1_767_225_600; // 2026-01-01T00:00:00Z

const fake = useFakeCluster();
const node = (ip: string): FakeNode => fake.node(ip);
const at = (seconds: number) => ({ DOUBLE_NOW: String(seconds) });
const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

/** Two masters: the first initialized at INIT_AT, the second joined 100 days later. */
function twoMasters(): { first: FakeNode; second: FakeNode } {
  const first = node(MASTER_1);
  const init = first.init(at(INIT_AT));
  expect(init.status).toBe(0);
  first.refreshJoinMaterial();
  const second = node(MASTER_2);
  expect(second.join('control-plane', String(init.result?.caCertHash), at(INIT_AT + 100 * DAY)).status).toBe(0);
  return { first, second };
}

describe('the kubeadm double: certs check-expiration -o json', () => {
  it('prints CertificateExpirationInfo, with super-admin.conf missing on a joined master', () => {
    const { second } = twoMasters();

    const run = second.exec('kubeadm', ['certs', 'check-expiration', '-o', 'json']);

    expect(run.status).toBe(0);
    const info = JSON.parse(run.stdout) as { kind: string; apiVersion: string; certificates: { name: string; missing: boolean; expirationDate: string | null }[]; certificateAuthorities: { name: string }[] };
    expect(info.kind).toBe('CertificateExpirationInfo');
    expect(info.apiVersion).toBe('output.kubeadm.k8s.io/v1alpha3');
    expect(info.certificates.map((certificate) => certificate.name)).toEqual([...info.certificates.map((certificate) => certificate.name)].sort());
    expect(info.certificates.find((certificate) => certificate.name === 'super-admin.conf')).toEqual(expect.objectContaining({ missing: true, expirationDate: null }));
    expect(info.certificates.find((certificate) => certificate.name === 'apiserver')).toEqual(expect.objectContaining({ missing: false, expirationDate: iso(INIT_AT + 465 * DAY) }));
    expect(info.certificateAuthorities.map((authority) => authority.name)).toEqual(['ca', 'front-proxy-ca', 'etcd-ca']);
  });
});

describe('cluster-status.sh certificates', () => {
  it("reports this master's earliest leaf and CA expiry: a year after its own init or join", () => {
    const { first, second } = twoMasters();

    const onFirst = first.run('cluster-status.sh', at(INIT_AT + 340 * DAY));
    const onSecond = second.run('cluster-status.sh', at(INIT_AT + 340 * DAY));

    expect(onFirst.status).toBe(0);
    expect(onFirst.result?.certificates).toEqual({ leaf: { name: 'admin.conf', expiresAt: iso(INIT_AT + 365 * DAY) }, ca: { name: expect.any(String), expiresAt: expect.any(String) }, restartPending: false });
    expect(onSecond.result?.certificates).toEqual(expect.objectContaining({ leaf: { name: 'admin.conf', expiresAt: iso(INIT_AT + 465 * DAY) } }));
    // The CAs are the cluster's, shared by every master: ten years (the cluster CA is the test's real PEM).
    expect((onSecond.result?.certificates as { ca: unknown }).ca).toEqual((onFirst.result?.certificates as { ca: unknown }).ca);
  });

  it('reports a year from the renewal after kubeadm certs renew all, which renews whatever the expiry', () => {
    const { first } = twoMasters();

    const renew = first.exec('kubeadm', ['certs', 'renew', 'all'], at(INIT_AT + 340 * DAY));
    const renewed = first.run('cluster-status.sh', at(INIT_AT + 341 * DAY));
    const again = first.exec('kubeadm', ['certs', 'renew', 'all'], at(INIT_AT + 342 * DAY));
    const renewedAgain = first.run('cluster-status.sh', at(INIT_AT + 342 * DAY));

    expect(renew.status).toBe(0);
    expect(renew.stdout).toContain('You must restart the kube-apiserver, kube-controller-manager, kube-scheduler and etcd');
    expect(renew.stdout).toContain('certificate super-admin.conf renewed');
    expect((renewed.result?.certificates as { leaf: unknown }).leaf).toEqual({ name: 'admin.conf', expiresAt: iso(INIT_AT + (340 + 365) * DAY) });
    expect(again.status).toBe(0);
    expect((renewedAgain.result?.certificates as { leaf: unknown }).leaf).toEqual({ name: 'admin.conf', expiresAt: iso(INIT_AT + (342 + 365) * DAY) });
  });

  it('reports a restart pending while a static pod started before the renewed files, and none once renew-certificates.sh restarted them', () => {
    const { first } = twoMasters();
    expect(first.exec('kubeadm', ['certs', 'renew', 'all']).status).toBe(0);

    const pending = first.run('cluster-status.sh');
    const restart = first.run('renew-certificates.sh', { KUBEHA_RENEW_WITHIN_DAYS: '30', KUBEHA_STATIC_POD_WAIT_SECONDS: '10', KUBEHA_KUBECONFIG_SECRET_ID: 'kubeha/local/demo/admin-kubeconfig', KUBEHA_REGION: 'eu-west-1' });
    const after = first.run('cluster-status.sh');

    expect((pending.result?.certificates as { restartPending: unknown }).restartPending).toBe(true);
    expect(restart.status).toBe(0);
    expect(restart.result).toEqual(expect.objectContaining({ renewed: false, restarted: true }));
    expect((after.result?.certificates as { restartPending: unknown }).restartPending).toBe(false);
  });

  it('reports only its certificates when asked for that scope, and refuses a scope it does not know', () => {
    const { second } = twoMasters();

    const run = second.run('cluster-status.sh', { KUBEHA_STATUS_SCOPE: 'certificates' });
    const bad = second.run('cluster-status.sh', { KUBEHA_STATUS_SCOPE: 'everything' });

    expect(run.status).toBe(0);
    expect(Object.keys(run.result ?? {})).toEqual(['certificates']);
    expect(run.calls.filter((call) => call.startsWith('kubectl'))).toEqual([]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('KUBEHA_STATUS_SCOPE must be full or certificates');
  });

  it('reports no certificates, and still the members and nodes, when kubeadm cannot tell', () => {
    const { first } = twoMasters();
    first.sandbox.stub('kubeadm', 'echo "failed to load admin kubeconfig" >&2; exit 1');

    const run = first.run('cluster-status.sh', at(INIT_AT + DAY));

    expect(run.status).toBe(0);
    expect(run.result?.certificates).toBeNull();
    expect(run.result?.members).toHaveLength(2);
  });
});

describe('renew-certificates.sh', () => {
  const NOW = Math.floor(Date.now() / 1000);
  const WINDOW = { KUBEHA_RENEW_WITHIN_DAYS: '30', KUBEHA_STATIC_POD_WAIT_SECONDS: '10', KUBEHA_KUBECONFIG_SECRET_ID: 'kubeha/local/demo/admin-kubeconfig', KUBEHA_REGION: 'eu-west-1' };
  const storesKubeconfig = (calls: string[]) => calls.filter((call) => call.startsWith('aws secretsmanager put-secret-value') && call.includes('--secret-id kubeha/local/demo/admin-kubeconfig'));

  /** A master initialized 340 days ago: its certificates expire in 25 days. */
  function agedMaster(): FakeNode {
    const master = node(MASTER_1);
    master.useOpensslDouble();
    expect(master.init(at(NOW - 340 * DAY)).status).toBe(0);
    return master;
  }
  const STATIC_PODS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd'];
  /** When the double's container started (ns since the epoch), as `crictl inspect` tells it. */
  const startedNs = (master: FakeNode, container: string) => BigInt(readFileSync(join(master.cluster.directory, 'runtime', master.ip, `started-${container}`), 'utf8').trim());
  /** When the files `kubeadm certs renew all` rewrites last changed (ns since the epoch). */
  const renewedNs = (master: FakeNode) => statSync(join(master.sandbox.root, 'etc/kubernetes/pki/apiserver-etcd-client.crt'), { bigint: true }).mtimeNs;
  const restartedSinceRenewal = (master: FakeNode) => STATIC_PODS.filter((container) => startedNs(master, container) > renewedNs(master));

  it('renews certificates within the window, restarts the static pods so they serve them, and ends healthy', () => {
    const master = agedMaster();

    const run = master.run('renew-certificates.sh', WINDOW);

    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.result).toEqual({ changed: true, renewed: true, restarted: true, kubeconfigStored: true, expiresAt: expect.any(String) });
    // The admin kubeconfig kubeha keeps carries admin.conf's client certificate, renewed with the rest.
    expect(storesKubeconfig(run.calls)).toHaveLength(1);
    expect(Date.parse(String(run.result?.expiresAt)) / 1000).toBeGreaterThanOrEqual(NOW + 364 * DAY);
    expect(run.calls).toContain('kubeadm certs renew all');
    // Every static pod started after the renewal, so each holds the renewed client certificates.
    expect(restartedSinceRenewal(master)).toEqual(STATIC_PODS);
    for (const pod of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd']) expect(master.sandbox.exists(`etc/kubernetes/manifests/${pod}.yaml`)).toBe(true);
  });

  it('changes nothing when run again: the files are out of the window and the pods serve them already', () => {
    const master = agedMaster();
    master.run('renew-certificates.sh', WINDOW);

    const again = master.run('renew-certificates.sh', WINDOW);

    expect(again.status).toBe(0);
    expect(again.result).toEqual(expect.objectContaining({ changed: false, renewed: false, restarted: false, kubeconfigStored: false }));
    expect(again.calls).not.toContain('kubeadm certs renew all');
    expect(storesKubeconfig(again.calls)).toEqual([]);
  });

  it('restarts without renewing again when an earlier run renewed the files but died before the restart', () => {
    // Prepare: the files are renewed; the API server and etcd already present the new serving certificates
    // (both reload them from disk), but every container still holds the client certificates it started with.
    const master = agedMaster();
    expect(master.exec('kubeadm', ['certs', 'renew', 'all']).status).toBe(0);
    expect(restartedSinceRenewal(master)).toEqual([]);

    const run = master.run('renew-certificates.sh', WINDOW);

    expect(run.status).toBe(0);
    expect(run.result).toEqual(expect.objectContaining({ changed: true, renewed: false, restarted: true }));
    expect(restartedSinceRenewal(master)).toEqual(STATIC_PODS);
  });

  it('puts back the manifests a run that died mid-restart left aside', () => {
    const master = agedMaster();
    master.run('renew-certificates.sh', WINDOW);
    const aside = 'var/lib/kubeha/manifests-aside';
    master.sandbox.file(`${aside}/kube-scheduler.yaml`, master.sandbox.read('etc/kubernetes/manifests/kube-scheduler.yaml'));
    rmSync(join(master.sandbox.root, 'etc/kubernetes/manifests/kube-scheduler.yaml'));

    const run = master.run('renew-certificates.sh', WINDOW);

    expect(run.status).toBe(0);
    expect(master.sandbox.exists('etc/kubernetes/manifests/kube-scheduler.yaml')).toBe(true);
    expect(master.sandbox.exists(`${aside}/kube-scheduler.yaml`)).toBe(false);
  });

  it('puts the manifests back when it fails while they are aside, so the master does not stay down', () => {
    // Prepare: killing etcd's container fails (a hung shim): the kubelet never stops it.
    const master = agedMaster();
    writeFileSync(join(master.sandbox.state, 'kubelet-cannot-stop-etcd'), '');

    const run = master.run('renew-certificates.sh', { ...WINDOW, KUBEHA_STATIC_POD_WAIT_SECONDS: '2' });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('did not stop');
    for (const pod of STATIC_PODS) expect(master.sandbox.exists(`etc/kubernetes/manifests/${pod}.yaml`)).toBe(true);
    expect(master.sandbox.exists('var/lib/kubeha/manifests-aside/kube-apiserver.yaml')).toBe(false);
  });

  it('does not take a container runtime that stops answering for stopped pods: it waits, fails, and puts the manifests back', () => {
    const master = agedMaster();
    writeFileSync(join(master.sandbox.state, 'runtime-down-while-aside'), '');

    const run = master.run('renew-certificates.sh', { ...WINDOW, KUBEHA_STATIC_POD_WAIT_SECONDS: '2' });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('the kubelet did not stop the static pods (crictl did not answer) within 2 s');
    for (const pod of STATIC_PODS) expect(master.sandbox.exists(`etc/kubernetes/manifests/${pod}.yaml`)).toBe(true);
  });

  it('never puts a stale manifest left aside over a newer one in the manifests directory', () => {
    // Prepare: a copy left aside by a dead run, and a newer manifest written since (by an upgrade or a human).
    const master = agedMaster();
    master.run('renew-certificates.sh', WINDOW);
    master.sandbox.file('var/lib/kubeha/manifests-aside/kube-scheduler.yaml', 'stale\n');
    master.sandbox.file('etc/kubernetes/manifests/kube-scheduler.yaml', 'newer\n');

    const run = master.run('renew-certificates.sh', WINDOW);

    expect(run.status).toBe(0);
    expect(master.sandbox.read('etc/kubernetes/manifests/kube-scheduler.yaml')).toBe('newer\n');
  });

  it('waits for every static pod to stop and its sandbox to go before putting the manifests back', () => {
    const master = agedMaster();

    const run = master.run('renew-certificates.sh', WINDOW);

    expect(run.status).toBe(0);
    expect(existsSync(join(master.sandbox.state, 'manifest-back-before-sandbox-gone'))).toBe(false);
  });

  it('fails naming the static pod the kubelet did not stop, whichever of the four it is', () => {
    const master = agedMaster();
    writeFileSync(join(master.sandbox.state, 'kubelet-cannot-stop-kube-scheduler'), '');

    const run = master.run('renew-certificates.sh', { ...WINDOW, KUBEHA_STATIC_POD_WAIT_SECONDS: '2' });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('the kubelet did not stop the static pods (kube-scheduler still runs) within 2 s');
  });

  it('fails when a static pod other than the API server and etcd does not start again after the restart', () => {
    const master = agedMaster();
    writeFileSync(join(master.sandbox.state, 'kubelet-cannot-start-kube-controller-manager'), '');

    const run = master.run('renew-certificates.sh', { ...WINDOW, KUBEHA_STATIC_POD_WAIT_SECONDS: '4' });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('did not come back');
    expect(run.stderr).toContain('kube-controller-manager');
  });

  it('fails, naming what did not come back, when the API server does not return after the restart', () => {
    const master = agedMaster();
    // The API server starts again but never answers ready (a broken flag, a crash loop after start).
    master.sandbox.stub('kubectl', 'exit 1');

    const run = master.run('renew-certificates.sh', { ...WINDOW, KUBEHA_STATIC_POD_WAIT_SECONDS: '2' });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('the API server and etcd member did not come back healthy within 2 s');
  });

  it('refuses a window that is not a number of days, before changing anything', () => {
    const master = agedMaster();

    const run = master.run('renew-certificates.sh', { ...WINDOW, KUBEHA_RENEW_WITHIN_DAYS: '30; rm -rf /' });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('KUBEHA_RENEW_WITHIN_DAYS must be a number of days');
    expect(run.calls).not.toContain('kubeadm certs renew all');
  });
});
