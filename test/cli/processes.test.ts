// The CLI as its own process, as a user or a script runs it: a simulated account kept across
// processes, --json on every command, the exit codes, a pipe closed early, Ctrl-C, concurrent
// commands, shell completion, the AWS region chain and an old Node.js.
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, EXAMPLE, NODE, ROOT, inputFile, kubehaProcess, shell, startKubeha, temporaryDirectory } from './support.js';

let directory: string;
let env: Record<string, string>;
let bootstrapArn: string;

interface Member {
  role: string;
  instanceId: string;
  state: string;
}

beforeAll(() => {
  directory = temporaryDirectory();
  env = { KUBEHA_STATE_DIR: join(directory, 'state'), HOME: directory };
  const bootstrap = kubehaProcess(['bootstrap', '--cluster', 'prod-eu', '--input', EXAMPLE, '--simulate', '--yes', '--json'], env);
  if (bootstrap.code !== 0) throw new Error(`the bootstrap the tests share failed: ${bootstrap.stderr}`);
  bootstrapArn = (JSON.parse(bootstrap.stdout) as { executionArn: string }).executionArn;
});
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('a simulated account across processes', () => {
  it('keeps the cluster a bootstrap made: later processes see it, change it, and see the change', () => {
    // Act: four separate processes after the bootstrap.
    const before = kubehaProcess(['status', '--cluster', 'prod-eu', '--simulate', '--json'], env);
    const kubeconfig = kubehaProcess(['kubeconfig', '--cluster', 'prod-eu', '--simulate', '--output', join(directory, 'prod-eu.kubeconfig')], env);
    const drill = kubehaProcess(['drill', '--cluster', 'prod-eu', '--simulate', '--target', 'worker', '--action', 'terminate', '--yes'], env);
    const after = kubehaProcess(['status', '--cluster', 'prod-eu', '--simulate', '--json'], env);

    // Assess
    expect([before.code, kubeconfig.code, drill.code, after.code]).toEqual([0, 0, 0, 0]);
    expect(statSync(join(directory, 'prod-eu.kubeconfig')).mode & 0o777).toBe(0o600);
    const membersBefore = (JSON.parse(before.stdout) as { members: Member[] }).members;
    const statusAfter = JSON.parse(after.stdout) as { members: Member[]; executions: { machine: string; status: string }[] };
    expect(membersBefore).toHaveLength(8);
    const workersBefore = membersBefore.filter((member) => member.role === 'worker').map((member) => member.instanceId);
    const workersAfter = statusAfter.members.filter((member) => member.role === 'worker').map((member) => member.instanceId);
    expect(workersAfter).toHaveLength(3);
    expect(workersAfter.filter((id) => !workersBefore.includes(id))).toHaveLength(1);
    expect(statusAfter.executions.map((execution) => `${execution.machine} ${execution.status}`)).toEqual(['heal-worker SUCCEEDED', 'drill-cluster SUCCEEDED', 'bootstrap-cluster SUCCEEDED']);
  });

  it('forgets every cluster after `kubeha simulate reset`, and says "not found" with exit 5', () => {
    // Prepare
    const profile = ['--simulate', '--profile', 'scratch'];
    const made = kubehaProcess(['plan', '--cluster', 'scratch', '--input', inputFile(directory, { clusterName: 'scratch' }), ...profile], env);

    // Act
    const reset = kubehaProcess(['simulate', 'reset', '--profile', 'scratch', '--yes'], env);
    const shownAfter = kubehaProcess(['simulate', 'show', '--profile', 'scratch', '--json'], env);
    const status = kubehaProcess(['status', '--cluster', 'scratch', ...profile], env);

    // Assess
    expect([made.code, reset.code, shownAfter.code]).toEqual([0, 0, 0]);
    expect(JSON.parse(shownAfter.stdout)).toMatchObject({ clusters: [] });
    expect(status.code).toBe(5);
  });

  it('lets two commands run at once on one account without losing either', async () => {
    // Act: two bootstraps started together in the same account, each cluster with its own Elastic IP.
    const clusters = { alpha: 'eipalloc-0a1a1a1a1a1a1a1a1', beta: 'eipalloc-0b2b2b2b2b2b2b2b2' };
    const commands = Object.entries(clusters).map(([cluster, elasticIpAllocationId]) =>
      startKubeha(['bootstrap', '--cluster', cluster, '--input', inputFile(directory, { clusterName: cluster, elasticIpAllocationId }), '--simulate', '--profile', 'together', '--yes'], env, /$^/),
    );
    const results = await Promise.all(commands.map((command) => command.finished));
    const shown = kubehaProcess(['simulate', 'show', '--profile', 'together', '--json'], env);

    // Assess
    expect(results.map((result) => [result.code, result.stderr])).toEqual([
      [0, ''],
      [0, ''],
    ]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ clusters: ['alpha', 'beta'], executions: 2 });
  });
});

