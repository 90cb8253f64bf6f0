// Every command against a simulated account, in this process: what it prints, what it changes and
// the exit code. test/cli/processes.test.ts runs the CLI as its own process; terminal.test.ts on a
// terminal.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../../cli/commands/follow.js';
import type { Backend } from '../../cli/backend.js';
import { EXAMPLE, inputFile, kubeha, temporaryDirectory } from './support.js';

// One simulated account for the file: the tests run in order, and the plain-output test of
// `kubeha bootstrap` bootstraps prod-eu in it, which the tests after it status, rotate, heal and drill.
let directory: string;
let env: Record<string, string>;

beforeAll(() => {
  directory = temporaryDirectory();
  env = { KUBEHA_STATE_DIR: join(directory, 'state'), XDG_CONFIG_HOME: join(directory, 'config') };
});
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

const widest = (text: string) => Math.max(...text.split('\n').map((line) => line.length));

describe('kubeha plan', () => {
  it('prints the topology and the exact steps within 80 columns, changes nothing, and exits 0', async () => {
    // Act
    const run = await kubeha(['plan', '--cluster', 'prod-eu', '--input', EXAMPLE, '--simulate', '--profile', 'plan'], { env });

    // Assess
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Cluster prod-eu: 8 tagged instance(s)');
    expect(run.stdout).toMatch(/ 5\. Initialize i-[0-9a-f]+ with kubeadm \(endpoint\s+k8s\.prod\.example\.com:6443\)/);
    expect(run.stdout).toMatch(/ 7\. Join 2 master\(s\) one at a time/);
    expect(run.stdout).toContain('Nothing was changed.');
    expect(widest(run.stdout)).toBeLessThanOrEqual(80);
  });

  it('lists the warm standbys the input asks for, one master standby per zone of the masters, within 80 columns and in --json', async () => {
    // Act
    const input = inputFile(directory, { healing: { standbys: { master: 3, worker: 1 } } });
    const run = await kubeha(['plan', '--cluster', 'prod-eu', '--input', input, '--simulate', '--profile', 'plan'], { env });
    const json = await kubeha(['plan', '--cluster', 'prod-eu', '--input', input, '--simulate', '--profile', 'plan', '--json'], { env });

    // Assess
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Warm standbys (healing.standbys: 3 master, 1 worker), kept by reconcile:');
    for (const zone of ['eu-west-1a', 'eu-west-1b', 'eu-west-1c']) expect(run.stdout).toMatch(new RegExp(`^master +${zone} +missing +- +reconcile launches it$`, 'm'));
    expect(run.stdout).toMatch(/^worker +eu-west-1a +missing/m);
    expect(widest(run.stdout)).toBeLessThanOrEqual(80);
    const parsed = JSON.parse(json.stdout) as { standbys: { role: string; zone: string; state: string }[] };
    expect(parsed.standbys.map((row) => [row.role, row.zone, row.state])).toEqual([
      ['master', 'eu-west-1a', 'missing'],
      ['master', 'eu-west-1b', 'missing'],
      ['master', 'eu-west-1c', 'missing'],
      ['worker', 'eu-west-1a', 'missing'],
    ]);
  });

  it('lists no standbys where the input asks for none', async () => {
    const run = await kubeha(['plan', '--cluster', 'prod-eu', '--input', EXAMPLE, '--simulate', '--profile', 'plan', '--json'], { env });
    expect((JSON.parse(run.stdout) as { standbys: unknown[] }).standbys).toEqual([]);
  });

  it("blocks the overlapping CIDRs of the default simulated network with exit 3, each finding with its fix", async () => {
    const run = await kubeha(['plan', '--cluster', 'prod-eu', '--input', inputFile(directory, { podCidr: '10.0.0.0/18', serviceCidr: '10.96.0.0/12' }), '--simulate', '--profile', 'plan'], { env });
    expect(run.code).toBe(3);
    expect(run.stdout).toContain('BLOCKING podCidr: 10.0.0.0/18 overlaps VPC');
    expect(run.stdout).toContain('fix: choose a podCidr outside 10.0.0.0/16');
    expect(run.stdout).not.toContain('Bootstrap would:');
  });

  it("catches the runbook's 172.31.0.0/16 service network on a simulated account built like the runbook's VPC", async () => {
    // Prepare: the runbook's nodes live in 172.31.0.0/16 and it gave kubeadm serviceSubnet 172.31.0.0/16.
    const reset = await kubeha(['simulate', 'reset', '--profile', 'runbook', '--vpc-cidr', '172.31.0.0/16', '--yes'], { env });

    // Act
    const run = await kubeha(['plan', '--cluster', 'prod-eu', '--input', inputFile(directory, { serviceCidr: '172.31.0.0/16' }), '--simulate', '--profile', 'runbook'], { env });

    // Assess
    expect(reset.code).toBe(0);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/BLOCKING serviceCidr: 172\.31\.0\.0\/16 overlaps VPC/);
    expect(run.stdout).toMatch(/172\.31\.\d+\.\d+ +eu-west-1a/);
  });

  it('refuses a simulated network it cannot carve into three zones, naming the option, exit 2', async () => {
    const run = await kubeha(['simulate', 'reset', '--profile', 'odd', '--vpc-cidr', '172.31.0.0/24', '--yes'], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('kubeha: --vpc-cidr 172.31.0.0/24 must be a /16 to /20 network, so that three zones each get a subnet.\n');
  });

  it('reports machine-readable findings with --json', async () => {
    const run = await kubeha(['plan', '--cluster', 'prod-eu', '--input', inputFile(directory, { podCidr: '10.0.0.0/18' }), '--simulate', '--profile', 'plan', '--json'], { env });
    const parsed = JSON.parse(run.stdout) as { findings: { field: string; blocking: boolean }[] };
    expect(run.code).toBe(3);
    expect(parsed.findings.filter((finding) => finding.blocking).map((finding) => finding.field)).toContain('podCidr');
  });

  it('names the field and the reason for invalid input, exit 2', async () => {
    const run = await kubeha(['plan', '--cluster', 'prod-eu', '--input', inputFile(directory, { kubernetesVersion: 'latest' }), '--simulate', '--profile', 'plan'], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('kubeha: The input is not valid: kubernetesVersion: must be a pinned patch release such as 1.36.4 (no "v", no "latest", no "stable").\n');
  });
});

describe('kubeha bootstrap', () => {
  it('refuses without --yes when there is no terminal to ask on, exit 3, and starts nothing', async () => {
    // Act
    const run = await kubeha(['bootstrap', '--cluster', 'prod-eu', '--input', EXAMPLE, '--simulate', '--profile', 'refuse'], { env });
    const after = await kubeha(['status', '--cluster', 'prod-eu', '--simulate', '--profile', 'refuse'], { env });

    // Assess
    expect(run.code).toBe(3);
    expect(run.stderr).toBe('kubeha: Bootstrap of prod-eu changes cluster prod-eu and needs a confirmation, but there is no terminal to ask on: pass --yes to go ahead, or --dry-run to see what it would do.\n');
    expect(after.code).toBe(5);
  });

  it('asks before it starts, and a "no" changes nothing, exit 3', async () => {
    // Prepare: a person at a terminal who answers no.
    const questions: string[] = [];
    const asker = { canAsk: true, ask: async (question: string) => (questions.push(question), false) };

    // Act
    const run = await kubeha(['bootstrap', '--cluster', 'prod-eu', '--input', EXAMPLE, '--simulate', '--profile', 'refuse'], { env, io: { asker } });

    // Assess
    expect(questions).toEqual(['Go ahead with Bootstrap of prod-eu?']);
    expect(run.stderr).toContain('Bootstrap of prod-eu would:\n   1. Install prerequisites');
    expect(run.stderr).toContain('kubeha: Declined: nothing was changed.\n');
    expect(run.code).toBe(3);
    expect(run.stdout).not.toContain('Started');
  });

  it('prints the plan with --dry-run and exits 0 without starting anything', async () => {
    const run = await kubeha(['bootstrap', '--cluster', 'prod-eu', '--input', EXAMPLE, '--simulate', '--profile', 'refuse', '--dry-run'], { env });
    const after = await kubeha(['status', '--cluster', 'prod-eu', '--simulate', '--profile', 'refuse'], { env });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Bootstrap of prod-eu would:');
    expect(run.stdout).toContain('Dry run: nothing was changed.');
    expect(after.code).toBe(5);
  });

  it('prints one plain line per phase and per state when not on a terminal, then the summary', async () => {
    const run = await kubeha(['bootstrap', '--cluster', 'prod-eu', '--input', EXAMPLE, '--simulate', '--yes'], { env });
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines).toContain('[00:00] 1/12 Validate the input');
    expect(lines.some((line) => /^\[\d\d:\d\d\] 9\/12 Masters, one at a time$/.test(line))).toBe(true);
    expect(lines.some((line) => /^\[\d\d:\d\d\] {6}Join this master to the control plane$/.test(line))).toBe(true);
    expect(run.stdout).toContain('Cluster prod-eu is up: https://k8s.prod.example.com:6443, Kubernetes 1.36.4.');
    expect(run.stdout).not.toContain('\u001b[');
    expect(widest(run.stdout)).toBeLessThanOrEqual(80);
  });

  it('shows the failing step and reason, and exits 3 when preflight refuses', async () => {
    const run = await kubeha(['bootstrap', '--cluster', 'other', '--input', inputFile(directory, { clusterName: 'other', serviceCidr: '10.0.0.0/16' }), '--simulate', '--yes', '--profile', 'refused'], { env });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^kubeha: Bootstrap failed with PreflightFailedError: serviceCidr: 10\.0\.0\.0\/16 overlaps VPC/);
    expect(run.stderr).toContain('Execution: (simulated) arn:aws:states:');
  });

  it('redraws one progress block in place on a terminal, every instance in it', async () => {
    // Prepare: an 80-column terminal.
    const terminal = { columns: () => 80, rows: () => 40, onResize: () => () => undefined };

    // Act
    const run = await kubeha(['bootstrap', '--cluster', 'tty', '--input', inputFile(directory, { clusterName: 'tty' }), '--simulate', '--yes', '--profile', 'tty'], { env, io: { isTTY: true, terminal } });

    // Assess
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\u001b\[\d+A/);
    expect(run.stdout).toMatch(/\[#{24}\] 12\/12 done {2}finished/);
    expect(run.stdout).toMatch(/ {2}master i-[0-9a-f]+ +10\.0\.\d+\.\d+ +eu-west-1[abc] +running +(joined|initialized)/);
  });
});

describe('kubeha status, kubeconfig, rotate, heal and drill on a bootstrapped simulated cluster', () => {
  it('status shows members, node and etcd health, the Elastic IP holder, the lock and recent executions within 80 columns', async () => {
    const run = await kubeha(['status', '--cluster', 'prod-eu', '--simulate'], { env });
    expect(run.code).toBe(0);
    expect(run.stdout.match(/^master .* Ready +healthy$/gm)).toHaveLength(3);
    expect(run.stdout.match(/^worker .* Ready +-$/gm)).toHaveLength(3);
    expect(run.stdout).toMatch(/^Elastic IP 203\.0\.113\.10 is on i-[0-9a-f]{17}\.$/m);
    expect(run.stdout).toContain('Healing lock: free.');
    expect(run.stdout).toMatch(/bootstrap-cluster +prod-eu-bootstrap-\d+ +SUCCEEDED/);
    expect(widest(run.stdout)).toBeLessThanOrEqual(80);
  });

  it('status says "not found" and exits 5 for a cluster the account does not have', async () => {
    const run = await kubeha(['status', '--cluster', 'typo', '--simulate'], { env });
    expect(run.code).toBe(5);
    expect(run.stderr).toBe('kubeha: Cluster typo was not found in the simulated account: check --cluster, or bootstrap it with `kubeha bootstrap --cluster typo --input FILE`.\n');
  });

  it.each([['kubeconfig'], ['rotate', '--yes'], ['heal', '--instance', 'i-0000000000000beef', '--yes'], ['drill', '--target', 'lb', '--action', 'stop', '--yes']])('%s says "not found" and exits 5 for an unknown cluster', async (command, ...rest) => {
    const run = await kubeha([command, ...rest, '--cluster', 'typo', '--simulate'], { env });
    expect(run.code).toBe(5);
    expect(run.stderr).toContain('Cluster typo was not found');
  });

  it('writes the kubeconfig with mode 600 and does not print it unless asked', async () => {
    const path = join(directory, 'admin.conf');
    const run = await kubeha(['kubeconfig', '--cluster', 'prod-eu', '--simulate', '--output', path], { env });
    expect(run.code).toBe(0);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toContain('kind: Config');
    expect(run.stdout).not.toContain('kind: Config');
    const printed = await kubeha(['kubeconfig', '--cluster', 'prod-eu', '--simulate', '--stdout'], { env });
    expect(printed.stdout).toContain('kind: Config');
  });

  it('replaces a kubeconfig file others could read with one only its owner can', async () => {
    // Prepare
    const path = join(directory, 'shared.conf');
    writeFileSync(path, 'old', { mode: 0o644 });

    // Act
    const run = await kubeha(['kubeconfig', '--cluster', 'prod-eu', '--simulate', '--output', path], { env });

    // Assess
    expect(run.code).toBe(0);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toContain('kind: Config');
  });

  it('rotate refuses without --yes in a script, shows its plan with --dry-run, and rotates without printing the material', async () => {
    const refused = await kubeha(['rotate', '--cluster', 'prod-eu', '--simulate'], { env });
    const dryRun = await kubeha(['rotate', '--cluster', 'prod-eu', '--simulate', '--dry-run', '--json'], { env });
    const run = await kubeha(['rotate', '--cluster', 'prod-eu', '--simulate', '--yes', '--json'], { env });

    expect(refused.code).toBe(3);
    expect(dryRun.code).toBe(0);
    expect(JSON.parse(dryRun.stdout)).toMatchObject({ dryRun: true, cluster: 'prod-eu', plan: [expect.stringContaining('Mint a new bootstrap token'), expect.stringMatching(/on master i-[0-9a-f]{17}$/)] });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ cluster: 'prod-eu', registeredOn: expect.stringMatching(/^i-/), tokenValidMinutes: 30 });
    expect(run.stdout).not.toMatch(/[a-z0-9]{6}\.[a-z0-9]{16}/);
  });

  it('heal refuses an instance that is not part of the cluster, exit 5, and shows its plan with --dry-run', async () => {
    const stranger = await kubeha(['heal', '--cluster', 'prod-eu', '--simulate', '--instance', 'i-0000000000000beef', '--yes'], { env });
    const status = JSON.parse((await kubeha(['status', '--cluster', 'prod-eu', '--simulate', '--json'], { env })).stdout) as { members: { role: string; instanceId: string }[] };
    const worker = status.members.find((member) => member.role === 'worker')!.instanceId;
    const dryRun = await kubeha(['heal', '--cluster', 'prod-eu', '--simulate', '--instance', worker, '--dry-run'], { env });

    expect(stranger.code).toBe(5);
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toContain(`Run heal-worker for worker ${worker} (running) of prod-eu`);
  });

  it('image build shows its plan with --dry-run, then bakes and records an image, naming it in --json; an unknown cluster exits 5', async () => {
    const unknown = await kubeha(['image', 'build', '--cluster', 'typo', '--simulate', '--yes'], { env });
    const dryRun = await kubeha(['image', 'build', '--cluster', 'prod-eu', '--simulate', '--dry-run', '--json'], { env });
    const run = await kubeha(['image', 'build', '--cluster', 'prod-eu', '--simulate', '--yes', '--json'], { env });

    expect(unknown.code).toBe(5);
    expect(dryRun.code).toBe(0);
    expect(JSON.parse(dryRun.stdout)).toMatchObject({ dryRun: true, cluster: 'prod-eu', plan: expect.arrayContaining([expect.stringContaining('Terminate the builder')]) });
    expect(run.code).toBe(0);
    expect(JSON.parse(dryRun.stdout).plan).toEqual(expect.arrayContaining([expect.stringContaining("deregister prod-eu's older images and delete their snapshots")]));
    expect(JSON.parse(run.stdout)).toMatchObject({ clusterName: 'prod-eu', imageId: expect.stringMatching(/^ami-/), kubernetesVersion: expect.any(String), builderId: expect.stringMatching(/^i-/), removedImageIds: [] });
  });

  it('drill --dry-run names the instance it would break and breaks nothing', async () => {
    const run = await kubeha(['drill', '--cluster', 'prod-eu', '--simulate', '--target', 'lb', '--action', 'stop', '--dry-run'], { env });
    const after = JSON.parse((await kubeha(['status', '--cluster', 'prod-eu', '--simulate', '--json'], { env })).stdout) as { members: { state: string }[]; executions: { machine: string }[] };
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/1\. Stop lb i-[0-9a-f]{17} \(10\.0\.\d+\.\d+\) of prod-eu/);
    expect(after.members.every((member) => member.state === 'running')).toBe(true);
    expect(after.executions.map((execution) => execution.machine)).not.toContain('drill-cluster');
  });

  it('drill reports a load balancer drill with plausible numbers', async () => {
    const run = await kubeha(['drill', '--cluster', 'prod-eu', '--simulate', '--target', 'lb', '--action', 'stop', '--yes'], { env });
    expect(run.code).toBe(0);
    const [, seconds] = /healed +yes, in (\d+) s/.exec(run.stdout) ?? [];
    const [, apiOk, outage] = /API +([\d.]+)% of probes answered, longest outage (\d+) s/.exec(run.stdout) ?? [];
    expect(Number(seconds)).toBeGreaterThan(30);
    expect(Number(seconds)).toBeLessThan(900);
    expect(Number(apiOk)).toBeGreaterThan(90);
    expect(Number(outage)).toBeGreaterThanOrEqual(5);
    expect(widest(run.stdout)).toBeLessThanOrEqual(80);
  });

  it('drill rejects a bad target before touching anything, exit 2', async () => {
    const run = await kubeha(['drill', '--cluster', 'prod-eu', '--simulate', '--target', 'etcd', '--action', 'stop'], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('kubeha: --target must be master, worker or lb, optionally with an instance: --target master:i-0abc12345def67890.\n');
  });
});

