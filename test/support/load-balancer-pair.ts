// The load-balancer pair for real, shared by test/scripts/load-balancer-pair.test.ts and bench/load-balancer.ts:
// keepalived and nginx with the configurations configure-load-balancer.sh renders, in two network namespaces
// joined by a veth pair (10.251.0.1 and .2, addresses this harness creates). The Elastic IP is a shared file that
// the `aws` stub reads (describe-addresses) and writes (associate-address, logged with its time); IMDS is a
// `curl` stub that names each node's instance. Each namespace has an echo backend standing in for the masters.
//
// There is no systemd here (no PID 1 of ours), so `NginxUnit` plays the part of Debian's nginx.service with
// kubeha's drop-in: it reads Restart= and RestartSec= from the rendered drop-in and restarts nginx as systemd
// would (systemd.service(5), Restart=on-failure: a non-zero exit or a signal other than SIGHUP, SIGINT, SIGTERM
// and SIGPIPE; KillMode=mixed: what is left of the unit, the orphaned workers, is killed before the restart;
// ExecStartPre runs nginx -t). nginx runs with `daemon off` so that this process is its parent; Debian's unit
// lets it fork (Type=forking), which changes who waits for it, not what it does.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../scripts/sandbox.js';

export const ADDRESSES = ['10.251.0.1', '10.251.0.2'] as const;
export const LISTEN_PORT = 6443;
export const HEALTH_PORT = 16443;
const BACKEND_PORT = 7443;
const PEER_SCRIPT = fileURLToPath(new URL('./lb-peer.mjs', import.meta.url));
/** systemd's clean signals for Restart=on-failure (systemd.service(5), "Restart="). */
const CLEAN_SIGNALS = new Set(['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGPIPE']);

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function until(what: string, condition: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await sleep(20);
  }
  return Date.now() - started;
}

/** Lines a long-running helper prints as "<epoch ms> what", kept with their times. */
class Lines {
  readonly lines: { at: number; text: string }[] = [];
  constructor(child: ChildProcess) {
    if (!child.stdout) return;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [at, ...rest] = line.split(' ');
      this.lines.push({ at: Number(at), text: rest.join(' ') });
    });
  }
  since(at: number): { at: number; text: string }[] {
    return this.lines.filter((line) => line.at >= at);
  }
}

/** nginx under a stand-in for systemd with kubeha's drop-in (see the file comment). */
export class NginxUnit {
  private child: ChildProcess | undefined;
  private wanted = false;
  /** Times at which the unit restarted nginx after a failure. */
  readonly restarts: number[] = [];

  constructor(
    private readonly namespace: string,
    private readonly root: string,
  ) {}

  private get conf(): string {
    return join(this.root, 'etc/nginx/nginx.conf');
  }

