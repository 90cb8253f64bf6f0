import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { availableParallelism } from 'node:os';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EchoBackends, freePort, whoAnswers } from '../support/echo-backends.js';
import { Sandbox } from './sandbox.js';

const BASE_ENV = {
  KUBEHA_CLUSTER_NAME: 'demo',
  KUBEHA_LOAD_BALANCER_ADDRESSES: '10.0.0.5,10.0.16.5',
  KUBEHA_EIP_ALLOCATION_ID: 'eipalloc-0abc12345def67890',
  KUBEHA_REGION: 'eu-west-1',
  KUBEHA_INTERFACE: 'ens5',
};

function normalized(text: string, sandbox: Sandbox): string {
  return text.replaceAll(sandbox.root, '<KUBEHA_ROOT>');
}

describe('configure-load-balancer.sh renders', () => {
  let sandbox: Sandbox;

  beforeEach(() => {
    sandbox = new Sandbox();
    sandbox.stub('nginx');
    sandbox.stub('systemctl', '[[ "$1" == "is-active" ]] && exit 3; exit 0');
  });
  afterEach(() => sandbox.dispose());

  it('should render the primary nginx and keepalived configuration (golden files)', async () => {
    const run = sandbox.run('configure-load-balancer.sh', {
      ...BASE_ENV,
      KUBEHA_SELF_IP: '10.0.0.5',
      KUBEHA_MASTER_ADDRESSES: '10.0.0.11,10.0.16.11,10.0.32.11',
      KUBEHA_LISTEN_PORT: '6443',
    });
    expect(run.stderr).toBe('');
    expect(run.result).toEqual({ changed: true, role: 'primary' });
    await expect(normalized(sandbox.read('etc/nginx/nginx.conf'), sandbox)).toMatchFileSnapshot('../golden/nginx.conf');
    await expect(sandbox.read('etc/keepalived/keepalived.conf')).toMatchFileSnapshot('../golden/keepalived-primary.conf');
    await expect(normalized(sandbox.read('etc/keepalived/kubeha-notify.sh'), sandbox)).toMatchFileSnapshot('../golden/kubeha-notify.sh');
    await expect(normalized(sandbox.read('etc/keepalived/kubeha-check.sh'), sandbox)).toMatchFileSnapshot('../golden/kubeha-check.sh');
    await expect(sandbox.read('etc/systemd/system/nginx.service.d/kubeha-restart.conf')).toMatchFileSnapshot('../golden/nginx-kubeha-restart.conf');
    expect(run.calls).toEqual([
      expect.stringMatching(/^nginx -t -q -c .*nginx\.conf\.kubeha-candidate$/),
      'systemctl daemon-reload',
      'systemctl is-active --quiet nginx',
      'systemctl enable --now nginx',
      'systemctl is-active --quiet keepalived',
      'systemctl enable --now keepalived',
    ]);
  });

  it('should write a keepalived.conf that real keepalived accepts, but for the by-design absence of a VIP', () => {
    // Prepare: keepalived checks the interface exists, so use one this machine has.
    const interfaceName = execFileSync('ip', ['-o', 'link', 'show', 'up'], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.split(': ')[1]?.split('@')[0])
      .find((name) => name && name !== 'lo');
    sandbox.run('configure-load-balancer.sh', { ...BASE_ENV, KUBEHA_INTERFACE: interfaceName ?? 'eth0', KUBEHA_SELF_IP: '10.0.0.5', KUBEHA_MASTER_ADDRESSES: '10.0.0.11', KUBEHA_LISTEN_PORT: '6443' });
    const log = `${sandbox.directory}/keepalived-test.log`;

    // Act
    try {
      execFileSync('keepalived', [`--config-test=${log}`, '-f', `${sandbox.root}/etc/keepalived/keepalived.conf`], { stdio: 'pipe' });
    } catch {
      // keepalived exits non-zero on warnings too; the log says which
    }

    // Assess: the Elastic IP is moved by the notify script, so there is no VIP; the check script
    // lives under /etc on a node, not in this sandbox. Anything else would be a real problem.
    const problems = readFileSync(log, 'utf8')
      .split('\n')
      .filter((line) => line && !line.includes('No VIP specified') && !/Disabling track script kubeha_(nginx_alive|claim_elastic_ip) since not found/.test(line));
    expect(problems).toEqual([]);
  });

  it('should make the second address a lower-priority standby peering with the first', () => {
    sandbox.run('configure-load-balancer.sh', { ...BASE_ENV, KUBEHA_SELF_IP: '10.0.16.5', KUBEHA_MASTER_ADDRESSES: '10.0.0.11', KUBEHA_LISTEN_PORT: '6443' });
    const keepalived = sandbox.read('etc/keepalived/keepalived.conf');
    expect(keepalived).toContain('priority 100');
    expect(keepalived).toContain('unicast_src_ip 10.0.16.5');
    expect(keepalived).toMatch(/unicast_peer \{\n\s+10\.0\.0\.5\n\s+\}/);
    expect(keepalived).toContain('nopreempt');
  });

  it('should keep the live configuration when the candidate fails nginx -t', () => {
    sandbox.file('etc/nginx/nginx.conf', '# the live configuration\n');
    sandbox.stub('nginx', 'echo "nginx: [emerg] unknown directive" >&2; exit 1');
    const run = sandbox.run('configure-load-balancer.sh', { ...BASE_ENV, KUBEHA_SELF_IP: '10.0.0.5', KUBEHA_MASTER_ADDRESSES: '10.0.0.11', KUBEHA_LISTEN_PORT: '6443' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('failed nginx -t; the live configuration was left in place');
    expect(sandbox.read('etc/nginx/nginx.conf')).toBe('# the live configuration\n');
    expect(run.calls.some((call) => call.startsWith('systemctl'))).toBe(false);
  });

  it('should refuse to run on a node that is not one of the load balancers', () => {
    const run = sandbox.run('configure-load-balancer.sh', { ...BASE_ENV, KUBEHA_SELF_IP: '10.0.99.9', KUBEHA_MASTER_ADDRESSES: '10.0.0.11', KUBEHA_LISTEN_PORT: '6443' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('this node (10.0.99.9) is not among KUBEHA_LOAD_BALANCER_ADDRESSES');
  });
});

describe('configure-load-balancer.sh with real nginx in front of three local backends', () => {
  let sandbox: Sandbox;
  let backends: EchoBackends;
  let listenPort: number;
  let healthPort: number;
  const masters = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
  const env = (masterAddresses: string) => ({
    ...BASE_ENV,
    KUBEHA_SELF_IP: '10.0.0.5',
    KUBEHA_MASTER_ADDRESSES: masterAddresses,
    KUBEHA_LISTEN_PORT: String(listenPort),
    KUBEHA_APISERVER_PORT: String(backends.port),
    KUBEHA_HEALTH_PORT: String(healthPort),
  });

  beforeAll(async () => {
    sandbox = new Sandbox();
    sandbox.file('etc/nginx/modules-enabled/50-mod-stream.conf', 'load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n');
    const conf = `${sandbox.root}/etc/nginx/nginx.conf`;
    sandbox.stub(
      'systemctl',
      `unit="\${@: -1}"
case "$1 $unit" in
  "is-active nginx") [[ -f "$ROOT/run/nginx.pid" ]] && kill -0 "$(cat "$ROOT/run/nginx.pid")" 2>/dev/null ;;
  "enable nginx") /usr/sbin/nginx -c '${conf}' ;;
  "reload nginx") /usr/sbin/nginx -s reload -c '${conf}' ;;
  "is-active keepalived") [[ -f "$STATE/keepalived" ]] ;;
  *) touch "$STATE/keepalived" ;;
esac`,
    );
    listenPort = await freePort();
    healthPort = await freePort();
    backends = new EchoBackends(await freePort());
    for (const address of masters) await backends.start(address);
  });

  afterAll(async () => {
    try {
      execFileSync('/usr/sbin/nginx', ['-s', 'quit', '-c', `${sandbox.root}/etc/nginx/nginx.conf`], { stdio: 'pipe' });
    } catch {
      // nginx was never started, which the first test would have reported
    }
    for (const address of [...backends.servers.keys()]) await backends.stop(address);
    sandbox.dispose();
  });

  it('should pass nginx -t, start nginx and spread connections over every master', async () => {
    // Act
    const run = sandbox.run('configure-load-balancer.sh', env(masters.join(',')));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const answers: (string | undefined)[] = [];
    for (let index = 0; index < 30; index += 1) answers.push(await whoAnswers(listenPort));

    // Assess
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(answers.filter((answer) => answer === undefined)).toHaveLength(0);
    expect(new Set(answers)).toEqual(new Set(masters));
  });

  it('should lose at most one connection when a master dies, then route only to the living', async () => {
    // Act
    await backends.stop('127.0.0.4');
    const answers: (string | undefined)[] = [];
    for (let index = 0; index < 30; index += 1) answers.push(await whoAnswers(listenPort));

    // Assess
    expect(answers.filter((answer) => answer === undefined).length).toBeLessThanOrEqual(1);
    expect(answers.slice(1).every((answer) => answer === '127.0.0.2' || answer === '127.0.0.3')).toBe(true);
  });

  it('should reload re-rendered upstreams without dropping an established connection', async () => {
    // Prepare: a long-lived connection, like a kubectl watch.
    const watch = connect(listenPort, '127.0.0.1');
    const replies: string[] = [];
    watch.on('data', (data) => replies.push(data.toString()));
    await new Promise((resolve) => watch.once('connect', resolve));
    watch.write('before');
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Act: the dead master is replaced by a new address.
    await backends.start('127.0.0.5');
    const run = sandbox.run('configure-load-balancer.sh', env('127.0.0.2,127.0.0.3,127.0.0.5'));
    await new Promise((resolve) => setTimeout(resolve, 500));
    watch.write('after');
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Assess
    expect(run.calls).toContain('systemctl reload nginx');
    expect(sandbox.read('etc/nginx/nginx.conf')).not.toContain('127.0.0.4');
    expect(replies.join('|')).toMatch(/before\|?.*after/);
    expect(watch.destroyed).toBe(false);
    watch.destroy();
    const answers = new Set<string | undefined>();
    for (let index = 0; index < 12; index += 1) answers.add(await whoAnswers(listenPort));
    expect(answers).toContain('127.0.0.5');
  });

  it('should leave nginx alone when nothing changed', () => {
    const run = sandbox.run('configure-load-balancer.sh', env('127.0.0.2,127.0.0.3,127.0.0.5'));
    expect(run.stdout).toContain('configuration unchanged, nothing to do');
    expect(run.result).toEqual({ changed: false, role: 'primary' });
    expect(run.calls).not.toContain('systemctl reload nginx');
    expect(run.calls).not.toContain('systemctl daemon-reload');
  });

  it("should fail keepalived's check while nginx hangs, which a bare connect to the API port would not notice", () => {
    // Prepare
    const check = () => spawnSync('bash', [`${sandbox.root}/etc/keepalived/kubeha-check.sh`], { encoding: 'utf8', timeout: 10_000 });
    const bareConnect = () => spawnSync('timeout', ['2', 'bash', '-c', `</dev/tcp/127.0.0.1/${listenPort}`]);
    const master = sandbox.read('run/nginx.pid').trim();
    const processes = [master, ...execFileSync('pgrep', ['-P', master], { encoding: 'utf8' }).split('\n').filter(Boolean)];
    const healthy = check();

    // Act: nginx hangs (every process stopped), then resumes.
    for (const pid of processes) process.kill(Number(pid), 'SIGSTOP');
    let hung: ReturnType<typeof check>;
    let bare: ReturnType<typeof bareConnect>;
    const started = Date.now();
    try {
      hung = check();
      bare = bareConnect();
    } finally {
      for (const pid of processes) process.kill(Number(pid), 'SIGCONT');
    }
    const took = Date.now() - started;
    const resumed = check();

    // Assess
    expect(healthy.status).toBe(0);
    expect(hung.status).not.toBe(0);
    expect(took).toBeLessThan(6_000);
    expect(bare.status).toBe(0);
    expect(resumed.status).toBe(0);
  });
});

/**
 * Opens `count` connections through the proxy and keeps them all open, like watches; resolves with how
 * many got an answer, stopping at the first batch with a refusal. They open 100 at a time, so that neither
 * nginx's nor the backend's listen backlog is what refuses them.
 */
async function holdWatches(port: number, count: number): Promise<{ answered: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  let answered = 0;
  for (let opened = 0; opened < count; opened += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, count - opened) }, () =>
        new Promise<boolean>((resolve) => {
          const socket = connect(port, '127.0.0.1');
          sockets.push(socket);
          const timer = setTimeout(() => resolve(false), 3_000);
          socket.on('connect', () => socket.write('watch'));
          socket.once('data', () => {
            clearTimeout(timer);
            resolve(true);
          });
          socket.on('error', () => {
            clearTimeout(timer);
            resolve(false);
          });
          socket.on('close', () => {
            clearTimeout(timer);
            resolve(false);
          });
        }),
      ),
    );
    answered += batch.filter(Boolean).length;
    // Once one is refused the proxy is full: the rest would only wait for their timeouts.
    if (batch.includes(false)) break;
  }
  return { answered, sockets };
}

