import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Sandbox } from './sandbox.js';

const OS_RELEASE = { '22.04': 'ID=ubuntu\nVERSION_ID="22.04"\nVERSION_CODENAME=jammy\n', '24.04': 'ID=ubuntu\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\n' } as const;
const LOCK = '-o DPkg::Lock::Timeout=600';

/**
 * A node to prepare: apt, systemd and the network are PATH stubs. Downloads come from files the test
 * makes (a real containerd-like tarball and the checksums its release would publish); `containerd`
 * reports the version apt or the tarball installed; `kubeadm config images list` names pause:3.10.1.
 */
function prerequisitesSandbox(ubuntu: keyof typeof OS_RELEASE, options: { awsCli?: 'v2' | 'none'; signature?: 'good' | 'bad'; ubuntuContainerd?: string } = {}): Sandbox {
  const sandbox = new Sandbox();
  sandbox.file('etc/os-release', OS_RELEASE[ubuntu]);
  sandbox.file('etc/fstab', 'UUID=abc / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n');
  for (const command of ['apt-mark', 'modprobe', 'sysctl', 'swapoff', 'systemctl', 'snap', 'unzip']) sandbox.stub(command);
  const downloads = join(sandbox.state, 'downloads');
  mkdirSync(join(downloads, 'bin'), { recursive: true });
  // containerd's release tarball holds bin/containerd*; ours holds a containerd that reports 2.1.4.
  writeFileSync(join(downloads, 'bin', 'containerd'), '#!/bin/sh\necho "containerd github.com/containerd/containerd/v2 v2.1.4 abc"\n', { mode: 0o755 });
  execFileSync('tar', ['-czf', join(downloads, 'containerd.tar.gz'), '-C', downloads, 'bin']);
  writeFileSync(join(downloads, 'runc'), 'runc binary\n');
  const sha = (file: string) => createHash('sha256').update(readFileSync(join(downloads, file))).digest('hex');
  writeFileSync(join(downloads, 'containerd.sha256sum'), `${sha('containerd.tar.gz')}  containerd-2.1.4-linux-amd64.tar.gz\n`);
  writeFileSync(join(downloads, 'runc.sha256sum'), `${'0'.repeat(64)}  runc.arm64\n${sha('runc')}  runc.amd64\n`);
  sandbox.stub(
    'curl',
    `out=""; url="\${*: -1}"
for ((i = 1; i <= $#; i++)); do if [[ "\${!i}" == "-o" ]]; then j=$((i + 1)); out="\${!j}"; fi; done
case "$url" in
  *containerd-2.1.4-linux-amd64.tar.gz) src="$STATE/downloads/containerd.tar.gz" ;;
  *containerd-2.1.4-linux-amd64.tar.gz.sha256sum) src="$STATE/downloads/containerd.sha256sum" ;;
  */runc.sha256sum) src="$STATE/downloads/runc.sha256sum" ;;
  */runc.amd64) src="$STATE/downloads/runc" ;;
  *) src=/dev/null; [[ "$url" == *Release.key ]] && echo "-----BEGIN PGP PUBLIC KEY BLOCK-----" ;;
esac
if [[ -n "$out" ]]; then cat "$src" >"$out"; else [[ "$src" == /dev/null ]] || cat "$src"; fi`,
  );
  sandbox.stub('uname', '[[ "$1" == "-m" ]] && echo x86_64 || echo Linux');
  sandbox.stub('tar', 'for ((i = 1; i <= $#; i++)); do if [[ "${!i}" == "-C" ]]; then j=$((i + 1)); dest="${!j}"; fi; done; /usr/bin/tar "$@" && cp "$dest/bin/containerd" "$STATE/containerd-installed"');
  sandbox.stub('install', 'exit 0');
  sandbox.stub(
    'apt-get',
    `[[ " $* " == *" install containerd "* ]] && printf '#!/bin/sh\\necho "containerd github.com/containerd/containerd ${options.ubuntuContainerd ?? '1.7.28'} abc"\\n' >"$STATE/containerd-installed"
for package in "$@"; do [[ "$package" == kubeadm=* ]] && { version="\${package#kubeadm=}"; printf '%s\\n' "\${version%-\\*}" >"$STATE/kubernetes-installed"; }; done
exit 0`,
  );
  // kubeadm and kubelet report the version apt installed, as `kubeadm version -o short` and `kubelet --version` do.
  sandbox.stub('kubelet', '[[ -f "$STATE/kubernetes-installed" ]] || exit 127; echo "Kubernetes v$(cat "$STATE/kubernetes-installed")"');
  sandbox.stub(
    'containerd',
    `case "$1" in
  --version) exec sh "$STATE/containerd-installed" ;;
  config) printf '[plugins]\\n  sandbox_image = "registry.k8s.io/pause:3.8"\\n  SystemdCgroup = false\\n' ;;
esac`,
  );
  sandbox.stub(
    'kubeadm',
    `[[ "$1 $2 $3" == "config images list" ]] && printf '%s\\n' registry.k8s.io/kube-apiserver:$5 registry.k8s.io/pause:3.10.1 registry.k8s.io/etcd:3.6.4-0
[[ "$1 \${2:-} \${3:-}" == "version -o short" ]] && { [[ -f "$STATE/kubernetes-installed" ]] || exit 127; echo "v$(cat "$STATE/kubernetes-installed")"; }
exit 0`,
  );
  sandbox.stub(
    'gpg',
    `case " $* " in
  *" --dearmor "*) for ((i = 1; i <= $#; i++)); do if [[ "\${!i}" == "-o" ]]; then j=$((i + 1)); cat >"\${!j}"; fi; done ;;
  *" --recv-keys "*) exit 0 ;;
  *" --verify "*) ${options.signature === 'bad' ? 'echo "[GNUPG:] BADSIG A6310ACC4672475C AWS CLI Team"; exit 1' : 'echo "[GNUPG:] VALIDSIG 1111 2025-01-01 0 4 0 1 10 00 FB5DB77FD5C118B80511ADA8A6310ACC4672475C"'} ;;
esac`,
  );
  if (options.awsCli === 'none') {
    sandbox.stub('aws', '[[ -f "$STATE/aws-v2" ]] && echo "aws-cli/2.31.0 Python/3.13" && exit 0; exit 127');
  } else {
    sandbox.stub('aws', 'echo "aws-cli/2.31.0 Python/3.13"');
  }
  return sandbox;
}

