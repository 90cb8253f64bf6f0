import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/echo-backends.js';
import { Sandbox } from './sandbox.js';

/** A real etcd cluster on loopback addresses 127.0.0.1-3, one member per address, like three masters. */
class LocalEtcd {
  readonly directory = mkdtempSync(join(tmpdir(), 'kubeha-etcd-'));
  readonly processes = new Map<string, ChildProcess>();
  constructor(
    readonly clientPort: number,
    readonly peerPort: number,
  ) {}

  client(ip: string): string {
    return `http://${ip}:${this.clientPort}`;
  }

  peer(ip: string): string {
    return `http://${ip}:${this.peerPort}`;
  }

  start(name: string, ip: string, initialCluster: string, state: 'new' | 'existing'): void {
    const child = spawn(
      'etcd',
      [
        `--name=${name}`,
        `--data-dir=${join(this.directory, name)}`,
        `--listen-client-urls=${this.client(ip)}`,
        `--advertise-client-urls=${this.client(ip)}`,
        `--listen-peer-urls=${this.peer(ip)}`,
        `--initial-advertise-peer-urls=${this.peer(ip)}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-state=${state}`,
        '--initial-cluster-token=kubeha-test',
        '--heartbeat-interval=50',
        '--election-timeout=500',
      ],
      { stdio: 'ignore' },
    );
    this.processes.set(name, child);
  }

  kill(name: string): void {
    this.processes.get(name)?.kill('SIGKILL');
    this.processes.delete(name);
  }

  etcdctl(ip: string, ...args: string[]): string {
    return execFileSync('etcdctl', [`--endpoints=${this.client(ip)}`, '--command-timeout=3s', ...args], { encoding: 'utf8', stdio: 'pipe' });
  }

  /** Like etcdctl, but an error matching `already` means an earlier attempt did the work. */
  etcdctlOrAlready(already: RegExp, ip: string, ...args: string[]): string {
    try {
      return this.etcdctl(ip, ...args);
    } catch (error: unknown) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? '');
      if (already.test(stderr)) return stderr;
      throw error;
    }
  }

  async waitHealthy(ip: string): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      try {
        this.etcdctl(ip, 'endpoint', 'health');
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    throw new Error(`etcd at ${ip} did not become healthy`);
  }

  stop(): void {
    for (const name of [...this.processes.keys()]) this.kill(name);
    rmSync(this.directory, { recursive: true, force: true });
  }
}

const KEYS = 200;

async function retrying(attempt: () => string): Promise<string> {
  let lastError: unknown;
  for (let tries = 0; tries < 60; tries += 1) {
    try {
      return attempt();
    } catch (error: unknown) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw lastError;
}

describe('remove-etcd-member.sh against a real 3-member etcd cluster', () => {
  let etcd: LocalEtcd;
  let sandbox: Sandbox;
  const initial = (cluster: LocalEtcd) => ['1', '2', '3'].map((n) => `m${n}=${cluster.peer(`127.0.0.${n}`)}`).join(',');
  const runRemoval = (peerIp: string) =>
    sandbox.run('remove-etcd-member.sh', { KUBEHA_MEMBER_PEER_IP: peerIp, KUBEHA_ETCDCTL: `etcdctl --endpoints=${etcd.client('127.0.0.1')}` });

  beforeAll(async () => {
    etcd = new LocalEtcd(await freePort(), await freePort());
    for (const n of ['1', '2', '3']) etcd.start(`m${n}`, `127.0.0.${n}`, initial(etcd), 'new');
    for (const n of ['1', '2', '3']) await etcd.waitHealthy(`127.0.0.${n}`);
    for (let index = 0; index < KEYS; index += 1) etcd.etcdctl('127.0.0.1', 'put', `/registry/test/key-${index}`, `value-${index}`);
    sandbox = new Sandbox();
    sandbox.stub(
      'kubectl',
      `case "$*" in
  "get nodes -o json") echo '{"items":[{"metadata":{"name":"m3"},"status":{"addresses":[{"type":"InternalIP","address":"127.0.0.3"}]}}]}' ;;
  delete*) echo "$*" >>"$STATE/deleted" ;;
esac`,
    );
  });

  afterAll(() => {
    etcd.stop();
    sandbox.dispose();
  });

  it('should remove the dead member and its Node, keep quorum, and lose no key', async () => {
    // Prepare: master 3 dies.
    etcd.kill('m3');

    // Act
    const run = runRemoval('127.0.0.3');

    // Assess
    expect(run.stderr).toBe('');
    expect(run.result).toEqual({ removedMember: 'm3', deletedNode: 'm3' });
    expect(sandbox.read('../state/deleted')).toBe('delete node m3 --ignore-not-found --wait=false\n');
    const members = etcd.etcdctl('127.0.0.1', 'member', 'list', '-w', 'simple');
    expect(members).not.toContain('m3');
    etcd.etcdctl('127.0.0.1', 'put', '/registry/test/after-removal', 'written with two members');
    expect(etcd.etcdctl('127.0.0.2', 'get', '/registry/test/', '--prefix', '--keys-only').split('\n').filter(Boolean)).toHaveLength(KEYS + 1);
  });

  it('should be a no-op for a member already removed', () => {
    const again = runRemoval('127.0.0.3');
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('already removed');
    expect(again.result).toMatchObject({ removedMember: null });
  });

  it('should let the replacement join the way kubeadm does (learner, then promoted) with every key intact', async () => {
    // Act: the replacement keeps the dead master's address, as kubeha prefers.
    // etcd admits a member only once its peers have been connected for a few seconds; kubeadm retries too.
    // Under load a call can time out on the client yet succeed, so "already" answers count as done.
    await retrying(() => etcd.etcdctlOrAlready(/already exists/, '127.0.0.1', 'member', 'add', 'm3-replacement', `--peer-urls=${etcd.peer('127.0.0.3')}`, '--learner'));
    const memberId = etcd
      .etcdctl('127.0.0.1', 'member', 'list', '-w', 'simple')
      .split('\n')
      .find((line) => line.includes(etcd.peer('127.0.0.3')))
      ?.split(', ')[0];
    expect(memberId).toMatch(/^[0-9a-f]+$/);
    etcd.start('m3-replacement', '127.0.0.3', `m1=${etcd.peer('127.0.0.1')},m2=${etcd.peer('127.0.0.2')},m3-replacement=${etcd.peer('127.0.0.3')}`, 'existing');
    // A learner answers no health check; kubeadm promotes it as soon as it has caught up.
    await retrying(() => etcd.etcdctlOrAlready(/not a learner/, '127.0.0.1', 'member', 'promote', memberId ?? ''));
    await etcd.waitHealthy('127.0.0.3');

    // Assess
    expect(etcd.etcdctl('127.0.0.1', 'member', 'list', '-w', 'simple')).toMatch(/m3-replacement, http:\/\/127\.0\.0\.3:\d+, http:\/\/127\.0\.0\.3:\d+, false/);
    const health = JSON.parse(etcd.etcdctl('127.0.0.1', 'endpoint', 'health', '--cluster', '-w', 'json')) as { health: boolean }[];
    expect(health.map((entry) => entry.health)).toEqual([true, true, true]);
    const fromReplacement = etcd.etcdctl('127.0.0.3', 'get', '/registry/test/', '--prefix', '--keys-only', '--consistency=s');
    expect(fromReplacement.split('\n').filter(Boolean)).toHaveLength(KEYS + 1);
  });

  it('should refuse, changing nothing, when another member is down too', () => {
    // Prepare: two of three members gone.
    etcd.kill('m3-replacement');
    etcd.kill('m2');

    // Act
    const run = runRemoval('127.0.0.3');

    // Assess
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/refusing: etcd member m[12] is unhealthy too; removing m3-replacement could lose quorum/);
    expect(run.calls.filter((call) => call.startsWith('kubectl delete'))).toEqual([]);
    expect(etcd.etcdctl('127.0.0.1', 'member', 'list', '-w', 'simple')).toContain('m3-replacement');
  });
});

