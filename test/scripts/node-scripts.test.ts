import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Sandbox } from './sandbox.js';

describe('install-prerequisites.sh', () => {
  let sandbox: Sandbox;

  beforeEach(() => {
    sandbox = new Sandbox();
    for (const command of ['apt-get', 'apt-mark', 'modprobe', 'sysctl', 'swapoff', 'systemctl', 'snap']) sandbox.stub(command);
    sandbox.stub('aws');
    sandbox.stub('containerd', `[[ "$1 $2" == "config default" ]] && printf '[plugins]\\n  SystemdCgroup = false\\n'`);
    sandbox.stub('curl', 'echo "-----BEGIN PGP PUBLIC KEY BLOCK-----"');
    sandbox.stub('gpg', 'for ((i = 1; i <= $#; i++)); do if [[ "${!i}" == "-o" ]]; then j=$((i + 1)); cat >"${!j}"; fi; done');
    sandbox.file('etc/fstab', 'UUID=abc / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n');
  });
  afterEach(() => sandbox.dispose());

  it('should prepare a master: modules, sysctls, swap off for good, containerd with systemd cgroups, pinned and held packages', () => {
    // Act
    const run = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_ROLE: 'master' });

    // Assess
    expect(run.stderr).toBe('');
    expect(run.result).toEqual({ changed: true });
    expect(sandbox.read('etc/modules-load.d/kubeha.conf')).toBe('overlay\nbr_netfilter\n');
    expect(sandbox.read('etc/sysctl.d/99-kubeha.conf')).toContain('net.ipv4.ip_forward = 1');
    expect(sandbox.read('etc/fstab')).toContain('# disabled by kubeha: /swap.img none swap sw 0 0');
    expect(sandbox.read('etc/fstab')).toContain('UUID=abc / ext4 defaults 0 1');
    expect(sandbox.read('etc/containerd/config.toml')).toContain('SystemdCgroup = true');
    expect(sandbox.read('etc/apt/sources.list.d/kubernetes.list')).toBe(
      'deb [signed-by=/etc/apt/keyrings/kubernetes-v1.36.gpg] https://pkgs.k8s.io/core:/stable:/v1.36/deb/ /\n',
    );
    expect(run.calls).toContain('curl -fsSL https://pkgs.k8s.io/core:/stable:/v1.36/deb/Release.key');
    expect(run.calls).toContain(
      'apt-get -y -q -o Dpkg::Options::=--force-confold --allow-change-held-packages install kubelet=1.36.4-* kubeadm=1.36.4-* kubectl=1.36.4-*',
    );
    expect(run.calls).toContain('apt-mark hold kubelet kubeadm kubectl');
    expect(run.calls).toContain('systemctl mask swap.target');
    expect(run.calls).toContain('swapoff -a');
  });

  it('should be a no-op that says so on a second run', () => {
    sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_ROLE: 'worker' });
    const second = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_ROLE: 'worker' });
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('already installed, nothing to do');
    expect(second.result).toEqual({ changed: false });
    expect(second.calls).toEqual([]);
  });

  it('should install nginx with the stream module and keepalived on a load balancer, and no Kubernetes packages', () => {
    const run = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_ROLE: 'lb' });
    expect(run.status).toBe(0);
    expect(run.calls).toContain('apt-get -y -q -o Dpkg::Options::=--force-confold install nginx libnginx-mod-stream keepalived');
    expect(run.calls.join('\n')).not.toContain('kubelet');
  });

  it('should reject an unknown role and an unpinned version before installing anything', () => {
    const badRole = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_ROLE: 'etcd' });
    expect(badRole.status).toBe(1);
    expect(badRole.stderr).toContain('KUBEHA_ROLE must be master, worker or lb, not etcd');
    const badVersion = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: 'latest', KUBEHA_ROLE: 'worker' });
    expect(badVersion.stderr).toContain('must look like 1.36.4');
    expect(badVersion.calls).toEqual([]);
  });
});