  /** Restart= and RestartSec= as the rendered drop-in says (systemd's defaults otherwise: no, 100ms). */
  private dropIn(): { restart: string; restartMs: number } {
    const file = join(this.root, 'etc/systemd/system/nginx.service.d/kubeha-restart.conf');
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const restart = /^Restart=(\S+)/m.exec(text)?.[1] ?? 'no';
    const value = /^RestartSec=(\d+(?:\.\d+)?)(ms|s)?$/m.exec(text);
    const restartMs = value ? Number(value[1]) * (value[2] === 'ms' ? 1 : 1000) : 100;
    return { restart, restartMs };
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.wanted = true;
    // ExecStartPre: the unit refuses to start an nginx whose configuration fails nginx -t.
    execFileSync('ip', ['netns', 'exec', this.namespace, '/usr/sbin/nginx', '-t', '-q', '-c', this.conf], { stdio: 'pipe' });
    const child = spawn('ip', ['netns', 'exec', this.namespace, '/usr/sbin/nginx', '-c', this.conf, '-g', 'daemon off;'], { detached: true, stdio: 'ignore' });
    this.child = child;
    child.once('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      // KillMode=mixed: the rest of the unit (orphaned workers holding the listening sockets) is killed.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // nothing left
      }
      const { restart, restartMs } = this.dropIn();
      const failed = (code !== null && code !== 0) || (signal !== null && !CLEAN_SIGNALS.has(signal));
      if (this.wanted && ((restart === 'on-failure' && failed) || restart === 'always')) {
        setTimeout(() => {
          if (!this.wanted || this.child) return;
          this.restarts.push(Date.now());
          this.start();
        }, restartMs);
      } else {
        this.wanted = false;
      }
    });
  }

  /** A crash: the master dies by SIGKILL, as from the OOM killer; its workers are left behind. */
  crash(): void {
    if (this.child?.pid) process.kill(this.child.pid, 'SIGKILL');
  }

  /** nginx -s stop: a clean exit, which systemd does not restart. */
  async stopCleanly(): Promise<void> {
    const child = this.child;
    if (!child) return;
    execFileSync('ip', ['netns', 'exec', this.namespace, '/usr/sbin/nginx', '-s', 'stop', '-c', this.conf], { stdio: 'pipe' });
    await new Promise((resolve) => child.once('exit', resolve));
  }

  /** Every nginx process stops (SIGSTOP) or carries on (SIGCONT): a hung nginx that still holds its sockets. */
  hang(on: boolean): void {
    if (this.child?.pid) process.kill(-this.child.pid, on ? 'SIGSTOP' : 'SIGCONT');
  }

  reload(): void {
    execFileSync('ip', ['netns', 'exec', this.namespace, '/usr/sbin/nginx', '-s', 'reload', '-c', this.conf], { stdio: 'pipe' });
  }

  /** The machine is gone: nothing restarts it. */
  kill(): void {
    this.wanted = false;
    const child = this.child;
    this.child = undefined;
    if (child?.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

export class Balancer {
  readonly sandbox = new Sandbox();
  readonly nginx: NginxUnit;
  keepalived: ChildProcess | undefined;
  private helpers: ChildProcess[] = [];
  health: Lines | undefined;
  private keepalivedLog: string;

  constructor(
    readonly name: 'primary' | 'standby',
    readonly namespace: string,
    readonly device: string,
    readonly ip: string,
    readonly instanceId: string,
  ) {
    this.nginx = new NginxUnit(namespace, this.sandbox.root);
    this.keepalivedLog = join(this.sandbox.directory, 'keepalived.log');
  }

  /** keepalived's last transition as the notify script recorded it. */
  state(): string {
    const file = join(this.sandbox.root, 'run/kubeha/vrrp-state');
    return existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  }

  /** keepalived's own record of transitions ("Entering MASTER STATE", "Entering FAULT STATE", …). */
  transitions(): string[] {
    if (!existsSync(this.keepalivedLog)) return [];
    return readFileSync(this.keepalivedLog, 'utf8')
      .split('\n')
      .filter((line) => /Entering (MASTER|BACKUP|FAULT) STATE/.test(line));
  }

  startKeepalived(): void {
    const log = openSync(this.keepalivedLog, 'a');
    const directory = this.sandbox.directory;
    this.keepalived = spawn(
      'ip',
      ['netns', 'exec', this.namespace, 'env', `PATH=${this.sandbox.bin}:/usr/sbin:/usr/bin:/sbin:/bin`, 'keepalived', '-n', '-l', '-D',
        '-f', join(this.sandbox.root, 'etc/keepalived/keepalived.conf'),
        '-p', join(directory, 'keepalived.pid'), '-r', join(directory, 'vrrp.pid'), '-c', join(directory, 'checkers.pid')],
      { stdio: ['ignore', log, log] },
    );
  }

  /** SIGTERM is a graceful stop (keepalived tells its peer), SIGKILL a hard failure (it says nothing). */
  async stopKeepalived(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const keepalived = this.keepalived;
    if (!keepalived || keepalived.exitCode !== null || keepalived.signalCode !== null) return;
    const pids = ['vrrp.pid', 'checkers.pid', 'keepalived.pid']
      .map((file) => join(this.sandbox.directory, file))
      .filter((file) => existsSync(file))
      .map((file) => Number(readFileSync(file, 'utf8').trim()));
    const exited = new Promise((resolve) => keepalived.once('exit', resolve));
    for (const pid of signal === 'SIGKILL' ? pids : pids.slice(-1)) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
    await exited;
    // The VRRP and checker children go on their own; a new keepalived refuses to start while one lives.
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await until('every keepalived process gone', () => !pids.some(alive), 10_000);
  }

  /** A long-running lb-peer.mjs helper inside this namespace. */
  helper(...args: string[]): { child: ChildProcess; lines: Lines } {
    const child = spawn('ip', ['netns', 'exec', this.namespace, process.execPath, PEER_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.helpers.push(child);
    return { child, lines: new Lines(child) };
  }

  stopHelper(child: ChildProcess): void {
    child.kill('SIGKILL');
    this.helpers = this.helpers.filter((candidate) => candidate !== child);
  }

  stopHelpers(): void {
    for (const child of this.helpers) child.kill('SIGKILL');
    this.helpers = [];
  }

  /** Is nginx answering its health server, as the watcher last saw it? */
  healthy(): boolean {
    return this.health?.lines.at(-1)?.text === 'up';
  }
}

export class LoadBalancerPair {
  readonly suffix = `${process.pid % 10000}${Math.floor(Math.random() * 1000)}`;
  readonly eipFile = `/tmp/kubeha-eip-${this.suffix}`;
  readonly eipLog = `/tmp/kubeha-eip-${this.suffix}.log`;
  readonly balancers: readonly [Balancer, Balancer];

  constructor() {
    const [primary, standby] = ADDRESSES.map(
      (ip, index) => new Balancer(index === 0 ? 'primary' : 'standby', `kubeha-lb${index}-${this.suffix}`, `khv${index}${this.suffix}`.slice(0, 15), ip, `i-0${String(index + 1).repeat(16)}`),
    ) as [Balancer, Balancer];
    this.balancers = [primary, standby];
  }

  get primary(): Balancer {
    return this.balancers[0];
  }

  get standby(): Balancer {
    return this.balancers[1];
  }

  holder(): string {
    return existsSync(this.eipFile) ? readFileSync(this.eipFile, 'utf8').trim() : '';
  }

  holderBalancer(): Balancer | undefined {
    return this.balancers.find((balancer) => balancer.instanceId === this.holder());
  }

  peerOf(balancer: Balancer): Balancer {
    return balancer === this.primary ? this.standby : this.primary;
  }

  /** Every associate-address the notify scripts made, with its time (epoch ms) and the instance that asked. */
  claims(): { at: number; instanceId: string }[] {
    if (!existsSync(this.eipLog)) return [];
    return readFileSync(this.eipLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [micros, instanceId] = line.split(' ');
        return { at: Number(micros) / 1000, instanceId: instanceId ?? '' };
      });
  }

  /** Every keepalived transition on both nodes so far. */
  transitionCount(): number {
    return this.balancers.reduce((sum, balancer) => sum + balancer.transitions().length, 0);
  }

  /** Steady: one MASTER that holds the Elastic IP and serves, the other BACKUP. */
  steady(): Balancer | undefined {
    const master = this.balancers.find((balancer) => balancer.state() === 'MASTER');
    if (!master || this.holder() !== master.instanceId || !master.healthy()) return undefined;
    return this.peerOf(master).state() === 'BACKUP' ? master : undefined;
  }

  async untilSteady(timeoutMs: number): Promise<Balancer> {
    await until('one MASTER holding the Elastic IP, the other BACKUP', () => this.steady() !== undefined, timeoutMs);
    return this.steady()!;
  }

  async setUp(): Promise<void> {
    const [primary, standby] = this.balancers;
    for (const balancer of this.balancers) execFileSync('ip', ['netns', 'add', balancer.namespace]);
    execFileSync('ip', ['link', 'add', primary.device, 'type', 'veth', 'peer', 'name', standby.device]);
    for (const balancer of this.balancers) {
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
  describe-addresses) cat '${this.eipFile}' 2>/dev/null || echo None ;;
  associate-address) for ((i = 1; i <= $#; i++)); do if [[ "\${!i}" == "--instance-id" ]]; then j=$((i + 1)); echo "\${!j}" >'${this.eipFile}'; echo "\${EPOCHREALTIME/./} \${!j}" >>'${this.eipLog}'; fi; done ;;
esac`,
      );
      const run = sandbox.run('configure-load-balancer.sh', {
        KUBEHA_CLUSTER_NAME: 'pair',
        KUBEHA_MASTER_ADDRESSES: '127.0.0.1',
        KUBEHA_APISERVER_PORT: String(BACKEND_PORT),
        KUBEHA_LOAD_BALANCER_ADDRESSES: ADDRESSES.join(','),
        KUBEHA_LISTEN_PORT: String(LISTEN_PORT),
        KUBEHA_EIP_ALLOCATION_ID: 'eipalloc-0abc12345def67890',
        KUBEHA_REGION: 'eu-west-1',
        KUBEHA_SELF_IP: balancer.ip,
        KUBEHA_INTERFACE: device,
      });
      if (run.status !== 0) throw new Error(`configure-load-balancer.sh failed on the ${balancer.name}: ${run.stderr}`);
      // On a node the scripts live under /etc/keepalived; here they live in the sandbox, under /tmp,
      // which keepalived's script security would refuse as world-writable.
      const conf = join(sandbox.root, 'etc/keepalived/keepalived.conf');
      writeFileSync(
        conf,
        readFileSync(conf, 'utf8')
          .replaceAll('"/etc/keepalived/', `"${sandbox.root}/etc/keepalived/`)
          .replace(/^\s*enable_script_security\n/m, ''),
      );
      balancer.helper('backend', String(BACKEND_PORT));
      balancer.nginx.start();
      balancer.health = balancer.helper('watch', String(HEALTH_PORT)).lines;
      balancer.startKeepalived();
    }
  }

  /**
   * Everything between the two load balancers is VRRP. A neighbour entry with a MAC address nobody has makes
   * each side's packets to the other vanish (keepalived binds to the interface, so a blackhole route would
   * not); deleting it lets ARP find the real one again.
   */
  partition(on: boolean): void {
    for (const self of this.balancers) {
      const peer = this.peerOf(self);
      const args = on ? ['replace', peer.ip, 'lladdr', '02:00:5e:00:00:fe', 'nud', 'permanent', 'dev', self.device] : ['del', peer.ip, 'dev', self.device];
      execFileSync('ip', ['-n', self.namespace, 'neigh', ...args]);
    }
  }

  /** The node's packets to its peer vanish (or flow again), as when a machine dies; it still hears its peer. */
  silence(balancer: Balancer, on: boolean): void {
    const peer = this.peerOf(balancer);
    const args = on ? ['replace', peer.ip, 'lladdr', '02:00:5e:00:00:fe', 'nud', 'permanent', 'dev', balancer.device] : ['del', peer.ip, 'dev', balancer.device];
    execFileSync('ip', ['-n', balancer.namespace, 'neigh', ...args]);
  }

  async tearDown(): Promise<void> {
    for (const balancer of this.balancers) {
      balancer.stopHelpers();
      balancer.nginx.hang(false);
      balancer.nginx.kill();
      await balancer.stopKeepalived('SIGKILL').catch(() => undefined);
    }
    for (const balancer of this.balancers) {
      try {
        execFileSync('ip', ['netns', 'del', balancer.namespace]);
      } catch {
        // never created
      }
      balancer.sandbox.dispose();
    }
    execFileSync('rm', ['-f', this.eipFile, this.eipLog]);
  }
}
