// The worker's local API proxy (lib/node-proxy.sh through configure-node-proxy.sh): rendered exactly
// (golden file), idempotent with PATH doubles for nginx and systemctl, and, with the real nginx,
// forwarding 127.0.0.1 to several "API servers" and carrying on when one of them is down.
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stubNodeProxyTools } from './kubeadm-cluster.js';
import { EchoBackends, freePort, whoAnswers } from '../support/echo-backends.js';
import { Sandbox } from './sandbox.js';

const MASTERS = '10.0.0.11,10.0.16.11,10.0.32.11';
const KUBELET_CONF = `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTg==
    server: https://203.0.113.10:6443
  name: kubernetes
`;

function normalized(text: string, sandbox: Sandbox): string {
  return text.replaceAll(sandbox.root, '<KUBEHA_ROOT>');
}

describe('configure-node-proxy.sh', () => {
  let sandbox: Sandbox;

  beforeEach(() => {
    sandbox = new Sandbox();
    stubNodeProxyTools(sandbox);
  });
  afterEach(() => sandbox.dispose());

  it('should render the proxy to every master and its systemd unit (golden files)', async () => {
    // Act
    const run = sandbox.run('configure-node-proxy.sh', { KUBEHA_MASTER_ADDRESSES: MASTERS });

    // Assess
    expect(run.stderr).toBe('');
    expect(run.result).toEqual({ changed: true });
    await expect(normalized(sandbox.read('etc/kubeha/apiserver-proxy/nginx.conf'), sandbox)).toMatchFileSnapshot('../golden/node-proxy-nginx.conf');
    await expect(sandbox.read('etc/systemd/system/kubeha-apiserver-proxy.service')).toMatchFileSnapshot('../golden/kubeha-apiserver-proxy.service');
    expect(run.calls).toEqual([
      expect.stringMatching(/^nginx -t -q -c .*apiserver-proxy\/nginx\.conf\.kubeha-candidate$/),
      'systemctl daemon-reload',
      'systemctl is-active --quiet kubeha-apiserver-proxy',
      'systemctl enable --now kubeha-apiserver-proxy',
    ]);
  });

  it('should point a joined kubelet at the proxy and restart it, once', () => {
    // Prepare: kubeadm join wrote the cluster-info endpoint (the Elastic IP) into kubelet.conf.
    sandbox.file('etc/kubernetes/kubelet.conf', KUBELET_CONF);

    // Act
    const first = sandbox.run('configure-node-proxy.sh', { KUBEHA_MASTER_ADDRESSES: MASTERS });
    const second = sandbox.run('configure-node-proxy.sh', { KUBEHA_MASTER_ADDRESSES: MASTERS });

    // Assess
    expect(first.calls).toContain('systemctl restart kubelet');
    expect(sandbox.read('etc/kubernetes/kubelet.conf')).toBe(KUBELET_CONF.replace('https://203.0.113.10:6443', 'https://127.0.0.1:6443'));
    expect(second.result).toEqual({ changed: false });
    expect(second.stdout).toContain('nothing to do');
    expect(second.calls).toEqual([expect.stringMatching(/^nginx -t /), 'systemctl is-active --quiet kubeha-apiserver-proxy']);
  });

  it('should reload, not restart, when a master was replaced at a new address, and name the old upstreams', () => {
    // Prepare
    sandbox.run('configure-node-proxy.sh', { KUBEHA_MASTER_ADDRESSES: MASTERS });

    // Act
    const run = sandbox.run('configure-node-proxy.sh', { KUBEHA_MASTER_ADDRESSES: '10.0.0.11,10.0.16.11,10.0.32.99' });

    // Assess
    const conf = sandbox.read('etc/kubeha/apiserver-proxy/nginx.conf');
    expect(conf).toContain('server 10.0.32.99:6443');
    expect(conf).not.toContain('10.0.32.11');
    expect(run.calls).toContain('systemctl reload kubeha-apiserver-proxy');
    expect(run.calls).not.toContain('systemctl restart kubeha-apiserver-proxy');
    expect(run.stdout).toContain(`(was ${MASTERS})`);
    expect(run.result).toEqual({ changed: true });
  });

  it('should keep the live configuration when the candidate fails nginx -t', () => {
    // Prepare
    sandbox.run('configure-node-proxy.sh', { KUBEHA_MASTER_ADDRESSES: MASTERS });
    const live = sandbox.read('etc/kubeha/apiserver-proxy/nginx.conf');
    sandbox.stub('nginx', 'echo "nginx: [emerg] unknown directive \\"stream\\"" >&2; exit 1');

    // Act
    const run = sandbox.run('configure-node-proxy.sh', { KUBEHA_MASTER_ADDRESSES: '10.0.0.11' });

    // Assess
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('failed nginx -t; the live configuration was left in place');
    expect(sandbox.read('etc/kubeha/apiserver-proxy/nginx.conf')).toBe(live);
    expect(run.calls.some((call) => call.startsWith('systemctl'))).toBe(false);
  });

  it('should refuse master addresses that are not IPv4 addresses, before writing anything', () => {
    const run = sandbox.run('configure-node-proxy.sh', { KUBEHA_MASTER_ADDRESSES: '10.0.0.11;reboot' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('must be a comma list of IPv4 addresses');
    expect(sandbox.exists('etc/kubeha/apiserver-proxy/nginx.conf')).toBe(false);
    expect(run.calls).toEqual([]);
  });
});

describe('the rendered node proxy with the real nginx', () => {
  const masters = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
  let sandbox: Sandbox;
  let proxyPort: number;
  let apiPort: number;
  let backends: EchoBackends;
  const conf = () => `${sandbox.root}/etc/kubeha/apiserver-proxy/nginx.conf`;

  beforeAll(async () => {
    sandbox = new Sandbox();
    sandbox.file('etc/nginx/modules-enabled/50-mod-stream.conf', 'load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n');
    // systemctl as far as the proxy's unit goes: start and reload the real nginx with the rendered file.
    // Its error log is stderr (the journal under systemd), kept in a file here so the run can end.
    sandbox.stub(
      'systemctl',
      `unit="\${@: -1}"
case "$1 $unit" in
  "is-active kubeha-apiserver-proxy") [[ -f "$ROOT/run/kubeha-apiserver-proxy.pid" ]] && kill -0 "$(cat "$ROOT/run/kubeha-apiserver-proxy.pid")" 2>/dev/null ;;
  "enable kubeha-apiserver-proxy") /usr/sbin/nginx -c "$ROOT/etc/kubeha/apiserver-proxy/nginx.conf" </dev/null >>"$STATE/nginx.log" 2>&1 ;;
  "reload kubeha-apiserver-proxy") /usr/sbin/nginx -s reload -c "$ROOT/etc/kubeha/apiserver-proxy/nginx.conf" ;;
  *) exit 0 ;;
esac`,
    );
    proxyPort = await freePort();
    apiPort = await freePort();
    backends = new EchoBackends(apiPort);
    for (const address of masters) await backends.start(address);
  });

  afterAll(async () => {
    try {
      execFileSync('/usr/sbin/nginx', ['-s', 'quit', '-c', conf()], { stdio: 'pipe' });
    } catch {
      // never started: the first test says why
    }
    await backends.stopAll();
    sandbox.dispose();
  });

  const env = (addresses: string[]) => ({ KUBEHA_MASTER_ADDRESSES: addresses.join(','), KUBEHA_NODE_PROXY_PORT: String(proxyPort), KUBEHA_APISERVER_PORT: String(apiPort) });

  it('should pass nginx -t, listen on 127.0.0.1 only and forward to every master', async () => {
    // Act
    const run = sandbox.run('configure-node-proxy.sh', env(masters));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const answers: (string | undefined)[] = [];
    for (let index = 0; index < 30; index += 1) answers.push(await whoAnswers(proxyPort, 4000));

    // Assess
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(answers.filter((answer) => answer === undefined)).toEqual([]);
    expect(new Set(answers)).toEqual(new Set(masters));
    expect(execFileSync('ss', ['-Htln', `sport = :${proxyPort}`], { encoding: 'utf8' })).toMatch(new RegExp(`127\\.0\\.0\\.1:${proxyPort}\\b`));
  });

  it('should answer every request while one master is down, from the others', async () => {
    // Act: a master dies (its listener closes, its connections drop).
    await backends.stop('127.0.0.4');
    const answers: (string | undefined)[] = [];
    for (let index = 0; index < 30; index += 1) answers.push(await whoAnswers(proxyPort, 4000));

    // Assess: nginx retries a refused connect on the next upstream, so no client sees the dead master.
    expect(answers.filter((answer) => answer === undefined)).toEqual([]);
    expect(new Set(answers)).toEqual(new Set(['127.0.0.2', '127.0.0.3']));
  });

  it('should follow a replaced master after a reload, keeping an established watch', async () => {
    // Prepare: a long-lived connection, like the kubelet's watch.
    const watch = connect(proxyPort, '127.0.0.1');
    const replies: string[] = [];
    watch.on('data', (data) => replies.push(data.toString()));
    await new Promise((resolve, reject) => watch.once('connect', resolve).once('error', reject));
    watch.write('before');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await backends.start('127.0.0.5');

    // Act
    const run = sandbox.run('configure-node-proxy.sh', env(['127.0.0.2', '127.0.0.3', '127.0.0.5']));
    await new Promise((resolve) => setTimeout(resolve, 500));
    watch.write('after');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const answers = new Set<string | undefined>();
    for (let index = 0; index < 15; index += 1) answers.add(await whoAnswers(proxyPort, 4000));

    // Assess
    expect(run.calls).toContain('systemctl reload kubeha-apiserver-proxy');
    expect(replies.join('|')).toMatch(/before.*after/);
    expect(watch.destroyed).toBe(false);
    watch.destroy();
    expect(answers).toContain('127.0.0.5');
    expect(answers).not.toContain(undefined);
  });
});
