// probe-load-balancer.sh against the real nginx that configure-load-balancer.sh renders, in front of two
// TLS "API servers" on 127.0.0.2-3 answering /livez: healthy while an API server answers through nginx,
// unhealthy when nginx hangs (it still accepts connections from its backlog), when it is stopped, and
// when no API server is left behind it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/echo-backends.js';
import { Sandbox } from './sandbox.js';

describe('probe-load-balancer.sh with the real nginx of a load balancer', () => {
  const masters = ['127.0.0.2', '127.0.0.3'];
  let sandbox: Sandbox;
  let listenPort: number;
  let apiPort: number;
  // In their own process: the script runs through spawnSync, which blocks this process's event loop.
  const apiServers: ChildProcess[] = [];
  const startApiServer = async (address: string): Promise<ChildProcess> => {
    const program = `require('node:https').createServer({ key: require('node:fs').readFileSync(process.argv[1]), cert: require('node:fs').readFileSync(process.argv[2]) },
      (request, response) => response.end(request.url === '/livez' ? 'ok' : 'not found')).listen(Number(process.argv[3]), process.argv[4], () => console.log('listening'));`;
    const child = spawn(process.execPath, ['-e', program, `${sandbox.directory}/api.key`, `${sandbox.directory}/api.crt`, String(apiPort), address], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`the API server on ${address} exited with ${code}`)));
    });
    return child;
  };
  const stopApiServer = (child: ChildProcess) => new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve).kill()));
  const conf = () => `${sandbox.root}/etc/nginx/nginx.conf`;
  const probe = () => sandbox.run('probe-load-balancer.sh', { KUBEHA_LISTEN_PORT: String(listenPort) });

  beforeAll(async () => {
    sandbox = new Sandbox();
    sandbox.file('etc/nginx/modules-enabled/50-mod-stream.conf', 'load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n');
    sandbox.stub(
      'systemctl',
      `unit="\${@: -1}"
case "$1 $unit" in
  "is-active nginx") [[ -f "$ROOT/run/nginx.pid" ]] && kill -0 "$(cat "$ROOT/run/nginx.pid")" 2>/dev/null ;;
  "enable nginx") /usr/sbin/nginx -c "$ROOT/etc/nginx/nginx.conf" ;;
  "reload nginx") /usr/sbin/nginx -s reload -c "$ROOT/etc/nginx/nginx.conf" ;;
  *) exit 0 ;;
esac`,
    );
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=kube-apiserver', '-days', '1', '-keyout', `${sandbox.directory}/api.key`, '-out', `${sandbox.directory}/api.crt`], { stdio: 'pipe' });
    listenPort = await freePort();
    apiPort = await freePort();
    for (const address of masters) apiServers.push(await startApiServer(address));
    const run = sandbox.run('configure-load-balancer.sh', {
      KUBEHA_CLUSTER_NAME: 'demo',
      KUBEHA_LOAD_BALANCER_ADDRESSES: '10.0.0.5,10.0.16.5',
      KUBEHA_EIP_ALLOCATION_ID: 'eipalloc-0abc12345def67890',
      KUBEHA_REGION: 'eu-west-1',
      KUBEHA_INTERFACE: 'ens5',
      KUBEHA_SELF_IP: '10.0.0.5',
      KUBEHA_MASTER_ADDRESSES: masters.join(','),
      KUBEHA_LISTEN_PORT: String(listenPort),
      KUBEHA_APISERVER_PORT: String(apiPort),
      KUBEHA_HEALTH_PORT: String(await freePort()),
    });
    if (run.status !== 0) throw new Error(`configure-load-balancer.sh failed: ${run.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  });

  afterAll(async () => {
    try {
      execFileSync('/usr/sbin/nginx', ['-s', 'quit', '-c', conf()], { stdio: 'pipe' });
    } catch {
      // stopped by the last test already
    }
    for (const server of apiServers) await stopApiServer(server);
    sandbox.dispose();
  });

  it('should report healthy while an API server answers /livez through nginx', () => {
    const run = probe();
    expect(run.status).toBe(0);
    expect(run.result).toEqual({ healthy: true, reason: '' });
  });

  it('should report a hung nginx as unhealthy within the probe timeout, and healthy again once it resumes', () => {
    // Prepare: nginx hangs (every process stopped): connects still succeed from the listen backlog.
    const master = sandbox.read('run/nginx.pid').trim();
    const processes = [master, ...execFileSync('pgrep', ['-P', master], { encoding: 'utf8' }).split('\n').filter(Boolean)];

    // Act
    for (const pid of processes) process.kill(Number(pid), 'SIGSTOP');
    let hung: ReturnType<typeof probe>;
    const started = Date.now();
    try {
      hung = probe();
    } finally {
      for (const pid of processes) process.kill(Number(pid), 'SIGCONT');
    }
    const took = Date.now() - started;
    const resumed = probe();

    // Assess
    expect(hung.status).toBe(0);
    expect(hung.result).toEqual({ healthy: false, reason: 'no API server answered /livez through nginx in 3 tries of 3 s' });
    // Three tries of curl's 3 s --max-time, a second apart.
    expect(took).toBeGreaterThanOrEqual(9_000);
    expect(took).toBeLessThan(15_000);
    expect(resumed.result).toEqual({ healthy: true, reason: '' });
  });

  it('should ride out a crash that its unit repairs: healthy when nginx is back within its three tries', () => {
    // Prepare: nginx gone; "systemd" starts it again a second later (RestartSec is 100 ms; the test is slower).
    execFileSync('/usr/sbin/nginx', ['-s', 'quit', '-c', conf()], { stdio: 'pipe' });
    execFileSync('bash', ['-c', `for i in $(seq 50); do [[ -f '${sandbox.root}/run/nginx.pid' ]] || exit 0; sleep 0.1; done`]);
    spawn('bash', ['-c', `sleep 1; exec /usr/sbin/nginx -c '${conf()}'`], { stdio: 'ignore', detached: true }).unref();

    // Act
    const run = probe();

    // Assess
    expect(run.result).toEqual({ healthy: true, reason: '' });
  });

  it('should report unhealthy when no API server is left behind nginx', async () => {
    // Act
    for (const server of apiServers.splice(0)) await stopApiServer(server);
    const run = probe();

    // Assess
    expect(run.result).toEqual({ healthy: false, reason: 'no API server answered /livez through nginx in 3 tries of 3 s' });
  });

  it('should report a stopped nginx as not running once all three tries found it stopped', () => {
    // Act
    execFileSync('/usr/sbin/nginx', ['-s', 'quit', '-c', conf()], { stdio: 'pipe' });
    execFileSync('bash', ['-c', `for i in $(seq 50); do [[ -f '${sandbox.root}/run/nginx.pid' ]] || exit 0; sleep 0.1; done`]);
    const run = probe();

    // Assess
    expect(run.result).toEqual({ healthy: false, reason: 'nginx is not running' });
  });
});
