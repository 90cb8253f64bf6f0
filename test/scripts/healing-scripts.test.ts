import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Sandbox } from './sandbox.js';

// An etcdctl stand-in answering like etcd 3.4 does for a 3-member cluster whose third member is down.
const ETCDCTL = `case "$*" in
  *"member list -w simple"*) printf '%s\\n' "8e9e05c52164694d, started, ip-10-0-0-11, https://10.0.0.11:2380, https://10.0.0.11:2379, false" "91bc3c398fb3c146, started, ip-10-0-16-11, https://10.0.16.11:2380, https://10.0.16.11:2379, false" "fd422379fda50e48, started, ip-10-0-32-11, https://10.0.32.11:2380, https://10.0.32.11:2379, false" ;;
  *"10.0.32.11:2379"*"endpoint health"*) exit 1 ;;
  *"endpoint health"*) echo healthy ;;
  *"snapshot save"*) echo "snapshot" >"\${@: -1}" ;;
esac`;

describe('cluster-status.sh', () => {
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = new Sandbox();
    sandbox.stub('etcdctl-stub', ETCDCTL);
    sandbox.stub(
      'kubectl',
      `echo '{"items":[{"metadata":{"name":"ip-10-0-0-11","labels":{"node-role.kubernetes.io/control-plane":""}},"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.11"}],"conditions":[{"type":"Ready","status":"True"}]}},{"metadata":{"name":"ip-10-0-32-11","labels":{"node-role.kubernetes.io/control-plane":""}},"status":{"addresses":[{"type":"InternalIP","address":"10.0.32.11"}],"conditions":[{"type":"Ready","status":"Unknown"}]}}]}'`,
    );
  });
  afterEach(() => sandbox.dispose());

  it('should report members with hex ids, health and learner flags, and nodes with readiness', () => {
    // kubeadm's output.kubeadm.k8s.io/v1alpha3 CertificateExpirationInfo, trimmed (cmd/kubeadm/app/cmd/certs.go).
    sandbox.stub(
      'kubeadm',
      `[[ "$*" == "certs check-expiration -o json" ]] || exit 1
echo '{"kind":"CertificateExpirationInfo","apiVersion":"output.kubeadm.k8s.io/v1alpha3","certificates":[{"name":"admin.conf","expirationDate":"2027-03-01T10:00:00Z","residualTime":100,"externallyManaged":false,"caName":"ca","missing":false},{"name":"etcd-peer","expirationDate":"2027-02-27T09:00:00Z","residualTime":90,"externallyManaged":false,"caName":"etcd-ca","missing":false},{"name":"super-admin.conf","expirationDate":null,"residualTime":0,"externallyManaged":false,"missing":true}],"certificateAuthorities":[{"name":"ca","expirationDate":"2036-02-27T09:00:00Z","residualTime":1000,"externallyManaged":false,"missing":false},{"name":"etcd-ca","expirationDate":"2036-02-27T08:00:00Z","residualTime":999,"externallyManaged":false,"missing":false}]}'`,
    );
    const run = sandbox.run('cluster-status.sh', { KUBEHA_ETCDCTL: 'etcdctl-stub' });
    expect(run.stderr).toBe('');
    expect(run.result).toEqual({
      members: [
        { id: '8e9e05c52164694d', name: 'ip-10-0-0-11', peerIp: '10.0.0.11', healthy: true, isLearner: false },
        { id: '91bc3c398fb3c146', name: 'ip-10-0-16-11', peerIp: '10.0.16.11', healthy: true, isLearner: false },
        { id: 'fd422379fda50e48', name: 'ip-10-0-32-11', peerIp: '10.0.32.11', healthy: false, isLearner: false },
      ],
      nodes: [
        { name: 'ip-10-0-0-11', internalIp: '10.0.0.11', ready: true, controlPlane: true },
        { name: 'ip-10-0-32-11', internalIp: '10.0.32.11', ready: false, controlPlane: true },
      ],
      // No static-pod containers nor certificate files in this sandbox: whether a restart is pending is unknown.
      certificates: { leaf: { name: 'etcd-peer', expiresAt: '2027-02-27T09:00:00Z' }, ca: { name: 'etcd-ca', expiresAt: '2036-02-27T08:00:00Z' }, restartPending: null },
    });
  });
});

