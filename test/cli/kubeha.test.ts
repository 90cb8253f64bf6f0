import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resetEnvironmentForTesting } from '../../functions/adapters/index.js';
import { runCli } from '../../cli/main.js';

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function kubeha(args: string[], options: { isTTY?: boolean; env?: Record<string, string> } = {}): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), isTTY: options.isTTY ?? false, env: options.env ?? {} });
  return { code, stdout, stderr };
}

let directory: string;
const EXAMPLE = new URL('../../examples/bootstrap-input.json', import.meta.url).pathname;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'kubeha-cli-'));
});
afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

function inputFile(overrides: Record<string, unknown>): string {
  const path = join(directory, 'input.json');
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(EXAMPLE, 'utf8')), ...overrides }));
  return path;
}

describe('kubeha plan', () => {
  it('prints the topology and the exact steps, changes nothing, and exits 0', async () => {
    const run = await kubeha(['plan', '--cluster', 'prod-eu', '--input', EXAMPLE, '--simulate']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Cluster prod-eu: 8 tagged instance(s)');
    expect(run.stdout).toMatch(/ 5\. Initialize i-[0-9a-f]+ with kubeadm \(endpoint k8s\.prod\.example\.com:6443\)/);
    expect(run.stdout).toMatch(/ 7\. Join 2 master\(s\) one at a time/);
    expect(run.stdout).toContain('Nothing was changed.');
  });

  it("blocks the runbook's overlapping CIDRs with exit 3, each finding with its fix", async () => {
    const run = await kubeha(['plan', '--cluster', 'prod-eu', '--input', inputFile({ podCidr: '10.0.0.0/18', serviceCidr: '10.96.0.0/12' }), '--simulate']);
    expect(run.code).toBe(3);
    expect(run.stdout).toContain('BLOCKING podCidr: 10.0.0.0/18 overlaps VPC');
    expect(run.stdout).toContain('fix: choose a podCidr outside 10.0.0.0/16');
    expect(run.stdout).not.toContain('Bootstrap would:');
  });

  it('reports machine-readable findings with --json', async () => {
    const run = await kubeha(['plan', '--cluster', 'prod-eu', '--input', inputFile({ podCidr: '10.0.0.0/18' }), '--simulate', '--json']);
    const parsed = JSON.parse(run.stdout) as { findings: { field: string; blocking: boolean }[] };
    expect(run.code).toBe(3);
    expect(parsed.findings.filter((finding) => finding.blocking).map((finding) => finding.field)).toContain('podCidr');
  });

  it('names the field and the reason for invalid input, exit 2', async () => {
    const run = await kubeha(['plan', '--cluster', 'prod-eu', '--input', inputFile({ kubernetesVersion: 'latest' }), '--simulate']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('kubeha: The input is not valid: kubernetesVersion: must be a pinned patch release such as 1.36.4 (no "v", no "latest", no "stable").\n');
  });
});

describe('kubeha bootstrap', () => {
  it('prints plain progress lines when not on a terminal, then the summary', async () => {
    const run = await kubeha(['bootstrap', '--cluster', 'prod-eu', '--input', EXAMPLE, '--simulate']);
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines).toContain('[00:00] 1/12 Validate the input: Validate the input');
    expect(lines.some((line) => /^\[\d\d:\d\d\] 9\/12 Masters, one at a time: Join this master to the control plane$/.test(line))).toBe(true);
    expect(run.stdout).toContain('Cluster prod-eu is up at https://k8s.prod.example.com:6443');
    expect(run.stdout).not.toContain('\u001b[');
  });

  it('redraws a progress block with a bar and every instance on a terminal', async () => {
    const run = await kubeha(['bootstrap', '--cluster', 'prod-eu', '--input', EXAMPLE, '--simulate'], { isTTY: true });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('\u001b[2K');
    expect(run.stdout).toMatch(/\u001b\[\d+A/);
    expect(run.stdout).toContain('12/12 done');
    expect(run.stdout).toMatch(/\[#{24}\] finished - done/);
    expect(run.stdout).toMatch(/ {2}master i-[0-9a-f]+ +10\.0\.\d+\.\d+ +eu-west-1[abc] +running +(joined|initialized)/);
  });

  it('shows the failing step, instance and reason, and exits 3 when preflight refuses', async () => {
    const run = await kubeha(['bootstrap', '--cluster', 'prod-eu', '--input', inputFile({ serviceCidr: '10.0.0.0/16' }), '--simulate']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^kubeha: Bootstrap failed with PreflightFailedError: serviceCidr: 10\.0\.0\.0\/16 overlaps VPC/);
    expect(run.stderr).toContain('Execution: (simulated) arn:aws:states:');
  });
});

describe('kubeha status, kubeconfig, rotate, heal', () => {
  it('shows members, node and etcd health, the Elastic IP holder, the lock and recent executions', async () => {
    const run = await kubeha(['status', '--cluster', 'demo', '--simulate']);
    expect(run.code).toBe(0);
    expect(run.stdout.match(/^master .* Ready +healthy/gm)).toHaveLength(3);
    expect(run.stdout.match(/^worker .* Ready +-/gm)).toHaveLength(3);
    expect(run.stdout).toMatch(/^lb .* 203\.0\.113\.10$/m);
    expect(run.stdout).toContain('Healing lock: free.');
    expect(run.stdout).toMatch(/bootstrap-cluster +demo-bootstrap +SUCCEEDED/);
  });

  it('writes the kubeconfig with mode 600 and does not print it unless asked', async () => {
    const path = join(directory, 'admin.conf');
    const run = await kubeha(['kubeconfig', '--cluster', 'demo', '--simulate', '--output', path]);
    expect(run.code).toBe(0);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toContain('kind: Config');
    expect(run.stdout).not.toContain('kind: Config');
    const printed = await kubeha(['kubeconfig', '--cluster', 'demo', '--simulate', '--stdout']);
    expect(printed.stdout).toContain('kind: Config');
  });

  it('rotates join material without printing it', async () => {
    const run = await kubeha(['rotate', '--cluster', 'demo', '--simulate']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/registered for 30 minutes and the certificates were re-uploaded on i-[0-9a-f]+/);
    expect(run.stdout).not.toMatch(/[a-z0-9]{6}\.[a-z0-9]{16}/);
  });

  it('refuses to heal an instance that is not part of the cluster, exit 5', async () => {
    const run = await kubeha(['heal', '--cluster', 'demo', '--simulate', '--instance', 'i-0000000000000beef']);
    expect(run.code).toBe(5);
  });
});

describe('kubeha drill', () => {
  it('reports a load balancer drill as a table with plausible numbers', async () => {
    const run = await kubeha(['drill', '--cluster', 'demo', '--simulate', '--target', 'lb', '--action', 'stop']);
    expect(run.code).toBe(0);
    const row = run.stdout.split('\n').find((line) => line.startsWith('stop lb'))!;
    const [, seconds, apiOk, outage] = /yes +(\d+) s +([\d.]+)% +(\d+) s +100% +0 s/.exec(row) ?? [];
    expect(Number(seconds)).toBeGreaterThan(30);
    expect(Number(seconds)).toBeLessThan(900);
    expect(Number(apiOk)).toBeGreaterThan(90);
    expect(Number(outage)).toBeGreaterThanOrEqual(5);
  });

  it('rejects a bad target before touching anything, exit 2', async () => {
    const run = await kubeha(['drill', '--cluster', 'demo', '--simulate', '--target', 'etcd', '--action', 'stop']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('kubeha: --target must be master, worker or lb, optionally with an instance: --target master:i-0abc12345def67890.\n');
  });
});

describe('kubeha usage', () => {
  it.each([
    [['plan', '--cluster', 'prod-eu', '--bogus'], "Unknown option '--bogus'"],
    [['launch', '--cluster', 'demo'], 'unknown command "launch"'],
    [['status'], '--cluster is required'],
    [['status', '--cluster', 'Bad_Name'], 'not a valid cluster name'],
  ])('rejects %o with exit 2 and one sentence', async (args, message) => {
    const run = await kubeha(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('prints help for every command', async () => {
    for (const command of ['plan', 'bootstrap', 'status', 'kubeconfig', 'rotate', 'heal', 'drill']) {
      const run = await kubeha([command, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Usage: kubeha ${command}`);
      expect(run.stdout).toContain('--simulate');
    }
  });

  it('says clearly that AWS credentials are missing, exit 4, without a stack trace', async () => {
    // Prepare: no credentials anywhere the SDK looks, and no instance metadata service.
    const saved = { ...process.env };
    for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) delete process.env[key];
    Object.assign(process.env, {
      AWS_CONFIG_FILE: join(directory, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(directory, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_REGION: 'eu-west-1',
    });
    resetEnvironmentForTesting();
    try {
      const run = await kubeha(['status', '--cluster', 'demo']);
      expect(run.code).toBe(4);
      expect(run.stderr).toBe('kubeha: No usable AWS credentials were found: run `aws configure` or `aws sso login`, pass --profile, or try the command offline with --simulate.\n');
    } finally {
      process.env = saved;
    }
  });
});
