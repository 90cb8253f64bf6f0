// apply-node-profile.sh with PATH doubles of mount(8), findmnt(8), systemctl and apt-get that act on
// files inside the sandbox; the fstab it writes and the kubelet drop-in are compared with golden files.
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mountsParameter, nodeProfileSchema } from '../../functions/core/node-profile.js';
import { Sandbox } from './sandbox.js';

const runbook = JSON.parse(readFileSync(new URL('../../examples/runbook-input.json', import.meta.url), 'utf8')) as { nodeProfiles: { worker: unknown } };
const RUNBOOK_MOUNTS = mountsParameter(nodeProfileSchema.parse(runbook.nodeProfiles.worker));
const VOLUMES = ['prelogin_files', 'postlogin_files', 'lti_files', 'moodle_files', 'content_files', 'current_files'];
const golden = (name: string) => readFileSync(new URL(`../golden/${name}`, import.meta.url), 'utf8');
const BASE_FSTAB = 'LABEL=cloudimg-rootfs\t/\t ext4\tdiscard,commit=30,errors=remount-ro\t0 1\nLABEL=UEFI\t/boot/efi\tvfat\tumask=0077\t0 1\n';

/**
 * mount(8) given only a mount point looks it up in /etc/fstab ("mount: /x: can't find in /etc/fstab."
 * otherwise) and runs the type's helper. mount.glusterfs(8) asks the first server for the volume file,
 * then each of backup-volfile-servers=S2:S3; when none serves the volume it prints "Mount failed. Check
 * the log file  for more details." and mount exits 32 (mount(8), EXIT STATUS: 32 mount failure).
 * Which server serves which volume: STATE/gluster-volumes, "server:volume" lines.
 */
function stubMount(sandbox: Sandbox): void {
  sandbox.stub(
    'mount',
    `point="\${*: -1}"
line="$(awk -v point="$point" '$1 !~ /^#/ && $2 == point {print; exit}' "$ROOT/etc/fstab" 2>/dev/null || true)"
[[ -n "$line" ]] || { echo "mount: $point: can't find in /etc/fstab." >&2; exit 1; }
read -r source _ type options _ <<<"$line"
[[ "$type" == glusterfs ]] || { echo "mount: unexpected type $type" >&2; exit 32; }
volume="\${source#*:/}"
servers=("\${source%%:*}")
if [[ "$options" == *backup-volfile-servers=* ]]; then
  backups="\${options#*backup-volfile-servers=}"; backups="\${backups%%,*}"
  IFS=: read -r -a more <<<"$backups"; servers+=("\${more[@]}")
fi
for server in "\${servers[@]}"; do
  if grep -qx "$server:$volume" "$STATE/gluster-volumes" 2>/dev/null; then
    printf '%s %s fuse.glusterfs\\n' "$source" "$point" >>"$STATE/mounts"
    exit 0
  fi
done
echo "Mount failed. Check the log file  for more details." >&2
exit 32`,
  );
  // findmnt(8) -n -o SOURCE --mountpoint P: the source, or exit 1 when nothing is mounted there.
  sandbox.stub('findmnt', `point="\${*: -1}"; awk -v point="$point" '$2 == point {print $1; found=1} END {exit !found}' "$STATE/mounts" 2>/dev/null`);
  sandbox.stub('systemctl');
  sandbox.stub('mount.glusterfs');
}

function serve(sandbox: Sandbox, entries: readonly string[]): void {
  writeFileSync(join(sandbox.state, 'gluster-volumes'), `${entries.join('\n')}\n`);
}