describe('snapshot-etcd.sh', () => {
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = new Sandbox();
    sandbox.stub('etcdctl-stub', ETCDCTL);
    sandbox.stub('aws', 'cp "${@: -2:1}" "$STATE/uploaded"');
  });
  afterEach(() => sandbox.dispose());

  it('should save a snapshot, upload it under the cluster prefix and leave no local copy', () => {
    sandbox.file('var/lib/etcd/.keep', '');
    const run = sandbox.run('snapshot-etcd.sh', {
      KUBEHA_ETCDCTL: 'etcdctl-stub',
      KUBEHA_SNAPSHOT_BUCKET: 'kubeha-prod-snapshots',
      KUBEHA_CLUSTER_NAME: 'demo',
      KUBEHA_SNAPSHOT_LABEL: 'heal-i-0abc-20261124T090000Z',
      KUBEHA_REGION: 'eu-west-1',
    });
    expect(run.stderr).toBe('');
    expect(run.result).toEqual({ bucket: 'kubeha-prod-snapshots', key: 'demo/heal-i-0abc-20261124T090000Z.db', bytes: 9 });
    expect(run.calls).toContainEqual(expect.stringMatching(/^aws s3 cp --region eu-west-1 --only-show-errors \S+ s3:\/\/kubeha-prod-snapshots\/demo\/heal-i-0abc-20261124T090000Z\.db$/));
    expect(sandbox.read('../state/uploaded')).toBe('snapshot\n');
    expect(sandbox.exists('var/lib/etcd/kubeha-snapshot-heal-i-0abc-20261124T090000Z.db')).toBe(false);
  });
});

describe('reset-node.sh', () => {
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = new Sandbox();
    sandbox.stub('kubeadm', 'rm -rf "$ROOT/etc/kubernetes/pki" "$ROOT/etc/kubernetes/kubelet.conf"');
    sandbox.stub('iptables');
    sandbox.stub('ipvsadm');
  });
  afterEach(() => sandbox.dispose());

  it('should reset a joined node and clear what kubeadm reset leaves (CNI configuration, iptables and IPVS rules), then be a no-op', () => {
    sandbox.file('etc/kubernetes/kubelet.conf', 'x');
    sandbox.file('etc/kubernetes/pki/ca.crt', 'x');
    sandbox.file('etc/cni/net.d/10-calico.conflist', '{}');
    const first = sandbox.run('reset-node.sh', {});
    const second = sandbox.run('reset-node.sh', {});
    expect(first.result).toEqual({ changed: true });
    expect(first.calls).toEqual(['kubeadm reset --force', 'iptables -t filter -F', 'iptables -t nat -F', 'iptables -t mangle -F', 'iptables -X', 'ipvsadm --clear']);
    expect(sandbox.exists('etc/cni/net.d')).toBe(false);
    expect(second.stdout).toContain('nothing to reset, nothing to do');
    expect(second.calls).toEqual([]);
  });

  it('should leave a fresh node alone even though the kubelet package put .kubelet-keep in its manifests directory', () => {
    sandbox.file('etc/kubernetes/manifests/.kubelet-keep', '');
    const run = sandbox.run('reset-node.sh', {});
    expect(run.result).toEqual({ changed: false });
    expect(run.calls).toEqual([]);
  });
});

describe('check-load-balancer.sh', () => {
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = new Sandbox();
    sandbox.stub('nginx');
  });
  afterEach(() => sandbox.dispose());

  it('should fail naming nginx when it is not running', () => {
    sandbox.stub('systemctl', '[[ "${@: -1}" == "nginx" ]] && exit 3; exit 0');
    const run = sandbox.run('check-load-balancer.sh', { KUBEHA_LISTEN_PORT: '6443' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('nginx is not running');
  });

  it('should fail naming the port when nothing listens on it', () => {
    sandbox.stub('systemctl');
    const run = sandbox.run('check-load-balancer.sh', { KUBEHA_LISTEN_PORT: '1' });
    expect(run.stderr).toContain('nothing accepts connections on port 1');
  });
});