describe('configure-load-balancer.sh nginx under the file limit systemd gives services', () => {
  // systemd starts services with a soft limit of 1024 descriptors (DefaultLimitNOFILE=1024:524288).
  const SERVICE_SOFT_LIMIT = 1024;
  let sandbox: Sandbox;
  let backends: EchoBackends;
  let listenPort: number;
  let healthPort: number;
  const started: string[] = [];

  /** Starts nginx from a config file the way systemd would, with the service's soft descriptor limit. */
  function startNginx(conf: string): void {
    execFileSync('bash', ['-c', `ulimit -Sn ${SERVICE_SOFT_LIMIT} && exec /usr/sbin/nginx -c "$1"`, 'nginx', conf], { stdio: 'pipe' });
    started.push(conf);
  }

  beforeAll(async () => {
    sandbox = new Sandbox();
    sandbox.file('etc/nginx/modules-enabled/50-mod-stream.conf', 'load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n');
    sandbox.stub('systemctl', '[[ "$1" == "is-active" ]] && exit 3; exit 0');
    listenPort = await freePort();
    healthPort = await freePort();
    backends = new EchoBackends(await freePort());
    await backends.start('127.0.0.2');
    const run = sandbox.run('configure-load-balancer.sh', {
      ...BASE_ENV,
      KUBEHA_SELF_IP: '10.0.0.5',
      KUBEHA_MASTER_ADDRESSES: '127.0.0.2',
      KUBEHA_LISTEN_PORT: String(listenPort),
      KUBEHA_APISERVER_PORT: String(backends.port),
      KUBEHA_HEALTH_PORT: String(healthPort),
    });
    expect(run.status).toBe(0);
  });

  afterAll(async () => {
    for (const conf of started) {
      try {
        execFileSync('/usr/sbin/nginx', ['-s', 'stop', '-c', conf], { stdio: 'pipe' });
      } catch {
        // not running
      }
    }
    await backends.stop('127.0.0.2');
    sandbox.dispose();
  });

  it('should hold more watches than workers limited to the service soft limit could, each worker keeping two descriptors per watch', async () => {
    // Prepare: more watches than every worker together could hold at 1024 descriptors (≈ 512 watches each).
    const workers = availableParallelism();
    const watches = workers * (SERVICE_SOFT_LIMIT / 2) + 300;
    const rendered = sandbox.read('etc/nginx/nginx.conf');
    expect(rendered).toContain('worker_rlimit_nofile 8192;');
    startNginx(`${sandbox.root}/etc/nginx/nginx.conf`);
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Act
    const held = await holdWatches(listenPort, watches);
    for (const socket of held.sockets) socket.destroy();

    // Assess
    expect(held.answered).toBe(watches);
  });

  it('would have refused some of them without worker_rlimit_nofile (the configuration kubeha rendered before)', async () => {
    // Prepare: the same configuration without the line, on another port.
    const oldPort = await freePort();
    const oldHealthPort = await freePort();
    const oldConf = sandbox.file(
      'etc/nginx/nginx-without-rlimit.conf',
      sandbox
        .read('etc/nginx/nginx.conf')
        .replace(/^worker_rlimit_nofile .*\n/m, '')
        .replace(`listen ${listenPort};`, `listen ${oldPort};`)
        .replace(`listen 127.0.0.1:${healthPort};`, `listen 127.0.0.1:${oldHealthPort};`)
        .replace(/^pid .*$/m, `pid ${sandbox.root}/run/nginx-old.pid;`),
    );
    const watches = availableParallelism() * (SERVICE_SOFT_LIMIT / 2) + 300;
    startNginx(oldConf);
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Act
    const held = await holdWatches(oldPort, watches);
    for (const socket of held.sockets) socket.destroy();

    // Assess
    expect(held.answered).toBeLessThan(watches);
  });
});