describe('install-prerequisites.sh', () => {
  let sandbox: Sandbox;
  afterEach(() => sandbox.dispose());

  it('should prepare a master: modules, sysctls, swap off for good, containerd with systemd cgroups, pinned and held packages', () => {
    // Prepare
    sandbox = prerequisitesSandbox('24.04');

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
      `apt-get -y -q ${LOCK} -o Dpkg::Options::=--force-confold --allow-change-held-packages install kubelet=1.36.4-* kubeadm=1.36.4-* kubectl=1.36.4-*`,
    );
    expect(run.calls).toContain('apt-mark hold kubelet kubeadm kubectl');
    expect(run.calls).toContain('systemctl mask swap.target');
    expect(run.calls).toContain('swapoff -a');
  });

  it.each(['22.04', '24.04'] as const)('should wait for the dpkg lock in every apt-get call on Ubuntu %s, which unattended-upgrades holds on first boot', (ubuntu) => {
    sandbox = prerequisitesSandbox(ubuntu);

    const run = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.35.2', KUBEHA_ROLE: 'worker' });

    const aptCalls = run.calls.filter((call) => call.startsWith('apt-get'));
    expect(run.status).toBe(0);
    expect(aptCalls.length).toBeGreaterThan(3);
    expect(aptCalls.filter((call) => !call.includes(LOCK))).toEqual([]);
  });

  it.each([
    ['22.04', '1.35.2'],
    ['24.04', '1.35.2'],
  ] as const)('should use Ubuntu %s\'s containerd 1.7 for Kubernetes %s, with the sandbox image kubeadm names', (ubuntu, version) => {
    sandbox = prerequisitesSandbox(ubuntu);

    const run = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: version, KUBEHA_ROLE: 'worker' });

    expect(run.stderr).toBe('');
    expect(run.calls).toContain(`apt-get -y -q ${LOCK} -o Dpkg::Options::=--force-confold install containerd`);
    expect(run.calls.some((call) => call.includes('github.com/containerd'))).toBe(false);
    expect(run.calls).toContain(`kubeadm config images list --kubernetes-version v${version}`);
    const config = sandbox.read('etc/containerd/config.toml');
    expect(config).toContain('sandbox_image = "registry.k8s.io/pause:3.10.1"');
    expect(config).not.toContain('pause:3.8');
  });

  it('should refuse an Ubuntu containerd older than 1.7.20 for Kubernetes 1.35', () => {
    sandbox = prerequisitesSandbox('22.04', { ubuntuContainerd: '1.7.12' });

    const run = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.35.2', KUBEHA_ROLE: 'worker' });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('Kubernetes 1.35 needs containerd 1.7.20 or later, found 1.7.12');
  });

  it.each([
    ['22.04', '1.36.4'],
    ['24.04', '1.37.1'],
  ] as const)('should install containerd 2.x from its checksum-verified release on Ubuntu %s for Kubernetes %s', (ubuntu, version) => {
    sandbox = prerequisitesSandbox(ubuntu);

    const run = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: version, KUBEHA_ROLE: 'master' });

    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.calls).toContainEqual(expect.stringMatching(/^curl .* https:\/\/github\.com\/containerd\/containerd\/releases\/download\/v2\.1\.4\/containerd-2\.1\.4-linux-amd64\.tar\.gz$/));
    expect(run.calls).toContainEqual(expect.stringMatching(/^curl .* https:\/\/github\.com\/opencontainers\/runc\/releases\/download\/v1\.3\.1\/runc\.amd64$/));
    expect(run.calls).not.toContain(`apt-get -y -q ${LOCK} -o Dpkg::Options::=--force-confold install containerd`);
    expect(sandbox.exists('usr/local/bin/containerd')).toBe(true);
    expect(sandbox.read('etc/containerd/config.toml')).toContain('"registry.k8s.io/pause:3.10.1"');
  });

  it('should refuse a containerd release whose checksum does not match, before unpacking it', () => {
    sandbox = prerequisitesSandbox('24.04');
    writeFileSync(join(sandbox.state, 'downloads', 'containerd.sha256sum'), `${'a'.repeat(64)}  containerd-2.1.4-linux-amd64.tar.gz\n`);

    const run = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_ROLE: 'worker' });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('checksum mismatch for https://github.com/containerd/containerd/releases/download/v2.1.4/containerd-2.1.4-linux-amd64.tar.gz');
    expect(sandbox.exists('usr/local/bin/containerd')).toBe(false);
  });

  it.each(['22.04', '24.04'] as const)('should install AWS CLI v2 on Ubuntu %s from the zip installer once its signature verifies, never the awscli package', (ubuntu) => {
    sandbox = prerequisitesSandbox(ubuntu, { awsCli: 'none' });
    sandbox.stub('unzip', 'for ((i = 1; i <= $#; i++)); do if [[ "${!i}" == "-d" ]]; then j=$((i + 1)); mkdir -p "${!j}/aws"; printf \'#!/bin/sh\\ntouch "%s/aws-v2"\\n\' "$STATE" >"${!j}/aws/install"; chmod +x "${!j}/aws/install"; fi; done');

    const run = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.35.2', KUBEHA_ROLE: 'lb' });

    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.calls).toContainEqual(expect.stringMatching(/^curl -fsSL --retry 3 -o \S+awscliv2\.zip https:\/\/awscli\.amazonaws\.com\/awscli-exe-linux-x86_64\.zip$/));
    expect(run.calls).toContainEqual(expect.stringMatching(/^curl -fsSL --retry 3 -o \S+awscliv2\.sig https:\/\/awscli\.amazonaws\.com\/awscli-exe-linux-x86_64\.zip\.sig$/));
    expect(run.calls).toContainEqual(expect.stringMatching(/^gpg --batch --quiet --keyserver \S+ --recv-keys FB5DB77FD5C118B80511ADA8A6310ACC4672475C$/));
    expect(run.calls).toContainEqual(expect.stringMatching(/^gpg --batch --status-fd 1 --verify \S+awscliv2\.sig \S+awscliv2\.zip$/));
    expect(run.calls.join('\n')).not.toMatch(/install awscli|snap install/);
    expect(sandbox.exists('../state/aws-v2')).toBe(true);
  });

  it('should not run an AWS CLI installer whose signature does not verify', () => {
    sandbox = prerequisitesSandbox('24.04', { awsCli: 'none', signature: 'bad' });

    const run = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.35.2', KUBEHA_ROLE: 'lb' });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain("the AWS CLI installer's signature does not verify; not installing it");
    expect(run.calls.filter((call) => call.startsWith('unzip'))).toEqual([]);
  });

  it('should be a no-op that says so on a second run', () => {
    sandbox = prerequisitesSandbox('22.04');
    sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_ROLE: 'worker' });
    const second = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_ROLE: 'worker' });
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('already installed, nothing to do');
    expect(second.result).toEqual({ changed: false });
    expect(second.calls).toEqual(['kubeadm version -o short', 'kubelet --version', 'containerd --version']);
  });

  it('should be a no-op on a master made from an image a worker run prepared (one marker and the pinned versions for both roles)', () => {
    // Prepare
    sandbox = prerequisitesSandbox('24.04');
    sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_ROLE: 'worker' });

    // Act
    const master = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_ROLE: 'master' });

    // Assess
    expect(master.status).toBe(0);
    expect(master.result).toEqual({ changed: false });
    expect(master.calls.filter((call) => call.startsWith('apt-get'))).toEqual([]);
  });

  it('should install again when the marker is there but kubeadm is no longer the pinned version', () => {
    // Prepare
    sandbox = prerequisitesSandbox('24.04');
    sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_ROLE: 'worker' });
    writeFileSync(join(sandbox.state, 'kubernetes-installed'), '1.36.3\n');

    // Act
    const again = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_ROLE: 'worker' });

    // Assess
    expect(again.status).toBe(0);
    expect(again.result).toEqual({ changed: true });
    expect(again.calls.some((call) => call.includes('kubeadm=1.36.4-*'))).toBe(true);
  });

  it("should install nginx with the stream module on a worker for its API proxy, and leave the distribution's nginx service off", () => {
    sandbox = prerequisitesSandbox('24.04');
    const run = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_ROLE: 'worker' });
    expect(run.status).toBe(0);
    expect(run.calls).toContain(`apt-get -y -q ${LOCK} -o Dpkg::Options::=--force-confold install nginx libnginx-mod-stream`);
    expect(run.calls).toContain('systemctl disable --now nginx');
    expect(run.calls.join('\n')).not.toContain('keepalived');
  });

  it('should install nginx with the stream module and keepalived on a load balancer, and no Kubernetes packages', () => {
    sandbox = prerequisitesSandbox('24.04');
    const run = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_ROLE: 'lb' });
    expect(run.status).toBe(0);
    expect(run.calls).toContain(`apt-get -y -q ${LOCK} -o Dpkg::Options::=--force-confold install nginx libnginx-mod-stream keepalived`);
    expect(run.calls.join('\n')).not.toContain('kubelet');
  });

  it('should reject an unknown role, an unpinned version and an unsupported release before installing anything', () => {
    sandbox = prerequisitesSandbox('24.04');
    const badRole = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_ROLE: 'etcd' });
    expect(badRole.status).toBe(1);
    expect(badRole.stderr).toContain('KUBEHA_ROLE must be master, worker or lb, not etcd');
    const badVersion = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: 'latest', KUBEHA_ROLE: 'worker' });
    expect(badVersion.stderr).toContain('must look like 1.36.4');
    expect(badVersion.calls).toEqual([]);
    sandbox.file('etc/os-release', 'ID=ubuntu\nVERSION_ID="20.04"\n');
    const oldRelease = sandbox.run('install-prerequisites.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_ROLE: 'worker' });
    expect(oldRelease.stderr).toContain('kubeha supports Ubuntu 22.04 and 24.04, not ubuntu 20.04');
    expect(oldRelease.calls.filter((call) => call.startsWith('apt-get'))).toEqual([]);
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

  /** kube-proxy's kubeconfig.conf as kubeadm writes it, with this server. */
  const kubeProxyKubeconfig = (server: string) =>
    `apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n    server: ${server}\n  name: default\n`;

  function cluster(nodes: object[], members: number, healthy: number, kubeProxyServer = 'https://127.0.0.1:6443'): void {
    sandbox.file('../state/kube-proxy.conf', kubeProxyKubeconfig(kubeProxyServer));
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
  *"-n kube-system get configmap kube-proxy -o jsonpath={.data.kubeconfig\\\\.conf}") cat "$STATE/kube-proxy.conf" ;;
esac`,
    );
  });
  afterEach(() => sandbox.dispose());

  it('should report a healthy 3-master, 2-worker cluster as JSON', () => {
    cluster([node('m1', true, true), node('m2', true, true), node('m3', true, true), node('w1', false, true), node('w2', false, true)], 3, 3);
    const run = sandbox.run('verify-cluster.sh', { KUBEHA_EXPECTED_CONTROL_PLANE_NODES: '3', KUBEHA_EXPECTED_WORKER_NODES: '2' });
    expect(run.stderr).toBe('');
    expect(run.result).toEqual({ nodesReady: 5, nodesTotal: 5, controlPlaneNodes: 3, workerNodes: 2, etcdMembers: 3, etcdHealthy: 3, kubeSystemPodsNotRunning: 0, kubeProxyServer: 'https://127.0.0.1:6443' });
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

  it('should fail, still reporting, when kube-proxy\'s kubeconfig names the control-plane endpoint again (as after kubeadm upgrade apply)', () => {
    // Prepare
    cluster([node('m1', true, true), node('m2', true, true), node('m3', true, true)], 3, 3, 'https://k8s.example.com:6443');

    // Act
    const run = sandbox.run('verify-cluster.sh', { KUBEHA_EXPECTED_CONTROL_PLANE_NODES: '3', KUBEHA_EXPECTED_WORKER_NODES: '0' });

    // Assess
    expect(run.status).toBe(1);
    expect(run.result).toMatchObject({ nodesReady: 3, kubeProxyServer: 'https://k8s.example.com:6443' });
    expect(run.stderr).toContain("kube-proxy's kubeconfig names https://k8s.example.com:6443, not https://127.0.0.1:6443");
  });

  it('should fail when kube-proxy\'s ConfigMap cannot be read', () => {
    cluster([node('m1', true, true)], 1, 1);
    // The stub's get then fails, as kubectl does for a missing ConfigMap (NotFound, exit 1).
    rmSync(join(sandbox.state, 'kube-proxy.conf'));

    const run = sandbox.run('verify-cluster.sh', { KUBEHA_EXPECTED_CONTROL_PLANE_NODES: '1', KUBEHA_EXPECTED_WORKER_NODES: '0' });

    expect(run.status).toBe(1);
    expect(run.result).toMatchObject({ kubeProxyServer: '' });
    expect(run.stderr).toContain("kube-proxy's kubeconfig names no server (kube-system/configmap/kube-proxy unreadable)");
  });
});

describe('prepare-node-image.sh', () => {
  let sandbox: Sandbox;
  afterEach(() => sandbox.dispose());

  /** A builder after install-prerequisites.sh: the node marker, a machine id, SSH host keys, an SSM registration. */
  function builder(): Sandbox {
    const prepared = new Sandbox();
    prepared.file('var/lib/kubeha/prerequisites-node-1.36.4', '');
    prepared.file('etc/machine-id', '0123456789abcdef0123456789abcdef\n');
    prepared.file('var/lib/dbus/machine-id', '0123456789abcdef0123456789abcdef\n');
    prepared.file('etc/ssh/ssh_host_ed25519_key', 'private\n');
    prepared.file('etc/ssh/ssh_host_ed25519_key.pub', 'public\n');
    prepared.file('etc/ssh/sshd_config', 'PasswordAuthentication no\n');
    prepared.file('var/lib/amazon/ssm/registration', '{"ManagedInstanceID":"i-0builder"}\n');
    prepared.file('var/lib/amazon/ssm/i-0builder/document/state', 'this command\n');
    prepared.stub('kubeadm');
    prepared.stub('cloud-init');
    return prepared;
  }

  it('should pull the pinned version\'s images and leave no machine id, SSH host key or SSM registration behind', () => {
    // Prepare
    sandbox = builder();

    // Act
    const run = sandbox.run('prepare-node-image.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_CLEAN_IDENTITY: 'true' });

    // Assess
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.calls).toEqual(['kubeadm config images pull --kubernetes-version v1.36.4 --cri-socket unix:///run/containerd/containerd.sock', 'cloud-init clean --logs --seed']);
    expect(sandbox.read('etc/machine-id')).toBe('');
    expect(sandbox.exists('var/lib/dbus/machine-id')).toBe(false);
    expect(sandbox.exists('etc/ssh/ssh_host_ed25519_key')).toBe(false);
    expect(sandbox.exists('etc/ssh/ssh_host_ed25519_key.pub')).toBe(false);
    expect(sandbox.exists('etc/ssh/sshd_config')).toBe(true);
    expect(sandbox.exists('var/lib/amazon/ssm/registration')).toBe(false);
    // The agent is writing this command's result there: it stays.
    expect(sandbox.exists('var/lib/amazon/ssm/i-0builder/document/state')).toBe(true);
    expect(run.result).toEqual({ kubernetesVersion: '1.36.4', changed: true });
  });

  it('should pull the images and keep the machine id, SSH host keys and SSM registration on a warm standby', () => {
    // Prepare
    sandbox = builder();

    // Act
    const run = sandbox.run('prepare-node-image.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_CLEAN_IDENTITY: 'false' });

    // Assess
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.calls).toEqual(['kubeadm config images pull --kubernetes-version v1.36.4 --cri-socket unix:///run/containerd/containerd.sock']);
    expect(sandbox.read('etc/machine-id')).toBe('0123456789abcdef0123456789abcdef\n');
    expect(sandbox.exists('etc/ssh/ssh_host_ed25519_key')).toBe(true);
    expect(sandbox.exists('var/lib/amazon/ssm/registration')).toBe(true);
    expect(run.result).toEqual({ kubernetesVersion: '1.36.4', changed: true });
  });

  it('should refuse to run without being told whether to clean the identity', () => {
    sandbox = builder();

    const run = sandbox.run('prepare-node-image.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4' });

    expect(run.status).toBe(1);
    expect(run.calls).toEqual([]);
    expect(sandbox.read('etc/machine-id')).not.toBe('');
  });

  it('should refuse an instance that holds kubeadm credentials, touching nothing', () => {
    sandbox = builder();
    sandbox.file('etc/kubernetes/kubelet.conf', 'apiVersion: v1\n');

    const run = sandbox.run('prepare-node-image.sh', { KUBEHA_KUBERNETES_VERSION: '1.36.4', KUBEHA_CLEAN_IDENTITY: 'true' });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('a node image is made from a fresh builder only');
    expect(run.calls).toEqual([]);
    expect(sandbox.read('etc/machine-id')).not.toBe('');
  });

  it('should refuse a builder install-prerequisites.sh has not prepared for that version', () => {
    sandbox = builder();

    const run = sandbox.run('prepare-node-image.sh', { KUBEHA_KUBERNETES_VERSION: '1.35.2', KUBEHA_CLEAN_IDENTITY: 'true' });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('install-prerequisites.sh has not prepared this instance for 1.35.2');
    expect(run.calls).toEqual([]);
  });
});
