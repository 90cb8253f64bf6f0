// check-external-services.sh against real listeners on 127.0.0.1, and the user access scripts with
// doubles of kubectl, kubeadm and the AWS CLI: the kubeconfig must reach the secret and nothing else.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { type AddressInfo, type Server, createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SCRIPTS, Sandbox } from './sandbox.js';

/** Runs a script without blocking this process, so the listeners in it keep answering. */
function runAsync(script: string, env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string; result: Record<string, unknown> | undefined }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [join(SCRIPTS, script)], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (status) => {
      const line = stdout.split('\n').find((candidate) => candidate.startsWith('KUBEHA_RESULT '));
      resolve({ status, stdout, stderr, result: line ? (JSON.parse(line.slice('KUBEHA_RESULT '.length)) as Record<string, unknown>) : undefined });
    });
  });
}

function listen(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer((socket) => socket.end());
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

describe('check-external-services.sh', () => {
  let up: Server;
  let closedPort: number;
  beforeEach(async () => {
    up = await listen();
    // A port that was just free: bound, then closed, so nothing listens there.
    const closed = await listen();
    closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
  });
  afterEach(() => new Promise((resolve) => up.close(resolve)));

  it('should report each endpoint on its own: the listener answers, the closed port and an unknown name do not, and the step still succeeds', async () => {
    // Prepare
    const upPort = (up.address() as AddressInfo).port;
    const endpoints = [`rds-mysql:mysql:127.0.0.1:${upPort}`, `vds-redis:redis:127.0.0.1:${closedPort}`, 'vds-mongodb:mongodb:mongo.invalid:27017'].join(',');

    // Act
    const run = await runAsync('check-external-services.sh', { KUBEHA_ENDPOINTS: endpoints });

    // Assess
    expect(run.status, run.stderr).toBe(0);
    expect(run.result).toEqual({
      endpoints: [
        { name: 'rds-mysql', kind: 'mysql', host: '127.0.0.1', port: upPort, reachable: true },
        { name: 'vds-redis', kind: 'redis', host: '127.0.0.1', port: closedPort, reachable: false, reason: `connection refused: nothing listens on port ${closedPort}` },
        { name: 'vds-mongodb', kind: 'mongodb', host: 'mongo.invalid', port: 27017, reachable: false, reason: 'the name mongo.invalid does not resolve' },
      ],
    });
  });

  it('should refuse an Endpoints value that is not plain data, and report nothing for none', async () => {
    const hostile = await runAsync('check-external-services.sh', { KUBEHA_ENDPOINTS: 'db:mysql:$(reboot):3306' });
    expect(hostile.status).toBe(1);
    expect(hostile.stderr).toContain('KUBEHA_ENDPOINTS must be none or NAME:KIND:HOST:PORT');
    const none = await runAsync('check-external-services.sh', { KUBEHA_ENDPOINTS: 'none' });
    expect(none.result).toEqual({ endpoints: [] });
  });
});

const USER_ENV = {
  KUBEHA_USER_NAME: 'alice',
  KUBEHA_USER_GROUP: 'app-team',
  KUBEHA_CLUSTER_ROLE: 'edit',
  KUBEHA_VALIDITY_HOURS: '8',
  KUBEHA_USER_SECRET_ID: 'kubeha/ci/prod-eu/users/alice',
  KUBEHA_CLUSTER_NAME: 'prod-eu',
  KUBEHA_REGION: 'eu-west-1',
  KUBEHA_API_WAIT_SECONDS: '0',
};

/**
 * kubectl for what the access scripts ask: /readyz, the kubeadm-config ConfigMap, ClusterRoles (the
 * user-facing defaults exist), ClusterRoleBindings kept as files. kubeadm `kubeconfig user` (flags as in
 * cmd/kubeadm/app/cmd/kubeconfig.go) prints a kubeconfig whose client certificate, made with openssl, has
 * CN=--client-name, O=--org and a validity of --validity-period rounded up to whole days. The AWS CLI
 * keeps secrets as files; `--secret-string file://PATH` reads PATH as the real CLI does.
 */
function stubAccessTools(sandbox: Sandbox): void {
  sandbox.file('etc/kubernetes/admin.conf', 'apiVersion: v1\nkind: Config\n');
  sandbox.stub(
    'kubectl',
    `args=" $* "
case "$args" in
  *" --raw /readyz "*) echo ok ;;
  *" get configmap kubeadm-config "*) printf 'apiVersion: kubeadm.k8s.io/v1beta4\\nkind: ClusterConfiguration\\ncontrolPlaneEndpoint: k8s.example.com:6443\\n' ;;
  *" get clusterrole "*) for role in cluster-admin admin edit view; do [[ "$args" == *" get clusterrole $role "* ]] && exit 0; done; echo 'Error from server (NotFound)' >&2; exit 1 ;;
  *" get clusterrolebinding "*)
    name="$(sed -E 's/.* get clusterrolebinding ([^ ]+).*/\\1/' <<<"$args")"
    [[ -f "$STATE/binding-$name" ]] || { echo 'Error from server (NotFound)' >&2; exit 1; }
    [[ "$args" == *jsonpath* ]] && awk '/^roleRef:/ {inside=1} inside && /name:/ {gsub(/"/, "", $2); print $2; exit}' "$STATE/binding-$name"; exit 0 ;;
  *" delete clusterrolebinding "*) name="$(sed -E 's/.* delete clusterrolebinding ([^ ]+).*/\\1/' <<<"$args")"; rm "$STATE/binding-$name" ;;
  *" apply -f - "*) doc="$(cat)"; name="$(awk '/^  name:/ {gsub(/"/, "", $2); print $2; exit}' <<<"$doc")"; printf '%s\\n' "$doc" >"$STATE/binding-$name" ;;
  *) echo "unexpected kubectl call: $*" >&2; exit 2 ;;
esac`,
  );
  sandbox.stub(
    'kubeadm',
    `[[ "$1 $2" == "kubeconfig user" ]] || { echo "unexpected kubeadm call: $*" >&2; exit 2; }
shift 2
while (($#)); do case "$1" in --config) config="$2"; shift 2 ;; --client-name) name="$2"; shift 2 ;; --org) org="$2"; shift 2 ;; --validity-period) period="$2"; shift 2 ;; *) shift ;; esac; done
grep -q 'kind: ClusterConfiguration' "$config" || { echo "error: no ClusterConfiguration in $config" >&2; exit 1; }
cp "$config" "$STATE/kubeadm-config-seen"
hours="\${period%h}"; days=$(( (hours + 23) / 24 ))
work="$(mktemp -d)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key" -out "$work/crt" -subj "/O=$org/CN=$name" -days "$days" 2>/dev/null
printf 'apiVersion: v1\\nkind: Config\\nclusters:\\n- cluster:\\n    server: https://k8s.example.com:6443\\n  name: kubernetes\\nusers:\\n- name: %s\\n  user:\\n    client-certificate-data: %s\\n    client-key-data: %s\\n' "$name" "$(base64 -w0 "$work/crt")" "$(base64 -w0 "$work/key")"
base64 -w0 "$work/key" >"$STATE/issued-key"
rm -rf "$work"`,
  );
  sandbox.stub(
    'aws',
    `id=""; value=""
args=("$@")
for ((i = 0; i < $#; i++)); do
  case "\${args[i]}" in --secret-id | --name) id="\${args[i+1]}" ;; --secret-string) value="\${args[i+1]}" ;; esac
done
file="$STATE/secret-\${id//\\//_}"
case "$1 $2" in
  "secretsmanager describe-secret") [[ -f "$file" ]] || { echo "An error occurred (ResourceNotFoundException)" >&2; exit 254; } ;;
  "secretsmanager create-secret") [[ ! -f "$file" ]] || { echo "An error occurred (ResourceExistsException)" >&2; exit 254; }; [[ "$value" == file://* ]] || exit 3; cp "\${value#file://}" "$file" ;;
  "secretsmanager put-secret-value") [[ "$value" == file://* ]] || exit 3; cp "\${value#file://}" "$file" ;;
  "secretsmanager tag-resource") ;;
  "secretsmanager delete-secret") rm "$file" ;;
  *) echo "unexpected aws call: $*" >&2; exit 2 ;;
esac`,
  );
}

/** Every file under a directory with its content, for the leftover search. */
function filesUnder(directory: string): { path: string; content: string }[] {
  return readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .map((relative) => join(directory, relative))
    .filter((path) => statSync(path).isFile())
    .map((path) => ({ path, content: readFileSync(path, 'utf8') }));
}

describe('grant-user-access.sh and revoke-user-access.sh', () => {
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = new Sandbox();
    stubAccessTools(sandbox);
  });
  afterEach(() => sandbox.dispose());

  it('should issue the certificate with kubeadm, bind the user, and move the kubeconfig into the secret without it appearing anywhere else', () => {
    // Act
    const run = sandbox.run('grant-user-access.sh', USER_ENV);

    // Assess: kubeadm got the cluster's configuration and the user's name, group and validity.
    expect(run.status, run.stderr).toBe(0);
    const kubeadm = run.calls.find((call) => call.startsWith('kubeadm '));
    expect(kubeadm).toMatch(/^kubeadm kubeconfig user --config \S+\/cluster\.yaml --client-name alice --org app-team --validity-period 8h$/);
    expect(readFileSync(join(sandbox.state, 'kubeadm-config-seen'), 'utf8')).toContain('controlPlaneEndpoint: k8s.example.com:6443');
    const binding = readFileSync(join(sandbox.state, 'binding-kubeha-access.alice'), 'utf8');
    expect(binding).toContain('kind: ClusterRole\n  name: "edit"');
    expect(binding).toContain('kind: User\n    name: "alice"');
    // The secret holds the kubeconfig; the result says where and until when, nothing more.
    const key = readFileSync(join(sandbox.state, 'issued-key'), 'utf8');
    const secret = readFileSync(join(sandbox.state, 'secret-kubeha_ci_prod-eu_users_alice'), 'utf8');
    expect(secret).toContain(`client-key-data: ${key}`);
    expect(run.result).toEqual({ user: 'alice', group: 'app-team', clusterRole: 'edit', binding: 'kubeha-access.alice', secretName: 'kubeha/ci/prod-eu/users/alice', expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) });
    expect(Date.parse(String(run.result?.expiresAt)) - Date.now()).toBeGreaterThan(7 * 3600_000);
    // Nowhere else: output, arguments, files left on the node.
    for (const text of [run.stdout, run.stderr, run.calls.join('\n')]) expect(text).not.toContain(key.slice(0, 40));
    const leftovers = filesUnder(sandbox.root).concat(filesUnder(sandbox.directory).filter((file) => !file.path.startsWith(sandbox.state)));
    expect(leftovers.filter((file) => file.content.includes(key.slice(0, 40))).map((file) => file.path)).toEqual([]);
  });

  it('should renew on a second grant (a new secret value, the same binding) and rebind when the role changes', () => {
    expect(sandbox.run('grant-user-access.sh', USER_ENV).status).toBe(0);
    const firstKey = readFileSync(join(sandbox.state, 'issued-key'), 'utf8');

    const again = sandbox.run('grant-user-access.sh', { ...USER_ENV, KUBEHA_CLUSTER_ROLE: 'view' });

    expect(again.status, again.stderr).toBe(0);
    expect(again.calls.some((call) => call.startsWith('aws secretsmanager put-secret-value'))).toBe(true);
    expect(again.calls.some((call) => call.startsWith('aws secretsmanager create-secret'))).toBe(false);
    expect(again.calls.some((call) => call.includes('delete clusterrolebinding kubeha-access.alice'))).toBe(true);
    expect(readFileSync(join(sandbox.state, 'binding-kubeha-access.alice'), 'utf8')).toContain('name: "view"');
    expect(readFileSync(join(sandbox.state, 'secret-kubeha_ci_prod-eu_users_alice'), 'utf8')).not.toContain(firstKey);
  });

  it('should refuse a ClusterRole that does not exist, naming it, before issuing anything', () => {
    const run = sandbox.run('grant-user-access.sh', { ...USER_ENV, KUBEHA_CLUSTER_ROLE: 'app-admin' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('ClusterRole app-admin does not exist in prod-eu');
    expect(run.calls.some((call) => call.startsWith('kubeadm') || call.startsWith('aws'))).toBe(false);
  });

  it('should refuse a system: group, which RBAC could never take back', () => {
    const run = sandbox.run('grant-user-access.sh', { ...USER_ENV, KUBEHA_USER_GROUP: 'system:masters' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('KUBEHA_USER_GROUP must be a group name');
    expect(run.calls).toEqual([]);
  });

  it('should revoke by deleting the binding and the secret, and be a no-op the second time', () => {
    expect(sandbox.run('grant-user-access.sh', USER_ENV).status).toBe(0);
    writeFileSync(join(sandbox.state, 'marker'), '');

    const first = sandbox.run('revoke-user-access.sh', USER_ENV);
    const second = sandbox.run('revoke-user-access.sh', USER_ENV);

    expect(first.status, first.stderr).toBe(0);
    expect(first.result).toEqual({ user: 'alice', bindingDeleted: true, secretDeleted: true });
    expect(first.calls).toContain('aws secretsmanager delete-secret --region eu-west-1 --secret-id kubeha/ci/prod-eu/users/alice --force-delete-without-recovery');
    expect(second.status, second.stderr).toBe(0);
    expect(second.result).toEqual({ user: 'alice', bindingDeleted: false, secretDeleted: false });
    expect(second.stdout).toContain('alice had no binding and no secret, nothing to do');
  });
});