describe('apply-node-profile.sh', () => {
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = new Sandbox();
    stubMount(sandbox);
    sandbox.file('etc/fstab', BASE_FSTAB);
  });
  afterEach(() => sandbox.dispose());

  it("should write the runbook's six volumes to fstab once, mount each, and do nothing on the second run", () => {
    // Prepare: the HA pair serves every volume from both servers.
    serve(sandbox, VOLUMES.flatMap((volume) => [`10.0.1.19:${volume}`, `10.0.3.169:${volume}`]));

    // Act
    const first = sandbox.run('apply-node-profile.sh', { KUBEHA_MOUNTS: RUNBOOK_MOUNTS });
    const fstabAfterFirst = statSync(join(sandbox.root, 'etc/fstab')).mtimeMs;
    const second = sandbox.run('apply-node-profile.sh', { KUBEHA_MOUNTS: RUNBOOK_MOUNTS });

    // Assess: the first run wrote, reloaded systemd and mounted six volumes, keeping the root lines.
    expect(first.status, first.stderr).toBe(0);
    expect(sandbox.read('etc/fstab')).toBe(golden('fstab-runbook'));
    expect(sandbox.read('etc/systemd/system/kubelet.service.d/20-kubeha-mounts.conf')).toBe(golden('kubelet-requires-mounts.conf'));
    expect(first.calls.filter((call) => call.startsWith('mount '))).toEqual(['mount /prelogin', 'mount /postlogin', 'mount /netacad_lti', 'mount /moodle', 'mount /content', 'mount /current']);
    expect(first.calls).toContain('systemctl daemon-reload');
    expect(first.result).toEqual({ changed: true, systemdReloaded: true, mounted: ['/prelogin', '/postlogin', '/netacad_lti', '/moodle', '/content', '/current'], alreadyMounted: [] });
    // The second run is a no-op: fstab untouched, nothing mounted, no reload.
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toContain('node profile already applied (6 mounts), nothing to do');
    expect(statSync(join(sandbox.root, 'etc/fstab')).mtimeMs).toBe(fstabAfterFirst);
    expect(second.calls.filter((call) => call.startsWith('mount ') || call.startsWith('systemctl'))).toEqual([]);
    expect(second.result).toMatchObject({ changed: false, mounted: [], alreadyMounted: expect.arrayContaining(['/prelogin', '/current']) });
  });

  it('should mount from the backup volfile server when the first server does not answer', () => {
    // Prepare: only nfs-2 (10.0.3.169) serves prelogin_files.
    serve(sandbox, ['10.0.3.169:prelogin_files']);

    // Act
    const run = sandbox.run('apply-node-profile.sh', { KUBEHA_MOUNTS: '10.0.1.19+10.0.3.169:prelogin_files:/prelogin:' });

    // Assess
    expect(run.status, run.stderr).toBe(0);
    expect(readFileSync(join(sandbox.state, 'mounts'), 'utf8')).toBe('10.0.1.19:/prelogin_files /prelogin fuse.glusterfs\n');
  });

  it('should fail naming the volume, its servers, the mount point and mount\'s reason when no server serves it', () => {
    // Prepare: prelogin_files is served, postlogin_files by nobody.
    serve(sandbox, ['10.0.1.19:prelogin_files']);

    // Act
    const run = sandbox.run('apply-node-profile.sh', { KUBEHA_MOUNTS: '10.0.1.19+10.0.3.169:prelogin_files:/prelogin:,10.0.1.19+10.0.3.169:postlogin_files:/postlogin:' });

    // Assess
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe('kubeha: error: mounting GlusterFS volume postlogin_files from 10.0.1.19, 10.0.3.169 on /postlogin failed: Mount failed. Check the log file  for more details.');
    expect(run.result).toBeUndefined();
  });

  it('should refuse to mount over files, over another mount, or where an fstab line of its own mounts something else', () => {
    serve(sandbox, ['10.0.1.19:prelogin_files']);
    const spec = { KUBEHA_MOUNTS: '10.0.1.19:prelogin_files:/prelogin:' };

    // A mount point holding files: mounting would hide them.
    sandbox.file('prelogin/index.html', '<html>');
    const overFiles = sandbox.run('apply-node-profile.sh', spec);
    expect(overFiles.status).toBe(1);
    expect(overFiles.stderr).toContain('/prelogin holds files and nothing is mounted there: mounting 10.0.1.19:/prelogin_files would hide them');
    expect(sandbox.read('etc/fstab')).toBe(BASE_FSTAB);

    // Mounted from another source.
    writeFileSync(join(sandbox.state, 'mounts'), '10.0.9.9:/old_files /prelogin fuse.glusterfs\n');
    const elsewhere = sandbox.run('apply-node-profile.sh', spec);
    expect(elsewhere.stderr).toContain('/prelogin is mounted from 10.0.9.9:/old_files, but the profile mounts 10.0.1.19:/prelogin_files there');
    expect(sandbox.read('etc/fstab')).toBe(BASE_FSTAB);

    // A line outside kubeha's block mounting onto the same point: refused before fstab is touched.
    sandbox.file('etc/fstab', `${BASE_FSTAB}10.0.9.9:/old_files /prelogin glusterfs defaults,_netdev 0 0\n`);
    const foreign = sandbox.run('apply-node-profile.sh', spec);
    expect(foreign.status).toBe(1);
    expect(foreign.stderr).toContain("/etc/fstab already mounts 10.0.9.9:/old_files on /prelogin outside kubeha's block");
    expect(sandbox.read('etc/fstab')).not.toContain('kubeha');
  });

  it('should install glusterfs-client when mount.glusterfs is missing', () => {
    // Prepare: no mount.glusterfs on PATH until apt-get installs glusterfs-client (which ships it).
    const helper = join(sandbox.bin, 'mount.glusterfs');
    rmSync(helper);
    sandbox.stub('apt-get', `printf '#!/bin/sh\\nexit 0\\n' >'${helper}'; chmod +x '${helper}'`);
    serve(sandbox, ['10.0.1.19:prelogin_files']);

    // Act
    const run = sandbox.run('apply-node-profile.sh', { KUBEHA_MOUNTS: '10.0.1.19:prelogin_files:/prelogin:' });

    // Assess
    expect(run.status, run.stderr).toBe(0);
    expect(run.calls).toContain('apt-get -o DPkg::Lock::Timeout=600 install -y glusterfs-client');
  });

  it('should remove its fstab block and the kubelet drop-in when the profile has no mounts, and keep every other line', () => {
    serve(sandbox, ['10.0.1.19:prelogin_files']);
    expect(sandbox.run('apply-node-profile.sh', { KUBEHA_MOUNTS: '10.0.1.19:prelogin_files:/prelogin:' }).status).toBe(0);

    const run = sandbox.run('apply-node-profile.sh', { KUBEHA_MOUNTS: 'none' });

    expect(run.status, run.stderr).toBe(0);
    expect(sandbox.read('etc/fstab')).toBe(BASE_FSTAB);
    expect(sandbox.exists('etc/systemd/system/kubelet.service.d/20-kubeha-mounts.conf')).toBe(false);
    expect(run.calls).toEqual(['systemctl daemon-reload']);
  });

  it('should refuse a Mounts value that could reach fstab or the shell as anything but data, before touching anything', () => {
    for (const hostile of ['10.0.1.19:vol:/data:ro;reboot', '10.0.1.19:vol:/data:ro 0 0\n/dev/sda1', '10.0.1.19:vol:/da ta:', '10.0.1.19:vol:/data/../etc:']) {
      const run = sandbox.run('apply-node-profile.sh', { KUBEHA_MOUNTS: hostile });
      expect(run.status, hostile).toBe(1);
      expect(run.calls, hostile).toEqual([]);
      expect(sandbox.read('etc/fstab')).toBe(BASE_FSTAB);
    }
  });
});
