// A sandbox to run kubeha's node scripts for real: KUBEHA_ROOT is a temporary directory, and
// commands that would change the machine (kubeadm, systemctl, apt-get, aws, ...) are PATH stubs
// that record their arguments and act on files inside the sandbox.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCRIPTS = fileURLToPath(new URL('../../ssm-documents/scripts/', import.meta.url));

export interface ScriptRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Every stubbed command called during this run, as "name arg arg ...". */
  readonly calls: string[];
  readonly result: Record<string, unknown> | undefined;
}

export class Sandbox {
  readonly directory = mkdtempSync(join(tmpdir(), 'kubeha-script-'));
  readonly root = join(this.directory, 'root');
  readonly bin = join(this.directory, 'bin');
  readonly state = join(this.directory, 'state');
  private readonly callLog = join(this.directory, 'calls.log');

  constructor() {
    for (const directory of [this.root, this.bin, this.state]) mkdirSync(directory, { recursive: true });
  }

  /** Writes a stub for `name`: it logs its argv, then runs `body` (bash) with STATE and ROOT set. */
  stub(name: string, body = 'exit 0'): void {
    const path = join(this.bin, name);
    writeFileSync(
      path,
      `#!/usr/bin/env bash\nset -euo pipefail\nprintf '%s\\n' "${name} $*" >>'${this.callLog}'\nSTATE='${this.state}'\nROOT='${this.root}'\n${body}\n`,
    );
    chmodSync(path, 0o755);
  }

  file(relative: string, content: string): string {
    const path = join(this.root, relative);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
    return path;
  }

  read(relative: string): string {
    return readFileSync(join(this.root, relative), 'utf8');
  }

  exists(relative: string): boolean {
    return existsSync(join(this.root, relative));
  }

  run(script: string, env: Record<string, string>): ScriptRun {
    const before = existsSync(this.callLog) ? readFileSync(this.callLog, 'utf8').split('\n').filter(Boolean).length : 0;
    const child = spawnSync('bash', [join(SCRIPTS, script)], {
      encoding: 'utf8',
      env: { PATH: `${this.bin}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: this.directory, TMPDIR: this.directory, KUBEHA_ROOT: this.root, ...env },
      timeout: 30_000,
    });
    const calls = existsSync(this.callLog) ? readFileSync(this.callLog, 'utf8').split('\n').filter(Boolean).slice(before) : [];
    const resultLine = child.stdout
      .split('\n')
      .reverse()
      .find((line) => line.startsWith('KUBEHA_RESULT '));
    return {
      status: child.status,
      stdout: child.stdout,
      stderr: child.stderr,
      calls,
      result: resultLine ? (JSON.parse(resultLine.slice('KUBEHA_RESULT '.length)) as Record<string, unknown>) : undefined,
    };
  }

  allCalls(): string {
    return existsSync(this.callLog) ? readFileSync(this.callLog, 'utf8') : '';
  }

  dispose(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }
}

/**
 * Join material as the control plane mints it, in its two secrets, and an `aws` stub that serves each like
 * Secrets Manager answers the node's role as infra/iam.cjs grants it: a master reads both, a worker only the
 * worker secret (AccessDeniedException for the other). The node's role is `$STATE/node-role` (master unless set).
 */
export const JOIN_TOKEN = 'k8sha1.q2w3e4r5t6y7u8i9';
export const CERTIFICATE_KEY = 'f'.repeat(8) + '0123456789abcdef'.repeat(3) + 'a'.repeat(8);
export const WORKER_TOKEN = 'wrkr01.a1s2d3f4g5h6j7k8';
export const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kubeha/local/demo/control-plane-join-AbCdEf';
export const WORKER_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kubeha/local/demo/worker-join-GhIjKl';
export const SECRET_VERSION = 'EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE';

export function stubAws(sandbox: Sandbox): void {
  sandbox.stub(
    'aws',
    `case "$1 $2" in
  "secretsmanager get-secret-value")
    # The master-only encryption secret: what the test put in STATE/encryption-keys.json (ENCRYPTION_KEYS by default).
    if [[ " $* " == *" --secret-id ${ENCRYPTION_SECRET_ID} "* ]]; then
      if [[ -f "$STATE/encryption-keys.json" ]]; then cat "$STATE/encryption-keys.json"; else printf '%s\\n' '${ENCRYPTION_KEYS}'; fi
      exit 0
    fi
    [[ " $* " == *" --version-id ${SECRET_VERSION} "* ]] || { echo "An error occurred (ResourceNotFoundException)" >&2; exit 254; }
    role="$(cat "$STATE/node-role" 2>/dev/null || echo master)"
    if [[ " $* " == *" --secret-id ${WORKER_SECRET_ARN} "* && "$role" != lb ]]; then
      printf '%s\\n' '{"token":"${WORKER_TOKEN}"}'
    elif [[ " $* " == *" --secret-id ${SECRET_ARN} "* && "$role" == master ]]; then
      printf '%s\\n' '{"token":"${JOIN_TOKEN}","certificateKey":"${CERTIFICATE_KEY}"}'
    else
      echo "An error occurred (AccessDeniedException) when calling the GetSecretValue operation: the $role role is not authorized to perform: secretsmanager:GetSecretValue" >&2
      exit 254
    fi ;;
  "secretsmanager put-secret-value") touch "$STATE/kubeconfig-stored" ;;
  *) echo "unexpected aws call: $*" >&2; exit 2 ;;
esac`,
  );
}

export const ENCRYPTION_SECRET_ID = 'kubeha/local/demo/encryption-keys';
/** Two keys, as in the middle of a rotation: the first encrypts. */
export const ENCRYPTION_KEYS = JSON.stringify({
  keys: [
    { name: 'key-20261130t1510', secret: Buffer.alloc(32, 7).toString('base64') },
    { name: 'key-20261101t0900', secret: Buffer.alloc(32, 9).toString('base64') },
  ],
});

export const JOIN_ENV = { KUBEHA_JOIN_SECRET_ARN: SECRET_ARN, KUBEHA_JOIN_SECRET_VERSION_ID: SECRET_VERSION, KUBEHA_REGION: 'eu-west-1' };
