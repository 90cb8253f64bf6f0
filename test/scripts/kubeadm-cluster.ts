// A kubeadm cluster for the script tests, made of the doubles in ./doubles: one shared directory that
// stands for etcd and the API (objects, members, what runs where) and one Sandbox per node, whose
// kubeadm, kubectl, etcdctl and crictl are the doubles. See doubles/kubeadm for the phases it models
// and the kubeadm sources they come from.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENCRYPTION_SECRET_ID, JOIN_ENV, Sandbox, type ScriptRun, WORKER_SECRET_ARN, stubAws } from './sandbox.js';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

export const DOUBLES = fileURLToPath(new URL('./doubles/', import.meta.url));

/** kubeadm's phases as the double runs them (init.go, join.go of cmd/kubeadm/app/cmd). */
export const INIT_PHASES = [
  'preflight', 'certs', 'kubeconfig', 'etcd', 'control-plane', 'kubelet-start', 'wait-control-plane', 'upload-config',
  'upload-certs', 'mark-control-plane', 'bootstrap-token', 'kubelet-finalize', 'addon', 'show-join-command',
] as const;
export const CONTROL_PLANE_JOIN_PHASES = [
  'preflight', 'control-plane-prepare/download-certs', 'control-plane-prepare/certs', 'control-plane-prepare/kubeconfig',
  'control-plane-prepare/control-plane', 'check-etcd', 'kubelet-start', 'etcd-join', 'kubelet-wait-bootstrap', 'control-plane-join',
  'wait-control-plane',
] as const;
/** The join phases that act for a worker; the others return at once when there is no controlPlane block. */
export const WORKER_JOIN_PHASES = ['preflight', 'kubelet-start', 'kubelet-wait-bootstrap'] as const;

export interface EtcdMember {
  readonly id: string;
  readonly name: string;
  readonly peerIp: string;
  readonly isLearner: boolean;
}

/** Writes a self-signed CA (what kubeadm's certs phase would create) into a directory; returns its path. */
export function createTestCa(directory: string): string {
  const pem = join(directory, 'test-ca.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(directory, 'test-ca.key'), '-out', pem, '-subj', '/CN=kubernetes', '-days', '1'], { stdio: 'pipe' });
  return pem;
}

export class FakeCluster {
  readonly directory = mkdtempSync(join(tmpdir(), 'kubeha-cluster-'));
  readonly endpoint = 'k8s.example.com:6443';
  readonly caPem: string;

  /** caPem: the CA kubeadm init "generates"; tests share one to save the key generation. */
  constructor(caPem?: string) {
    this.caPem = caPem ?? createTestCa(this.directory);
  }

  /** A separate cluster in the state this one is in (etcd, objects, what runs), for tests that start alike. */
  static copyOf(template: FakeCluster): FakeCluster {
    const copy = new FakeCluster(template.caPem);
    execFileSync('cp', ['-a', `${template.directory}/.`, `${copy.directory}/`]);
    return copy;
  }

  members(): EtcdMember[] {
    const file = join(this.directory, 'etcd', 'members');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => {
      const [id = '', name = '', peerIp = '', learner = ''] = line.split('|');
      return { id, name, peerIp, isLearner: learner === 'true' };
    });
  }

  hasObject(namespace: string, kind: string, name: string): boolean {
    return existsSync(join(this.directory, 'objects', namespace, kind, name));
  }

  /** The Node object's labels and taints, or undefined when it is not registered. */
  node(name: string): { labels: string[]; taints: string[] } | undefined {
    const file = join(this.directory, 'objects', '-', 'node', name);
    if (!existsSync(file)) return undefined;
    const lines = readFileSync(file, 'utf8').split('\n');
    return {
      labels: lines.filter((line) => line.startsWith('label ')).map((line) => line.slice(6)),
      taints: lines.filter((line) => line.startsWith('taint ')).map((line) => line.slice(6)),
    };
  }

  /** An object's stored text (for a ConfigMap with data, its manifest), or undefined when it does not exist. */
  object(namespace: string, kind: string, name: string): string | undefined {
    const file = join(this.directory, 'objects', namespace, kind, name);
    return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  }

  /** Deletes an object, as `kubectl delete` would. */
  deleteObject(namespace: string, kind: string, name: string): void {
    rmSync(join(this.directory, 'objects', namespace, kind, name), { force: true });
  }

  /** The server lines of kube-proxy's kubeconfig (key kubeconfig.conf of kube-system/kube-proxy). */
  kubeProxyServers(): string[] {
    const manifest = this.object('kube-system', 'configmap', 'kube-proxy') ?? '';
    const block = /^ {2}kubeconfig\.conf: \|-\n((?: {4}.*\n?|\n)*)/m.exec(manifest)?.[1] ?? '';
    return [...block.matchAll(/^ +server: (\S+)$/gm)].map((match) => match[1]!);
  }

  /** A pod-template annotation of a DaemonSet (kubectl rollout restart sets kubectl.kubernetes.io/restartedAt). */
  daemonSetAnnotation(namespace: string, name: string, key: string): string | undefined {
    const prefix = `annotation ${key}=`;
    return this.object(namespace, 'daemonset', name)?.split('\n').find((line) => line.startsWith(prefix))?.slice(prefix.length);
  }

  /** The network plugin's pods run: a node whose kubelet runs reports Ready from now on (doubles/kubectl). */
  installNetworkPlugin(): void {
    writeFileSync(join(this.directory, 'network-plugin'), '');
  }

  isRunning(ip: string, what: 'kubelet' | 'etcd' | 'control-plane'): boolean {
    return existsSync(join(this.directory, 'runtime', ip, what));
  }

  dispose(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }
}

