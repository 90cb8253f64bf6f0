// The load-balancer pair for real: keepalived and nginx, with the configurations configure-load-balancer.sh
// renders, in two network namespaces joined by a veth pair (10.251.0.1 and .2, addresses this test
// creates). The Elastic IP is a shared file that the `aws` stub reads (describe-addresses) and writes
// (associate-address); IMDS is a `curl` stub that names each node's instance.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from './sandbox.js';

const SUFFIX = `${process.pid % 10000}${Math.floor(Math.random() * 1000)}`;
const ADDRESSES = ['10.251.0.1', '10.251.0.2'] as const;

interface Balancer {
  readonly name: string;
  readonly namespace: string;
  readonly device: string;
  readonly ip: string;
  readonly instanceId: string;
  readonly sandbox: Sandbox;
  keepalived?: ChildProcess;
}

function inNamespace(namespace: string, command: string, args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', namespace, command, ...args], { encoding: 'utf8', stdio: 'pipe' });
}

async function until(what: string, condition: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Date.now() - started;
}

describe('the load-balancer pair in network namespaces (real keepalived and nginx)', () => {
  const eipFile = `/tmp/kubeha-eip-${SUFFIX}`;
  const balancers: Balancer[] = ADDRESSES.map((ip, index) => ({
    name: index === 0 ? 'primary' : 'standby',
    namespace: `kubeha-lb${index}-${SUFFIX}`,
    device: `khv${index}${SUFFIX}`.slice(0, 15),
    ip,
    instanceId: `i-0${String(index + 1).repeat(16)}`,
    sandbox: new Sandbox(),
  }));
  const holder = () => (existsSync(eipFile) ? readFileSync(eipFile, 'utf8').trim() : '');
  const state = (balancer: Balancer) => {
    const file = join(balancer.sandbox.root, 'run/kubeha/vrrp-state');
    return existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  };
  const [primary, standby] = balancers as [Balancer, Balancer];

  function partition(on: boolean): void {
    // Everything between the two load balancers is VRRP. A neighbour entry with a MAC address nobody
    // has makes each side's packets to the other vanish (keepalived binds to the interface, so a
    // blackhole route would not); deleting it lets ARP find the real one again.
    for (const [self, peer] of [[primary, standby], [standby, primary]] as const) {
      const args = on ? ['replace', peer.ip, 'lladdr', '02:00:5e:00:00:fe', 'nud', 'permanent', 'dev', self.device] : ['del', peer.ip, 'dev', self.device];
      execFileSync('ip', ['-n', self.namespace, 'neigh', ...args]);
    }
  }

  beforeAll(async () => {
    for (const balancer of balancers) execFileSync('ip', ['netns', 'add', balancer.namespace]);
    execFileSync('ip', ['link', 'add', primary.device, 'type', 'veth', 'peer', 'name', standby.device]);
    for (const balancer of balancers) {
      const { namespace, device, sandbox } = balancer;
      execFileSync('ip', ['link', 'set', device, 'netns', namespace]);
      execFileSync('ip', ['-n', namespace, 'addr', 'add', `${balancer.ip}/24`, 'dev', device]);
      execFileSync('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
      execFileSync('ip', ['-n', namespace, 'link', 'set', device, 'up']);

      sandbox.file('etc/nginx/modules-enabled/50-mod-stream.conf', 'load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n');
      sandbox.stub('systemctl', '[[ "$1" == "is-active" ]] && exit 3; exit 0');
      sandbox.stub('curl', `[[ " $* " == *" -X PUT "* ]] && echo token || echo ${balancer.instanceId}`);
      sandbox.stub('logger');
      sandbox.stub(
        'aws',
        `case "$2" in
  describe-addresses) cat '${eipFile}' 2>/dev/null || echo None ;;
  associate-address) for ((i = 1; i <= $#; i++)); do if [[ "\${!i}" == "--instance-id" ]]; then j=$((i + 1)); echo "\${!j}" >'${eipFile}'; fi; done ;;
esac`,
      );
      const run = sandbox.run('configure-load-balancer.sh', {
        KUBEHA_CLUSTER_NAME: 'pair',
        KUBEHA_MASTER_ADDRESSES: '10.251.0.100',
        KUBEHA_LOAD_BALANCER_ADDRESSES: ADDRESSES.join(','),
        KUBEHA_LISTEN_PORT: '6443',
        KUBEHA_EIP_ALLOCATION_ID: 'eipalloc-0abc12345def67890',
        KUBEHA_REGION: 'eu-west-1',
        KUBEHA_SELF_IP: balancer.ip,
        KUBEHA_INTERFACE: device,
      });
      expect(run.status).toBe(0);
      // On a node the scripts live under /etc/keepalived; here they live in the sandbox, under /tmp,
      // which keepalived's script security would refuse as world-writable.
      const conf = join(sandbox.root, 'etc/keepalived/keepalived.conf');
      writeFileSync(
        conf,
        readFileSync(conf, 'utf8')
          .replaceAll('"/etc/keepalived/', `"${sandbox.root}/etc/keepalived/`)
          .replace(/^\s*enable_script_security\n/m, ''),
      );
      inNamespace(namespace, '/usr/sbin/nginx', ['-c', join(sandbox.root, 'etc/nginx/nginx.conf')]);
      startKeepalived(balancer);
    }
  });

  function startKeepalived(balancer: Balancer): void {
    const { namespace, sandbox } = balancer;
    const log = openSync(join(sandbox.directory, 'keepalived.log'), 'a');
    balancer.keepalived = spawn(
      'ip',
      ['netns', 'exec', namespace, 'env', `PATH=${sandbox.bin}:/usr/sbin:/usr/bin:/sbin:/bin`, 'keepalived', '-n', '-l', '-D',
        '-f', join(sandbox.root, 'etc/keepalived/keepalived.conf'),
        '-p', join(sandbox.directory, 'keepalived.pid'), '-r', join(sandbox.directory, 'vrrp.pid'), '-c', join(sandbox.directory, 'checkers.pid')],
      { stdio: ['ignore', log, log] },
    );
  }

  /** Stops keepalived on a node: SIGTERM is a graceful stop (it tells its peer), SIGKILL a hard failure (it says nothing). */
  async function stopKeepalived(balancer: Balancer, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const pids = [join(balancer.sandbox.directory, 'vrrp.pid'), join(balancer.sandbox.directory, 'checkers.pid'), join(balancer.sandbox.directory, 'keepalived.pid')]
      .filter((file) => existsSync(file))
      .map((file) => Number(readFileSync(file, 'utf8').trim()));
    for (const pid of signal === 'SIGKILL' ? pids : pids.slice(-1)) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
    await new Promise((resolve) => balancer.keepalived?.once('exit', resolve) ?? resolve(undefined));
  }

  afterAll(() => {
    for (const balancer of balancers) {
      balancer.keepalived?.kill('SIGTERM');
      try {
        inNamespace(balancer.namespace, '/usr/sbin/nginx', ['-s', 'stop', '-c', join(balancer.sandbox.root, 'etc/nginx/nginx.conf')]);
      } catch {
        // nginx was not running
      }
    }
    for (const balancer of balancers) {
      try {
        execFileSync('ip', ['netns', 'del', balancer.namespace]);
      } catch {
        // never created
      }
      balancer.sandbox.dispose();
    }
    execFileSync('rm', ['-f', eipFile]);
  });

  it('should put the Elastic IP on the primary once keepalived elects it', async () => {
    const took = await until('the primary holding the Elastic IP as MASTER', () => holder() === primary.instanceId && state(primary) === 'MASTER', 20_000);

    expect(state(standby)).toBe('BACKUP');
    expect(took).toBeLessThan(20_000);
  });

  it('should bring the Elastic IP back to the MASTER after a VRRP partition heals, though no transition runs notify_master there', async () => {
    // Prepare: the partition makes the standby MASTER too, and it takes the Elastic IP.
    partition(true);
    await until('the standby taking the Elastic IP during the partition', () => holder() === standby.instanceId, 20_000);
    expect(state(primary)).toBe('MASTER');

    // Act: the partition heals; the standby steps down, the primary stays MASTER without a transition.
    partition(false);
    await until('the standby stepping down', () => state(standby) === 'BACKUP', 20_000);
    const stillOnStandby = holder() === standby.instanceId;
    const tookSeconds = (await until('the Elastic IP back on the MASTER', () => holder() === primary.instanceId, 25_000)) / 1000;

    // Assess
    expect(state(primary)).toBe('MASTER');
    expect(stillOnStandby).toBe(true);
    expect(tookSeconds).toBeLessThanOrEqual(15);
  });

  it('should move the Elastic IP to the standby when nginx on the MASTER dies, within the check interval', async () => {
    // Act
    const started = Date.now();
    inNamespace(primary.namespace, '/usr/sbin/nginx', ['-s', 'stop', '-c', join(primary.sandbox.root, 'etc/nginx/nginx.conf')]);
    await until('the standby holding the Elastic IP', () => holder() === standby.instanceId, 20_000);
    const detectionSeconds = (Date.now() - started) / 1000;

    // Assess
    expect(state(primary)).toBe('FAULT');
    expect(state(standby)).toBe('MASTER');
    expect(detectionSeconds).toBeLessThan(10);
  });

  it('should move the Elastic IP within about three advertisement intervals when the MASTER fails hard', async () => {
    // Prepare: nginx back on the primary, which stays BACKUP (nopreempt) while the standby serves.
    inNamespace(primary.namespace, '/usr/sbin/nginx', ['-c', join(primary.sandbox.root, 'etc/nginx/nginx.conf')]);
    await until('the primary back to BACKUP', () => state(primary) === 'BACKUP', 20_000);
    expect(holder()).toBe(standby.instanceId);

    // Act: keepalived on the MASTER dies without a word.
    const started = Date.now();
    await stopKeepalived(standby, 'SIGKILL');
    await until('the primary holding the Elastic IP', () => holder() === primary.instanceId, 20_000);
    const takeoverSeconds = (Date.now() - started) / 1000;

    // Assess: master_down_interval is 3 x advert_int (1 s) plus skew.
    expect(state(primary)).toBe('MASTER');
    expect(takeoverSeconds).toBeLessThan(6);
  });

  it('should hand the Elastic IP over at once when the MASTER stops gracefully', async () => {
    // Prepare: the standby's keepalived runs again (BACKUP, nopreempt).
    startKeepalived(standby);
    await until('the standby back as BACKUP', () => state(standby) === 'BACKUP', 20_000);

    // Act: a graceful stop sends a priority-0 advertisement, so the peer need not wait for the timeout.
    const started = Date.now();
    await stopKeepalived(primary, 'SIGTERM');
    await until('the standby holding the Elastic IP', () => holder() === standby.instanceId, 20_000);
    const handoverSeconds = (Date.now() - started) / 1000;

    // Assess
    expect(state(primary)).toBe('STOP');
    expect(state(standby)).toBe('MASTER');
    expect(handoverSeconds).toBeLessThan(3);
  });
});