describe('install-cni.sh', () => {
  let sandbox: Sandbox;
  const MANIFEST = [
    'kind: DaemonSet',
    '            # - name: CALICO_IPV4POOL_CIDR',
    '            #   value: "192.168.0.0/16"',
    '          image: docker.io/calico/node:v3.31.3',
  ].join('\\n');

  beforeEach(() => {
    sandbox = new Sandbox();
    sandbox.stub('curl', `for ((i = 1; i <= $#; i++)); do if [[ "\${!i}" == "-o" ]]; then j=$((i + 1)); printf '${MANIFEST}\\n' >"\${!j}"; fi; done`);
    sandbox.stub(
      'kubectl',
      `case "$1" in
  apply) cp "$3" "$STATE/applied.yaml"; echo "docker.io/calico/node:v3.31.3" >"$STATE/image" ;;
  -n) [[ "$3" == "get" && -f "$STATE/image" ]] && cat "$STATE/image" || true ;;
esac`,
    );
  });
  afterEach(() => sandbox.dispose());

  it('should apply the pinned Calico manifest with the pool set to the pod CIDR, then wait for the rollout', () => {
    const run = sandbox.run('install-cni.sh', { KUBEHA_CNI_VERSION: 'v3.31.3', KUBEHA_POD_CIDR: '172.20.0.0/16' });
    expect(run.stderr).toBe('');
    expect(run.calls).toContainEqual(expect.stringContaining('https://raw.githubusercontent.com/projectcalico/calico/v3.31.3/manifests/calico.yaml'));
    expect(run.calls).toContainEqual('kubectl -n kube-system rollout status daemonset/calico-node --timeout=10m');
    const applied = sandbox.read('../state/applied.yaml');
    expect(applied).toContain('            - name: CALICO_IPV4POOL_CIDR\n              value: "172.20.0.0/16"');
  });

  it('should do nothing when calico-node already runs the wanted version', () => {
    sandbox.run('install-cni.sh', { KUBEHA_CNI_VERSION: 'v3.31.3', KUBEHA_POD_CIDR: '172.20.0.0/16' });
    const second = sandbox.run('install-cni.sh', { KUBEHA_CNI_VERSION: 'v3.31.3', KUBEHA_POD_CIDR: '172.20.0.0/16' });
    expect(second.stdout).toContain('already installed, nothing to do');
    expect(second.calls.filter((call) => !call.startsWith('kubectl -n kube-system get'))).toEqual([]);
  });
});

describe('verify-cluster.sh', () => {
  let sandbox: Sandbox;
  const node = (name: string, controlPlane: boolean, ready: boolean) => ({
    metadata: { name, labels: controlPlane ? { 'node-role.kubernetes.io/control-plane': '' } : {} },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });

  function cluster(nodes: object[], members: number, healthy: number): void {
    sandbox.file('../state/nodes.json', JSON.stringify({ items: nodes }));
    sandbox.file('../state/members.json', JSON.stringify({ members: Array.from({ length: members }, (_, index) => ({ ID: index })) }));
    sandbox.file('../state/health.json', JSON.stringify(Array.from({ length: members }, (_, index) => ({ endpoint: `https://10.0.0.${index}:2379`, health: index < healthy }))));
  }

  beforeEach(() => {
    sandbox = new Sandbox();
    sandbox.stub('hostname', 'echo ip-10-0-0-11');
    sandbox.stub(
      'kubectl',
      `case "$*" in
  wait*) exit 0 ;;
  "get nodes -o json") cat "$STATE/nodes.json" ;;
  *"member list"*) cat "$STATE/members.json" ;;
  *"endpoint health"*) cat "$STATE/health.json" ;;
  *"get pods"*) exit 0 ;;
esac`,
    );
  });
  afterEach(() => sandbox.dispose());

  it('should report a healthy 3-master, 2-worker cluster as JSON', () => {
    cluster([node('m1', true, true), node('m2', true, true), node('m3', true, true), node('w1', false, true), node('w2', false, true)], 3, 3);
    const run = sandbox.run('verify-cluster.sh', { KUBEHA_EXPECTED_CONTROL_PLANE_NODES: '3', KUBEHA_EXPECTED_WORKER_NODES: '2' });
    expect(run.stderr).toBe('');
    expect(run.result).toEqual({ nodesReady: 5, nodesTotal: 5, controlPlaneNodes: 3, workerNodes: 2, etcdMembers: 3, etcdHealthy: 3, kubeSystemPodsNotRunning: 0 });
    expect(run.calls).toContainEqual(expect.stringContaining('kube-system exec etcd-ip-10-0-0-11 -- etcdctl'));
  });

  it('should fail, still reporting, when a node is NotReady and an etcd member is unhealthy', () => {
    cluster([node('m1', true, true), node('m2', true, false), node('m3', true, true)], 3, 2);
    const run = sandbox.run('verify-cluster.sh', { KUBEHA_EXPECTED_CONTROL_PLANE_NODES: '3', KUBEHA_EXPECTED_WORKER_NODES: '0' });
    expect(run.status).toBe(1);
    expect(run.result).toMatchObject({ nodesReady: 2, etcdHealthy: 2 });
    expect(run.stderr).toContain('1 nodes are not Ready');
    expect(run.stderr).toContain('1 etcd members are unhealthy');
  });
});