describe('--json and exit codes, for every command', () => {
  const parse = `node -e 'JSON.parse(require("fs").readFileSync(0, "utf8"))'`;
  const cases: [string, string, number][] = [
    ['plan', 'plan --cluster prod-eu --input examples/bootstrap-input.json --simulate', 0],
    ['bootstrap refused without --yes', 'bootstrap --cluster prod-eu --input examples/bootstrap-input.json --simulate', 3],
    ['status of an unknown cluster', 'status --cluster typo --simulate', 5],
    ['status without a region', 'status --cluster prod-eu', 4],
    ['kubeconfig', 'kubeconfig --cluster prod-eu --simulate --output DIRECTORY/admin.conf', 0],
    ['rotate', 'rotate --cluster prod-eu --simulate --yes', 0],
    ['heal of a stranger', 'heal --cluster prod-eu --simulate --instance i-0000000000000beef --yes', 5],
    ['drill --dry-run', 'drill --cluster prod-eu --simulate --target master --action stop --dry-run', 0],
    ['follow', 'follow BOOTSTRAP_ARN --simulate', 0],
    ['simulate show', 'simulate show', 0],
    ['simulate reset', 'simulate reset --profile throwaway --yes', 0],
    ['completion', 'completion bash', 0],
    ['an unknown command', 'stauts --cluster prod-eu', 2],
  ];

  it.each(cases)('%s prints only JSON on standard output and exits %#', (_name, command, expected) => {
    // Prepare
    const args = command
      .replace('DIRECTORY', directory)
      .replace('BOOTSTRAP_ARN', bootstrapArn);

    // Act: AWS_EC2_METADATA_DISABLED keeps the SDK from looking for an instance role on the network.
    const run = shell(`kubeha ${args} --json | ${parse}; echo "exit codes: \${PIPESTATUS[0]} \${PIPESTATUS[1]}"`, { ...env, AWS_EC2_METADATA_DISABLED: 'true' });

    // Assess: the CLI's exit code, and JSON.parse's (0: standard output was one JSON document).
    expect(run.stdout, run.stderr).toBe(`exit codes: ${expected} 0\n`);
  });

  it('has a test above for the exit code of every command (status and bootstrap --json are parsed in the tests above too)', () => {
    const commands = new Set(cases.map(([, command]) => command.split(' ').slice(0, command.startsWith('simulate') ? 2 : 1).join(' ')));
    expect([...commands].sort()).toEqual(['bootstrap', 'completion', 'drill', 'follow', 'heal', 'kubeconfig', 'plan', 'rotate', 'simulate reset', 'simulate show', 'status', 'stauts'].sort());
  });
});

describe('pipes, Ctrl-C and watching', () => {
  it('finishes and saves a bootstrap whose reader went away early (`| head -2`), without an EPIPE error', () => {
    // Act
    const run = shell(`kubeha bootstrap --cluster piped --input ${inputFile(directory, { clusterName: 'piped' })} --simulate --profile piped --yes | head -2; echo "exit code: \${PIPESTATUS[0]}"`, env);
    const status = kubehaProcess(['status', '--cluster', 'piped', '--simulate', '--profile', 'piped'], env);

    // Assess
    expect(run.stderr).toBe('');
    expect(run.stdout.split('\n')).toEqual(['Started bootstrap-cluster execution piped-bootstrap-20261124090000', '[00:00] 1/12 Validate the input', 'exit code: 0', '']);
    expect(status.code).toBe(0);
  });

  it('stops `status --watch` once its reader went away', () => {
    const run = shell('kubeha status --cluster prod-eu --simulate --watch --interval 0.2 | head -1; echo "exit code: ${PIPESTATUS[0]}"', env);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('Cluster prod-eu: https://k8s.prod.example.com:6443, Kubernetes 1.36.4\nexit code: 0\n');
  });

  it('on Ctrl-C, finishes the simulated execution, saves it and says how to re-attach; `kubeha follow` then shows it', async () => {
    // Prepare
    const command = startKubeha(['bootstrap', '--cluster', 'stopped', '--input', inputFile(directory, { clusterName: 'stopped' }), '--simulate', '--profile', 'interrupted', '--yes'], env, /^Started /m);
    await command.ready;

    // Act
    command.child.kill('SIGINT');
    const interrupted = await command.finished;
    const reattach = /npx kubeha follow (arn:\S+) --simulate --profile interrupted\n/.exec(interrupted.stderr);
    const followed = kubehaProcess(['follow', reattach?.[1] ?? 'missing', '--simulate', '--profile', 'interrupted'], env);

    // Assess
    expect(interrupted.code).toBe(130);
    expect(reattach, interrupted.stderr).not.toBeNull();
    expect(followed.code).toBe(0);
    expect(followed.stdout).toContain('[00:00] 12/12 Record and summarize');
    expect(followed.stdout).toMatch(/Execution stopped-bootstrap-\d+ succeeded\./);
  });

  it('`status --watch` looks again every interval until Ctrl-C', async () => {
    const command = startKubeha(['status', '--cluster', 'prod-eu', '--simulate', '--watch', '--interval', '0.2'], env, /(^Cluster prod-eu:[^]*){2}/m);
    await command.ready;
    command.child.kill('SIGINT');
    const run = await command.finished;
    expect(run.code).toBe(130);
    expect(run.stdout.match(/^Cluster prod-eu:/gm)?.length).toBeGreaterThanOrEqual(2);
  });
});

