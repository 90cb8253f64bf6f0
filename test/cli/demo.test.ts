import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('npm run demo', () => {
  it('bootstraps the simulated cluster, runs three drills and summarizes them within 80 columns, well under a minute', () => {
    // Act: the same entry point `npm run demo` runs, in its own process.
    const started = Date.now();
    const demo = spawnSync(process.execPath, ['--import', 'tsx', 'cli/demo.ts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, CI: 'true' } });
    const seconds = (Date.now() - started) / 1000;

    // Assess
    expect(demo.stderr).toBe('');
    expect(demo.status).toBe(0);
    expect(seconds).toBeLessThan(60);
    const summary = demo.stdout.slice(demo.stdout.indexOf('\nSummary'));
    const rows = summary.split('\n').filter((line) => /^(bootstrap|stop the|terminate a)/.test(line));
    expect(rows.map((row) => row.split('  ')[0])).toEqual(['bootstrap', 'stop the EIP holder', 'terminate a master', 'terminate a worker']);
    for (const row of rows) {
      const [, healed, heal, calls, transitions] = /^\S.*?\s{2,}(yes|NO), (\d+) s\s+.*?(\d+)\s+(\d+)$/.exec(row) ?? [];
      expect(healed, row).toBe('yes');
      expect(Number(heal)).toBeGreaterThan(30);
      expect(Number(heal)).toBeLessThan(1200);
      expect(Number(calls)).toBeGreaterThan(20);
      expect(Number(transitions)).toBeGreaterThan(20);
    }
    expect(rows[1]).toMatch(/\s([5-9]|1\d) s, 9\d\.\d+%\s+0 s, 100%/);
    // It reads well in an 80-column terminal: no line wraps.
    expect(demo.stdout.split('\n').filter((line) => line.length > 80)).toEqual([]);
    expect(demo.stdout).toMatch(/Elastic IP 203\.0\.113\.10 moved to i-[0-9a-f]+/);
    expect(demo.stdout).toMatch(/launched\s+i-[0-9a-f]+\s+at\s+10\.0\.\d+\.\d+\s+to\s+replace\s+i-[0-9a-f]+/);
    expect(demo.stdout).toMatch(/etcd snapshot saved to\s+s3:\/\//);
    // The replaced worker came back with the runbook's six volumes, and status shows the external services.
    expect(demo.stdout).toMatch(/Replacement worker i-[0-9a-f]+ mounted its volumes before joining:\n\s+\/prelogin\s+10\.0\.1\.19:\/prelogin_files\n(\s+\/\S+\s+10\.0\.1\.19:\/\S+\n){5}/);
    expect(demo.stdout).toMatch(/External services, from worker i-[0-9a-f]+:/);
    expect(demo.stdout).toMatch(/vds-mongodb\s+mongodb\s+NO/);
  });
});