describe("keepalived's notify script", () => {
  let sandbox: Sandbox;
  function runNotify(argument: string) {
    const child = spawnSync('bash', [`${sandbox.root}/etc/keepalived/kubeha-notify.sh`, argument], {
      encoding: 'utf8',
      env: { PATH: `${sandbox.bin}:/usr/bin:/bin` },
      timeout: 30_000,
    });
    return { status: child.status, calls: sandbox.allCalls().split('\n').filter((line) => line.startsWith('aws ')) };
  }

  beforeEach(() => {
    sandbox = new Sandbox();
    sandbox.stub('nginx');
    sandbox.stub('systemctl', '[[ "$1" == "is-active" ]] && exit 3; exit 0');
    sandbox.stub('logger');
    sandbox.stub('sleep');
    sandbox.stub('curl', '[[ " $* " == *" -X PUT "* ]] && echo token || echo i-0aaaaaaaaaaaaaaaa');
    // keepalived puts its marker address on lo on entering MASTER and removes it on leaving, and when it starts.
    sandbox.stub(
      'ip',
      `[[ "$*" == "-o -4 addr show dev lo to 192.0.2.1/32" ]] || { echo "unexpected ip call: $*" >&2; exit 2; }
[[ "$(cat "$ROOT/run/kubeha/vrrp-state" 2>/dev/null)" == MASTER && ! -f "$STATE/keepalived-restarted" ]] && echo '1: lo    inet 192.0.2.1/32 scope global lo'
exit 0`,
    );
    sandbox.stub(
      'aws',
      `case "$2" in
  describe-addresses) cat "$STATE/holder" ;;
  associate-address) [[ -f "$STATE/aws-down" ]] && exit 255; echo i-0aaaaaaaaaaaaaaaa >"$STATE/holder" ;;
esac`,
    );
    sandbox.file('../state/holder', 'i-0bbbbbbbbbbbbbbbb\n');
    const run = sandbox.run('configure-load-balancer.sh', { ...BASE_ENV, KUBEHA_SELF_IP: '10.0.0.5', KUBEHA_MASTER_ADDRESSES: '10.0.0.11', KUBEHA_LISTEN_PORT: '6443' });
    expect(run.status).toBe(0);
  });
  afterEach(() => sandbox.dispose());

  it('should claim the Elastic IP again while MASTER when it finds it on the other load balancer (a healed partition runs no new notify_master)', () => {
    runNotify('MASTER');
    sandbox.file('../state/holder', 'i-0bbbbbbbbbbbbbbbb\n');

    const reassert = runNotify('REASSERT');

    expect(reassert.status).toBe(0);
    expect(reassert.calls.filter((call) => call.includes('associate-address'))).toHaveLength(2);
    expect(sandbox.read('../state/holder')).toBe('i-0aaaaaaaaaaaaaaaa\n');
  });

  it('should leave the Elastic IP alone while BACKUP, and only look when MASTER already holds it', () => {
    runNotify('MASTER');
    const holding = runNotify('REASSERT');
    const callsWhileHolding = holding.calls.length;
    runNotify('BACKUP');
    sandbox.file('../state/holder', 'i-0bbbbbbbbbbbbbbbb\n');

    const asBackup = runNotify('REASSERT');

    expect(holding.calls.filter((call) => call.includes('associate-address'))).toHaveLength(1);
    expect(asBackup.calls).toHaveLength(callsWhileHolding);
    expect(sandbox.read('../state/holder')).toBe('i-0bbbbbbbbbbbbbbbb\n');
  });

  it('should leave the Elastic IP alone when keepalived died as MASTER and started again, before its first transition', () => {
    // Prepare: the file still says MASTER, but the running keepalived has not become MASTER (no marker address).
    runNotify('MASTER');
    sandbox.file('../state/holder', 'i-0bbbbbbbbbbbbbbbb\n');
    sandbox.file('../state/keepalived-restarted', '');
    const before = sandbox.allCalls().split('\n').filter((line) => line.startsWith('aws ')).length;

    // Act
    const reassert = runNotify('REASSERT');

    // Assess
    expect(reassert.status).toBe(0);
    expect(reassert.calls).toHaveLength(before);
    expect(sandbox.read('../state/holder')).toBe('i-0bbbbbbbbbbbbbbbb\n');
  });

  it('should never fail a REASSERT, which would put the VRRP instance in FAULT, even when AWS does not answer', () => {
    runNotify('MASTER');
    sandbox.file('../state/holder', 'i-0bbbbbbbbbbbbbbbb\n');
    sandbox.file('../state/aws-down', '');

    expect(runNotify('REASSERT').status).toBe(0);
    expect(runNotify('MASTER').status).toBe(1);
  });
});