describe('the exit code of a finished execution', () => {
  const backend = { consoleUrl: (executionArn: string) => `console/${executionArn}` } as Backend;

  it.each([
    ['States.TaskFailed', 1],
    ['StepFailedError', 1],
    ['PreflightFailedError', 3],
    ['DrillRefusedError', 3],
    ['InputValidationError', 3],
  ])('is the failure of a workflow that ended with %s: exit %i, with the cause and the execution', (error, code) => {
    const thrown = failure({ status: 'FAILED', error, cause: 'the reason' }, backend, 'arn:x', 'Bootstrap');
    expect(thrown.exitCode).toBe(code);
    expect(thrown.message).toBe(`Bootstrap failed with ${error}: the reason\nExecution: console/arn:x`);
  });
});

describe('kubeha usage', () => {
  it.each([
    [['plan', '--cluster', 'prod-eu', '--input', 'x.json', '--bogus'], "unknown option '--bogus'"],
    [['plan', '--cluster', 'prod-eu'], "required option '--input <file>' not specified. Run `kubeha plan --help`"],
    [['status', '--clustr', 'demo'], "unknown option '--clustr' (Did you mean --cluster?)"],
    [['stauts', '--cluster', 'demo'], "unknown command 'stauts' (Did you mean status?)"],
    [['launch', '--cluster', 'demo'], "unknown command 'launch'"],
    [['drill', '--cluster', 'demo', '--action', 'explode'], "argument 'explode' is invalid. Allowed choices are stop, terminate."],
    [['status'], '--cluster is required'],
    [['status', '--cluster', 'Bad_Name'], 'not a valid cluster name'],
    [['status', '--cluster', 'demo', '--interval', 'soon', '--simulate'], '--interval must be a number of seconds above 0'],
  ])('rejects %o with exit 2 and one line', async (args, message) => {
    const run = await kubeha(args, { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('describes every option of every command and gives an example', async () => {
    for (const command of ['plan', 'bootstrap', 'status', 'kubeconfig', 'rotate', 'heal', 'drill', 'follow', 'completion']) {
      const run = await kubeha([command, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Usage: kubeha ${command}`);
      expect(run.stdout).toMatch(/Examples:\n {2}\$ (npx kubeha|source)/);
      const options = run.stdout.slice(run.stdout.indexOf('Options:'), run.stdout.indexOf('Examples:')).split('\n').filter((line) => /^ {2}-/.test(line));
      expect(options.length).toBeGreaterThan(0);
      for (const option of options) expect(option, `${command}: ${option}`).toMatch(/^ {2}\S.*\S {2,}\S/);
    }
  });

  it('prints the version with --version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const run = await kubeha(['--version']);
    expect(run).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('takes the cluster from KUBEHA_CLUSTER, then from the config file', async () => {
    // Prepare
    mkdirSync(join(directory, 'config', 'kubeha'), { recursive: true });
    writeFileSync(join(directory, 'config', 'kubeha', 'config.json'), JSON.stringify({ cluster: 'prod-eu' }));

    // Act
    const fromFile = await kubeha(['status', '--simulate', '--json'], { env });
    const fromEnvironment = await kubeha(['status', '--simulate', '--json'], { env: { ...env, KUBEHA_CLUSTER: 'other' } });

    // Assess
    expect(fromFile.code).toBe(0);
    expect(JSON.parse(fromFile.stdout)).toMatchObject({ cluster: 'prod-eu' });
    expect(fromEnvironment.code).toBe(5);
    expect(fromEnvironment.stderr).toContain('Cluster other was not found');
    rmSync(join(directory, 'config'), { recursive: true });
  });

  it('says how to start afresh when the simulated account file cannot be read, exit 2', async () => {
    // Prepare
    const state = join(directory, 'broken-state');
    mkdirSync(state, { recursive: true });
    writeFileSync(join(state, 'simulated-default.v8'), 'not a simulated account');

    // Act
    const run = await kubeha(['status', '--cluster', 'prod-eu', '--simulate'], { env: { KUBEHA_STATE_DIR: state } });

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`kubeha: The simulated account ${join(state, 'simulated-default.v8')} cannot be read: start afresh with \`kubeha simulate reset\`.\n`);
  });

  it('names the field of a config file it cannot use, exit 2', async () => {
    mkdirSync(join(directory, 'bad-config', 'kubeha'), { recursive: true });
    writeFileSync(join(directory, 'bad-config', 'kubeha', 'config.json'), JSON.stringify({ cluster: 7 }));
    const run = await kubeha(['status', '--simulate'], { env: { ...env, XDG_CONFIG_HOME: join(directory, 'bad-config') } });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/config\.json: cluster: .*string/);
  });
});
