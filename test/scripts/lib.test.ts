import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/echo-backends.js';
import { SCRIPTS, Sandbox } from './sandbox.js';

/** Runs bash code with the node scripts' libraries sourced, in the sandbox's PATH and root. */
function withLibraries(sandbox: Sandbox, code: string): { status: number | null; stdout: string; stderr: string } {
  const child = spawnSync('bash', ['-c', `set -o errexit -o nounset -o pipefail\nsource '${SCRIPTS}lib/common.sh'\nsource '${SCRIPTS}lib/etcd.sh'\n${code}`], {
    encoding: 'utf8',
    env: { PATH: `${sandbox.bin}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: sandbox.directory, TMPDIR: sandbox.directory, KUBEHA_ROOT: sandbox.root },
    timeout: 30_000,
  });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

describe('lib/common.sh run_logged', () => {
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = new Sandbox();
  });
  afterEach(() => sandbox.dispose());

  it('should keep the message of a fail inside the command it runs, and return its failure instead of exiting', () => {
    const run = withLibraries(sandbox, 'step() { log "working"; fail "the certificate is missing"; }\nrun_logged step step || echo "returned $?"');

    expect(run.stderr).toContain('kubeha: step failed; last lines of');
    expect(run.stderr).toContain('kubeha: error: the certificate is missing');
    expect(run.stdout).toBe('returned 1\n');
  });
});

/** A real one-member etcd on 127.0.0.1 with random ports, and a learner announced for 127.0.0.4 that never starts. */
describe('lib/etcd.sh against a real etcd with an unstarted learner', () => {
  let directory: string;
  let etcd: ChildProcess;
  let client: string;
  let learnerPeer: string;
  let sandbox: Sandbox;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'kubeha-etcd-learner-'));
    const [clientPort, peerPort, learnerPort] = [await freePort(), await freePort(), await freePort()];
    client = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    learnerPeer = `http://127.0.0.4:${learnerPort}`;
    etcd = spawn('etcd', [
      '--name=m1', `--data-dir=${join(directory, 'm1')}`, `--listen-client-urls=${client}`, `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`, `--initial-advertise-peer-urls=${peer}`, `--initial-cluster=m1=${peer}`, '--initial-cluster-state=new',
    ], { stdio: 'ignore' });
    for (let attempt = 0; ; attempt += 1) {
      try {
        execFileSync('etcdctl', [`--endpoints=${client}`, '--command-timeout=2s', 'endpoint', 'health'], { stdio: 'pipe' });
        break;
      } catch (error) {
        if (attempt > 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    // What kubeadm's etcd-join does first: announce the new member as a learner.
    execFileSync('etcdctl', [`--endpoints=${client}`, 'member', 'add', 'm4', `--peer-urls=${learnerPeer}`, '--learner'], { stdio: 'pipe' });
  });

  afterAll(() => {
    etcd.kill('SIGKILL');
    rmSync(directory, { recursive: true, force: true });
  });

  beforeEach(() => {
    sandbox = new Sandbox();
  });
  afterEach(() => sandbox.dispose());

  it('prints the learner as "ID, unstarted, , PEER, , true", the shape the etcdctl double reproduces', () => {
    const list = execFileSync('etcdctl', [`--endpoints=${client}`, 'member', 'list', '-w', 'simple'], { encoding: 'utf8' });

    expect(list).toMatch(new RegExp(`^[0-9a-f]+, unstarted, , ${learnerPeer.replaceAll('.', '\\.')}, , true$`, 'm'));
  });

  it('should read the unstarted learner as a learner with no name and no client URL', () => {
    const run = withLibraries(sandbox, `KUBEHA_ETCDCTL='etcdctl --endpoints=${client}'\netcd_members`);

    expect(run.stderr).toBe('');
    const lines = run.stdout.trim().split('\n').map((line) => line.split(' '));
    expect(lines).toContainEqual([expect.stringMatching(/^[0-9a-f]+$/), '(unstarted)', '127.0.0.4', '-', 'true']);
    expect(lines).toContainEqual([expect.stringMatching(/^[0-9a-f]+$/), 'm1', '127.0.0.1', client, 'false']);
  });

  it('should report the unstarted learner as a learner, not healthy, in cluster-status.sh', () => {
    sandbox.stub('kubectl', 'exit 1');
    const run = sandbox.run('cluster-status.sh', { KUBEHA_ETCDCTL: `etcdctl --endpoints=${client}` });

    expect(run.result?.members).toContainEqual({ id: expect.any(String), name: '(unstarted)', peerIp: '127.0.0.4', healthy: false, isLearner: true });
    expect(run.result?.members).toContainEqual({ id: expect.any(String), name: 'm1', peerIp: '127.0.0.1', healthy: true, isLearner: false });
  });

  it('should check only the endpoint it names through the etcd container, not 127.0.0.1:2379 as well (etcdctl appends a repeated --endpoints)', () => {
    // crictl as on a master; the container's etcdctl is the real one, minus the TLS files this machine lacks.
    sandbox.stub(
      'crictl',
      `case "$1" in
  ps) echo etcd-container ;;
  exec) shift 3; args=(); for a in "$@"; do [[ "$a" == --cacert=* || "$a" == --cert=* || "$a" == --key=* ]] || args+=("$a"); done; exec etcdctl "\${args[@]}" ;;
esac`,
    );

    const run = withLibraries(sandbox, `endpoint_healthy '${client}' && echo healthy`);

    expect(run.stdout).toBe('healthy\n');
    expect(sandbox.allCalls()).toContain(`crictl exec etcd-container etcdctl --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key --endpoints=${client} --command-timeout=3s endpoint health`);
  });

  it('should still talk to the local etcd by default through the container', () => {
    sandbox.stub('crictl', 'case "$1" in ps) echo etcd-container ;; exec) exit 0 ;; esac');

    withLibraries(sandbox, 'etcdctl_cmd member list -w simple');

    expect(sandbox.allCalls()).toContain('crictl exec etcd-container etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key member list -w simple');
  });
});
