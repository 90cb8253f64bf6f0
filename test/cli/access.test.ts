// kubeha access grant | revoke | list, and status with external services, against a simulated account
// bootstrapped from examples/runbook-input.json: what each prints, what it changes, exit codes, and that
// no kubeconfig content appears in any command, its output or the account's records.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAccount } from '../../cli/simulated-account.js';
import { ROOT, kubeha, temporaryDirectory } from './support.js';
import { rmSync } from 'node:fs';

const RUNBOOK = join(ROOT, 'examples/runbook-input.json');
let directory: string;
let env: Record<string, string>;

beforeAll(async () => {
  directory = temporaryDirectory();
  env = { KUBEHA_STATE_DIR: join(directory, 'state'), XDG_CONFIG_HOME: join(directory, 'config') };
  const bootstrap = await kubeha(['bootstrap', '--cluster', 'prod-cn', '--input', RUNBOOK, '--simulate', '--yes', '--no-progress'], { env });
  if (bootstrap.code !== 0) throw new Error(`bootstrap failed: ${bootstrap.stderr}`);
}, 120_000);
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

/** The simulated account as the commands left it: secrets, command parameters and outputs. */
async function account() {
  const opened = await openAccount(env, 'default');
  try {
    return opened.fleet;
  } finally {
    await opened.release();
  }
}