describe('the environment kubeha runs in', () => {
  it('says how to set a region when none is configured, exit 4', () => {
    const run = kubehaProcess(['status', '--cluster', 'prod-eu'], { HOME: directory, AWS_EC2_METADATA_DISABLED: 'true' });
    expect(run.code).toBe(4);
    expect(run.stderr).toBe('kubeha: No AWS region is configured: pass --region, set AWS_REGION, or give the profile a region with `aws configure set region eu-west-1`.\n');
  });

  it.each([
    ['the profile in the AWS config file', { AWS_CONFIG_FILE: 'CONFIG' }],
    ['AWS_DEFAULT_REGION', { AWS_DEFAULT_REGION: 'eu-west-1' }],
  ])('finds the region in %s, then says the credentials are missing, exit 4', (_where, extra) => {
    // Prepare
    const config = join(directory, 'aws-config');
    writeFileSync(config, '[default]\nregion = eu-west-1\n');
    const environment = Object.fromEntries(Object.entries(extra).map(([key, value]) => [key, value === 'CONFIG' ? config : value]));

    // Act
    const run = kubehaProcess(['status', '--cluster', 'prod-eu'], { HOME: directory, AWS_EC2_METADATA_DISABLED: 'true', AWS_SHARED_CREDENTIALS_FILE: join(directory, 'none'), ...environment });

    // Assess
    expect(run.code).toBe(4);
    expect(run.stderr).toBe('kubeha: No usable AWS credentials were found: run `aws configure` or `aws sso login`, pass --profile, or try the command offline with --simulate.\n');
  });

  it('tells a user of an old Node.js which version it needs and how to get it, exit 2', () => {
    // Prepare: this Node.js, reporting itself as 20.
    const pretend = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.11.1"})';

    // Act
    const run = shell(`"${NODE}" --import '${pretend}' "${BIN}" --version`, {});

    // Assess
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('kubeha: needs Node.js 22 or newer, and this is Node.js 20.11.1');
    expect(run.stderr).toContain('npx kubeha');
  });

  it('completes commands, options and option values in bash', () => {
    // Prepare
    const script = join(directory, 'kubeha.bash');
    writeFileSync(script, kubehaProcess(['completion', 'bash'], {}).stdout);

    // Act
    const complete = (words: string) => shell(`source ${script}\nCOMP_WORDS=(${words}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _kubeha; echo "\${COMPREPLY[*]}"`, {}).stdout.trim();

    // Assess
    expect(complete('kubeha dr')).toBe('drill');
    expect(complete('kubeha drill --ac')).toBe('--action');
    expect(complete('kubeha drill --action ""')).toBe('stop terminate');
    expect(complete('kubeha simulate r')).toBe('reset');
    expect(complete('kubeha status --w')).toBe('--watch');
  });

  it('writes a zsh completion that loads the same function through bashcompinit', () => {
    const run = kubehaProcess(['completion', 'zsh'], {});
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n').slice(0, 2)).toEqual(['#compdef kubeha', 'autoload -U +X bashcompinit && bashcompinit']);
    expect(run.stdout).toContain('complete -F _kubeha kubeha');
  });

  it('runs as `npx kubeha` from the repository', () => {
    mkdirSync(join(directory, 'npm-cache'), { recursive: true });
    const run = shell('npx --no-install kubeha --version', { HOME: directory, npm_config_cache: join(directory, 'npm-cache'), PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH}` });
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