export class FakeNode {
  readonly sandbox = new Sandbox();
  readonly name: string;

  /** copyOf: a node of another (copied) cluster whose files this node starts with. */
  constructor(
    readonly cluster: FakeCluster,
    readonly ip: string,
    copyOf?: FakeNode,
  ) {
    this.name = `ip-${ip.replaceAll('.', '-')}`;
    // The kubeadm stub keeps a copy of each --config it is given (in the test's state, outside the
    // node's root) so tests can read what kubeha asked for.
    this.sandbox.stub(
      'kubeadm',
      `for ((i = 1; i <= $#; i++)); do if [[ "\${!i}" == "--config" ]]; then j=$((i + 1)); cp "\${!j}" "$STATE/kubeadm-$1.yaml"; fi; done
exec '${join(DOUBLES, 'kubeadm')}' "$@"`,
    );
    for (const tool of ['kubectl', 'etcdctl', 'crictl']) this.sandbox.stub(tool, `exec '${join(DOUBLES, tool)}' "$@"`);
    this.sandbox.stub('hostname', `echo '${this.name}'`);
    // Never the host's own rules: reset's clean-up is recorded, not done.
    this.sandbox.stub('iptables');
    this.sandbox.stub('ipvsadm');
    stubNodeProxyTools(this.sandbox);
    stubAws(this.sandbox);
    // What the kubelet package installs on every node.
    this.sandbox.file('etc/kubernetes/manifests/.kubelet-keep', '');
    if (copyOf) execFileSync('cp', ['-a', `${copyOf.sandbox.root}/.`, `${this.sandbox.root}/`]);
  }

  /**
   * openssl as the doubles' certificates need it: `s_client` to this node's API server or etcd shows what that
   * container loaded, and `x509` reads the doubles' text certificates (doubles/openssl); the rest is the real one.
   */
  useOpensslDouble(): void {
    this.sandbox.stub('openssl', `exec '${join(DOUBLES, 'openssl')}' "$@"`);
  }

  /** The next `kubeadm <command>` fails at this phase (once), leaving what kubeadm would leave. */
  failAt(command: 'init' | 'join' | 'reset', phase: string): void {
    writeFileSync(join(this.sandbox.state, 'kubeadm-fail'), `${command} ${phase}`);
  }

  /** The next `kubeadm <command>` hangs at this phase until it is killed. */
  hangAt(command: 'init' | 'join', phase: string): void {
    writeFileSync(join(this.sandbox.state, 'kubeadm-hang'), `${command} ${phase}`);
  }

  private environment(): Record<string, string> {
    return {
      ...JOIN_ENV,
      KUBEHA_ENCRYPTION_SECRET_ID: ENCRYPTION_SECRET_ID,
      DOUBLE_CLUSTER: this.cluster.directory,
      DOUBLE_CONTROL: this.sandbox.state,
      DOUBLE_CA_PEM: this.cluster.caPem,
      KUBEHA_SELF_IP: this.ip,
      KUBEHA_API_WAIT_SECONDS: '0',
    };
  }

  run(script: string, env: Record<string, string> = {}): ScriptRun {
    return this.sandbox.run(script, { ...this.environment(), ...env });
  }

