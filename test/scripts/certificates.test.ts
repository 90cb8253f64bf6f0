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
    expect(onFirst.result?.certificates).toEqual({ leaf: { name: 'admin.conf', expiresAt: iso(INIT_AT + 365 * DAY) }, ca: { name: expect.any(String), expiresAt: expect.any(String) } });
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

  it('reports no certificates, and still the members and nodes, when kubeadm cannot tell', () => {
    const { first } = twoMasters();
    first.sandbox.stub('kubeadm', 'echo "failed to load admin kubeconfig" >&2; exit 1');

    const run = first.run('cluster-status.sh', at(INIT_AT + DAY));

    expect(run.status).toBe(0);
    expect(run.result?.certificates).toBeNull();
    expect(run.result?.members).toHaveLength(2);
  });
});