describe('remove-etcd-member.sh beside the unstarted learner a failed join left, against real etcd', () => {
  let etcd: LocalEtcd;
  let sandbox: Sandbox;
  const initial = (cluster: LocalEtcd) => ['1', '2', '3'].map((n) => `m${n}=${cluster.peer(`127.0.0.${n}`)}`).join(',');

  beforeAll(async () => {
    etcd = new LocalEtcd(await freePort(), await freePort());
    for (const n of ['1', '2', '3']) etcd.start(`m${n}`, `127.0.0.${n}`, initial(etcd), 'new');
    for (const n of ['1', '2', '3']) await etcd.waitHealthy(`127.0.0.${n}`);
    sandbox = new Sandbox();
    sandbox.stub('kubectl', `case "$*" in "get nodes -o json") echo '{"items":[]}' ;; esac`);
  });

  afterAll(() => {
    etcd.stop();
    sandbox.dispose();
  });

  it('should remove a dead voter while a learner that never started is listed, and leave the learner to the next join', async () => {
    // Prepare: a replacement on a new address announced its learner (kubeadm etcd-join) and died before its
    // etcd started; then master 3 dies.
    await retrying(() => etcd.etcdctlOrAlready(/already exists/, '127.0.0.1', 'member', 'add', 'replacement', `--peer-urls=${etcd.peer('127.0.0.4')}`, '--learner'));
    expect(etcd.etcdctl('127.0.0.1', 'member', 'list', '-w', 'simple')).toMatch(/unstarted, , http:\/\/127\.0\.0\.4:\d+, , true/);
    etcd.kill('m3');

    // Act
    const run = sandbox.run('remove-etcd-member.sh', { KUBEHA_MEMBER_PEER_IP: '127.0.0.3', KUBEHA_ETCDCTL: `etcdctl --endpoints=${etcd.client('127.0.0.1')}` });

    // Assess: etcd agreed (it judges the removal by its two started voters), and two voters still make a quorum.
    expect(run.stderr).toBe('');
    expect(run.result).toEqual({ removedMember: 'm3', deletedNode: null });
    const members = etcd.etcdctl('127.0.0.1', 'member', 'list', '-w', 'simple');
    expect(members).not.toContain('m3');
    expect(members).toMatch(/unstarted, , http:\/\/127\.0\.0\.4:\d+, , true/);
    etcd.etcdctl('127.0.0.2', 'put', '/registry/test/after-removal', 'written by two voters beside a learner');
  });
});