describe('kubeha access', () => {
  it('grant issues the kubeconfig on a master, stores it under the user and prints only where it is', async () => {
    // Act
    const run = await kubeha(['access', 'grant', '--cluster', 'prod-cn', '--user', 'alice', '--group', 'app-team', '--cluster-role', 'edit', '--ttl', '8h', '--simulate', '--yes', '--json'], { env });

    // Assess
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const granted = JSON.parse(run.stdout) as Record<string, string>;
    expect(granted).toEqual({
      cluster: 'prod-cn',
      user: 'alice',
      group: 'app-team',
      clusterRole: 'edit',
      binding: 'kubeha-access.alice',
      secretName: 'kubeha/local/prod-cn/users/alice',
      expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      issuedOn: expect.stringMatching(/^i-/),
    });
    const fleet = await account();
    const secret = fleet.findSecret('kubeha/local/prod-cn/users/alice')!;
    const kubeconfig = secret.versions.at(-1)!.value;
    expect(kubeconfig).toContain('kind: Config');
    expect(secret.tags).toMatchObject({ 'kubeha:user': 'alice', 'kubeha:group': 'app-team', 'kubeha:cluster-role': 'edit', 'kubeha:expires': granted.expiresAt });
    expect(fleet.clusters.get('prod-cn')!.userBindings).toMatchObject({ alice: { clusterRole: 'edit', group: 'app-team' } });
    // The key material is nowhere but in the secret: not in the output, a command's parameters or output, or an SDK call.
    const key = /client-key-data: (\S+)/.exec(kubeconfig)![1]!;
    const recorded = JSON.stringify([run.stdout, fleet.invocations.map((invocation) => [invocation.parameters, invocation.stdout, invocation.stderr]), fleet.calls, [...fleet.parameters.values()]]);
    expect(recorded).not.toContain(key);
    expect(recorded).not.toContain('client-certificate-data');
  });

  it('list shows who has access, from the secrets\' tags, as a table and as JSON', async () => {
    const text = await kubeha(['access', 'list', '--cluster', 'prod-cn', '--simulate'], { env });
    const json = await kubeha(['access', 'list', '--cluster', 'prod-cn', '--simulate', '--json'], { env });

    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^user\s+group\s+cluster role\s+expires \(UTC\)/);
    expect(text.stdout).toMatch(/alice\s+app-team\s+edit\s+\d{4}-/);
    expect(JSON.parse(json.stdout)).toEqual({ cluster: 'prod-cn', users: [expect.objectContaining({ user: 'alice', group: 'app-team', clusterRole: 'edit', expired: false, secretName: 'kubeha/local/prod-cn/users/alice' })] });
  });

  it('revoke deletes the binding and the secret and says the certificate stays valid until it expires; a second revoke changes nothing', async () => {
    const first = await kubeha(['access', 'revoke', '--cluster', 'prod-cn', '--user', 'alice', '--simulate', '--yes'], { env });
    const second = await kubeha(['access', 'revoke', '--cluster', 'prod-cn', '--user', 'alice', '--simulate', '--yes', '--json'], { env });
    const list = await kubeha(['access', 'list', '--cluster', 'prod-cn', '--simulate', '--json'], { env });

    expect(first.code).toBe(0);
    expect(first.stdout.replace(/\s+/g, ' ')).toMatch(/Revoked alice: ClusterRoleBinding kubeha-access\.alice and secret kubeha\/local\/prod-cn\/users\/alice deleted\. The certificate stays valid until \S+Z/);
    expect(JSON.parse(second.stdout)).toEqual({ cluster: 'prod-cn', user: 'alice', bindingDeleted: false, secretDeleted: false, certificateValidUntil: null });
    expect(JSON.parse(list.stdout)).toEqual({ cluster: 'prod-cn', users: [] });
    const fleet = await account();
    expect(fleet.findSecret('kubeha/local/prod-cn/users/alice')).toBeUndefined();
    expect(fleet.clusters.get('prod-cn')!.userBindings?.alice).toBeUndefined();
  });

  it('refuses bad options with exit 2, naming each, before anything is sent', async () => {
    const before = (await account()).invocations.length;

    const run = await kubeha(['access', 'grant', '--cluster', 'prod-cn', '--user', 'Alice Smith', '--group', 'system:masters', '--ttl', '90d', '--simulate', '--yes', '--json'], { env });

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--user: is "Alice Smith"');
    expect(run.stderr).toContain('--group: is "system:masters": system groups (system:masters bypasses RBAC)');
    expect(run.stderr).toContain('--ttl: must be at most 720h');
    expect(JSON.parse(run.stdout)).toEqual({ error: { message: expect.stringContaining('--user'), exitCode: 2 } });
    expect((await account()).invocations.length).toBe(before);
  });

  it("fails with exit 1 and the master's reason for a ClusterRole the cluster does not have", async () => {
    const run = await kubeha(['access', 'grant', '--cluster', 'prod-cn', '--user', 'bob', '--group', 'ops', '--cluster-role', 'app-admin', '--simulate', '--yes'], { env });

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Could not grant access for bob: ClusterRole app-admin does not exist in prod-cn');
  });

  it('asks before a grant and shows the plan with --dry-run, changing nothing', async () => {
    const run = await kubeha(['access', 'grant', '--cluster', 'prod-cn', '--user', 'carol', '--group', 'ops', '--simulate', '--dry-run'], { env });

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Bind carol to ClusterRole view (ClusterRoleBinding kubeha-access.carol)');
    expect(run.stdout).toContain('Dry run: nothing was changed.');
    expect((await account()).findSecret('kubeha/local/prod-cn/users/carol')).toBeUndefined();
  });
});

describe('kubeha status with external services', () => {
  it('shows each endpoint and why the unreachable one does not answer, in text and JSON', async () => {
    const text = await kubeha(['status', '--cluster', 'prod-cn', '--simulate'], { env });
    const json = await kubeha(['status', '--cluster', 'prod-cn', '--simulate', '--json'], { env });

    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/External services, from worker i-[0-9a-f]+:/);
    expect(text.stdout).toMatch(/rds-mysql\s+mysql\s+yes/);
    expect(text.stdout).toMatch(/vds-mongodb\s+mongodb\s+NO/);
    expect(text.stdout).toContain('vds-mongodb 52.82.106.24:27017: no answer within 5 s');
    const status = JSON.parse(json.stdout) as { externalServices: { endpoints: { name: string; reachable: boolean }[] } };
    expect(status.externalServices.endpoints.filter((endpoint) => !endpoint.reachable).map((endpoint) => endpoint.name)).toEqual(['vds-mongodb']);
  });
});
