import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SCRIPTS } from './sandbox.js';

const require = createRequire(import.meta.url);
const render = require('../../ssm-documents/render.cjs') as { documentNames(): string[]; inlineScript(name: string): string };
const scripts = readdirSync(SCRIPTS).filter((file) => file.endsWith('.sh'));

describe('node scripts', () => {
  it('are all shellcheck-clean, the shared library included', () => {
    const run = spawnSync('shellcheck', ['-x', ...scripts, 'lib/common.sh', 'lib/node-proxy.sh'], { cwd: SCRIPTS, encoding: 'utf8' });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('and the kubeadm, kubectl, etcdctl, crictl and openssl doubles are shellcheck-clean too', () => {
    const doubles = fileURLToPath(new URL('./doubles/', import.meta.url));
    const run = spawnSync('shellcheck', ['-x', 'kubeadm', 'kubectl', 'etcdctl', 'crictl', 'openssl', 'cluster.sh'], { cwd: doubles, encoding: 'utf8' });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it.each(scripts)('%s stays shellcheck-clean once the library is inlined for its document', (script) => {
    const run = spawnSync('shellcheck', ['-s', 'bash', '-'], { input: render.inlineScript(script), encoding: 'utf8' });
    expect(run.stdout).toBe('');
    expect(run.status).toBe(0);
  });

  it.each(scripts)('%s sets errexit, nounset and pipefail before doing anything', (script) => {
    const lines = readFileSync(`${SCRIPTS}${script}`, 'utf8').split('\n').filter((line) => line && !line.startsWith('#'));
    expect(lines[0]).toBe('set -o errexit -o nounset -o pipefail');
  });

  it('are exercised: every document runs a script that exists here', () => {
    const used = new Set(render.documentNames().flatMap((name) => [...readFileSync(new URL(`../../ssm-documents/${name}.yaml`, import.meta.url), 'utf8').matchAll(/#kubeha:script (\S+)'/g)].map((match) => match[1]!)));
    expect([...used].sort()).toEqual(scripts.sort());
  });
});