  /** Runs one of this node's tools (a double) directly, as an operator on the node would. */
  exec(tool: string, args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
    const child = spawnSync(join(this.sandbox.bin, tool), args, {
      encoding: 'utf8',
      env: { PATH: `${this.sandbox.bin}:/usr/sbin:/usr/bin:/sbin:/bin`, KUBEHA_ROOT: this.sandbox.root, ...this.environment(), ...env },
      timeout: 30_000,
    });
    return { status: child.status, stdout: child.stdout, stderr: child.stderr };
  }

  init(env: Record<string, string> = {}): ScriptRun {
    return this.run('init-first-master.sh', {
      KUBEHA_CLUSTER_NAME: 'demo',
      KUBEHA_KUBERNETES_VERSION: '1.36.4',
      KUBEHA_CONTROL_PLANE_ENDPOINT: this.cluster.endpoint,
      KUBEHA_CERT_SANS: '203.0.113.10,k8s.example.com,10.0.0.5',
      KUBEHA_POD_CIDR: '192.168.0.0/16',
      KUBEHA_SERVICE_CIDR: '10.96.0.0/12',
      KUBEHA_KUBECONFIG_SECRET_ID: 'kubeha/local/demo/admin-kubeconfig',
      KUBEHA_INITIALIZED_BEFORE: 'false',
      ...env,
    });
  }

  /** Joins as SendCommand would ask: a worker gets the worker secret's ARN and runs with the worker role. */
  join(as: 'control-plane' | 'worker', caCertHash: string, env: Record<string, string> = {}): ScriptRun {
    this.setRole(as === 'worker' ? 'worker' : 'master');
    const proxy: Record<string, string> = as === 'worker' ? { KUBEHA_MASTER_ADDRESSES: '10.0.0.11,10.0.16.11,10.0.32.11' } : {};
    const secret: Record<string, string> = as === 'worker' ? { KUBEHA_JOIN_SECRET_ARN: WORKER_SECRET_ARN } : {};
    return this.run('join-node.sh', { KUBEHA_JOIN_AS: as, KUBEHA_CONTROL_PLANE_ENDPOINT: this.cluster.endpoint, KUBEHA_CA_CERT_HASH: caCertHash, ...secret, ...proxy, ...env });
  }

  /** The instance role the node's `aws` answers for (infra/iam.cjs: master, worker, lb). */
  setRole(role: 'master' | 'worker' | 'lb'): void {
    writeFileSync(join(this.sandbox.state, 'node-role'), role);
  }

  /** The kubeadm configuration file kubeha last gave `kubeadm <command>`. */
  lastConfig(command: 'init' | 'join' | 'token'): string {
    return readFileSync(join(this.sandbox.state, `kubeadm-${command}.yaml`), 'utf8');
  }

  /** Registers the control-plane material (token and certificate upload) or the workers' token, as heals do before a join. */
  refreshJoinMaterial(kind: 'control-plane' | 'worker' = 'control-plane'): ScriptRun {
    const secret: Record<string, string> = kind === 'worker' ? { KUBEHA_JOIN_SECRET_ARN: WORKER_SECRET_ARN } : {};
    return this.run('refresh-join-material.sh', { KUBEHA_TOKEN_TTL: '30m', ...secret });
  }

  dispose(): void {
    this.sandbox.dispose();
  }
}

/** Every file under a directory whose content contains any of the needles, as paths relative to it. */
/** What a script test file gets from useFakeCluster(): the test's cluster, the file's CA, and nodes disposed after the test. */
export interface FakeClusterFixture {
  readonly cluster: FakeCluster;
  readonly caPem: string;
  node(ip: string): FakeNode;
}

/**
 * Registers the hooks every kubeadm script test file needs: one test CA for the file, a fresh FakeCluster for each
 * test, and every node made through `node()` disposed with its cluster after the test.
 */
export function useFakeCluster(): FakeClusterFixture {
  let caDirectory = '';
  let nodes: FakeNode[] = [];
  const fixture = {
    cluster: undefined as unknown as FakeCluster,
    caPem: '',
    node(ip: string): FakeNode {
      const created = new FakeNode(fixture.cluster, ip);
      nodes.push(created);
      return created;
    },
  };
  beforeAll(() => {
    caDirectory = mkdtempSync(join(tmpdir(), 'kubeha-ca-'));
    fixture.caPem = createTestCa(caDirectory);
  });
  afterAll(() => rmSync(caDirectory, { recursive: true, force: true }));
  beforeEach(() => {
    fixture.cluster = new FakeCluster(fixture.caPem);
    nodes = [];
  });
  afterEach(() => {
    for (const created of nodes) created.dispose();
    fixture.cluster.dispose();
  });
  return fixture;
}

export function filesContaining(directory: string, needles: string[]): string[] {
  const grep = spawnSync('grep', ['-rlF', ...needles.flatMap((needle) => ['-e', needle]), '.'], { cwd: directory, encoding: 'utf8' });
  if (grep.status !== 0 && grep.status !== 1) throw new Error(`grep failed: ${grep.stderr}`);
  return grep.stdout.split('\n').filter(Boolean);
}

/** What kubeha calls an initialized cluster, checked in the cluster itself: what is missing, if anything. */
export function initializedProblems(cluster: FakeCluster, master: FakeNode): string[] {
  const problems: string[] = [];
  for (const [namespace, kind, name] of [
    ['kube-system', 'configmap', 'kubeadm-config'], ['kube-public', 'configmap', 'cluster-info'],
    ['kube-system', 'deployment', 'coredns'], ['kube-system', 'daemonset', 'kube-proxy'], ['kube-system', 'secret', 'kubeadm-certs'],
  ] as const) {
    if (!cluster.hasObject(namespace, kind, name)) problems.push(`${namespace}/${kind}/${name} is missing`);
  }
  const members = cluster.members();
  if (members.length !== 1 || members[0]?.peerIp !== master.ip || members[0]?.name !== master.name || members[0]?.isLearner) {
    problems.push(`expected one started member for ${master.name}, found ${JSON.stringify(members)}`);
  }
  if (!cluster.node(master.name)?.taints.includes('node-role.kubernetes.io/control-plane:NoSchedule')) problems.push(`${master.name} lacks the control-plane taint`);
  if (!cluster.isRunning(master.ip, 'control-plane')) problems.push('its control plane does not run');
  const servers = cluster.kubeProxyServers();
  if (servers.length !== 1 || servers[0] !== LOCAL_API_SERVER) problems.push(`kube-proxy's kubeconfig names ${JSON.stringify(servers)}, not ${LOCAL_API_SERVER}`);
  if (!cluster.daemonSetAnnotation('kube-system', 'kube-proxy', RESTARTED_AT)) problems.push('the kube-proxy DaemonSet was not restarted since kubeadm wrote it');
  return problems;
}

/** What every node reaches as its API server: a master's own, a worker's node-local proxy. */
export const LOCAL_API_SERVER = 'https://127.0.0.1:6443';
/** The pod-template annotation `kubectl rollout restart` sets. */
export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

/** What kubeha calls a joined control-plane node, checked in the cluster itself. */
export function joinedMasterProblems(cluster: FakeCluster, master: FakeNode): string[] {
  const problems: string[] = [];
  const registered = cluster.node(master.name);
  if (!registered?.labels.includes('node-role.kubernetes.io/control-plane=')) problems.push('no control-plane label');
  if (!registered?.taints.includes('node-role.kubernetes.io/control-plane:NoSchedule')) problems.push('no control-plane taint');
  const own = cluster.members().filter((member) => member.peerIp === master.ip);
  if (own.length !== 1 || own[0]?.name !== master.name || own[0]?.isLearner) problems.push(`its etcd member is ${JSON.stringify(own)}`);
  const stray = cluster.members().filter((member) => member.isLearner || member.name === '');
  if (stray.length > 0) problems.push(`learners or unstarted members remain: ${JSON.stringify(stray)}`);
  if (!cluster.isRunning(master.ip, 'control-plane')) problems.push('its control plane does not run');
  return problems;
}

/**
 * nginx and systemctl for the worker's API proxy (lib/node-proxy.sh): `nginx -t` accepts, and systemctl
 * keeps which units are active in the test's state, as `systemctl is-active` answers on a node.
 */
export function stubNodeProxyTools(sandbox: Sandbox): void {
  sandbox.stub('nginx');
  sandbox.stub(
    'systemctl',
    `unit="\${@: -1}"
case "$1" in
  is-active) [[ -f "$STATE/active-$unit" ]] ;;
  enable | start | restart) touch "$STATE/active-$unit" ;;
  stop) rm -f "$STATE/active-$unit" ;;
  *) exit 0 ;;
esac`,
  );
}
