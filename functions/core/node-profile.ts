// Node profiles: what a node of a role needs besides Kubernetes before it may join — for the runbook's
// workers, six GlusterFS volumes from an HA pair — and the external services its applications use.
// Pure: validation, and the document parameters that carry a profile to the instance. The script that
// applies it is ssm-documents/scripts/apply-node-profile.sh; the reachability check is
// check-external-services.sh.
import { z } from 'zod';
import { parameterPattern } from './parameter-patterns.js';

/** Host names as /etc/hosts or DNS know them (the runbook's `nfs-1-gluster`), or IPv4 addresses. */
const HOST = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** GlusterFS volume names: letters, digits, `-` and `_` (glusterd refuses others). */
const VOLUME = /^[A-Za-z0-9_-]{1,64}$/;
/** An absolute path of plain components: what reaches /etc/fstab and a systemd unit. */
const MOUNT_POINT = /^(\/[A-Za-z0-9._-]+)+$/;
/** One mount option, `name` or `name=value`; no comma (the fstab separator), no space, no colon. */
const MOUNT_OPTION = /^[a-z_][a-z0-9._-]*(=[A-Za-z0-9._/-]+)?$/;

/**
 * Where a network volume must never be mounted: over the system itself or what Kubernetes and etcd
 * keep on the node. A mount there would hide the directory's contents until it is unmounted.
 */
const RESERVED_MOUNT_POINTS = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/proc', '/root', '/run', '/sbin', '/sys', '/tmp', '/usr', '/var/lib', '/var/log', '/var/run', '/opt/cni', '/snap'];
/** Directories that may hold mounts below them but must not be mounted over themselves. */
const RESERVED_EXACTLY = ['/var', '/opt', '/home', '/mnt'];

/**
 * Options kubeha writes itself: `_netdev` (mount after the network), `backup-volfile-servers` (from
 * `servers`), `defaults`. x-systemd.automount is refused: an automount answers the first access later,
 * so the node could turn Ready with nothing mounted, and a broken volume would show up in a pod, not
 * in the step that should fail.
 */
const KUBEHA_OPTIONS = /^(_netdev|defaults|backup-volfile-servers?|backupvolfile-server|x-systemd\..*|noauto|nofail)(=|$)/;

export const GLUSTERFS_KINDS = ['glusterfs'] as const;
export const EXTERNAL_SERVICE_KINDS = ['mysql', 'redis', 'mongodb', 'glusterfs'] as const;

const mountSchema = z.strictObject({
  kind: z.enum(GLUSTERFS_KINDS, 'must be "glusterfs", the only kind of mount kubeha sets up'),
  servers: z
    .array(z.string().regex(HOST, 'must be a host name or IPv4 address'), 'must be a list of servers')
    .min(1, 'must name at least one server')
    .max(4, 'must name at most 4 servers (one volfile server and its backups)'),
  volume: z.string().regex(VOLUME, 'must be a GlusterFS volume name: 1-64 letters, digits, - or _'),
  mountPoint: z
    .string()
    .regex(MOUNT_POINT, 'must be an absolute path of letters, digits, ., _ and -, such as /prelogin')
    .max(200, 'must be at most 200 characters')
    .refine((path) => !path.split('/').some((part) => part === '.' || part === '..'), 'must not contain . or .. components')
    .refine((path) => !RESERVED_MOUNT_POINTS.some((reserved) => path === reserved || path.startsWith(`${reserved}/`)) && !RESERVED_EXACTLY.includes(path), {
      message: `must not be ${RESERVED_EXACTLY.join(', ')} or under ${RESERVED_MOUNT_POINTS.join(', ')}: the node's own files and what Kubernetes keeps there`,
    }),
  options: z
    .array(
      z
        .string()
        .regex(MOUNT_OPTION, 'must be a mount option such as log-level=WARNING (no comma, colon or space)')
        .max(100, 'must be at most 100 characters')
        .refine((option) => !KUBEHA_OPTIONS.test(option), 'is set by kubeha itself (_netdev, backup-volfile-servers) or not allowed (automount, noauto, nofail)'),
    )
    .max(16, 'must hold at most 16 options')
    .default([]),
});

export const nodeProfileSchema = z.strictObject({
  mounts: z.array(mountSchema).max(16, 'must hold at most 16 mounts').default([]),
});

/**
 * Profiles by role. Workers only, for now: the runbook's mounts are for the applications on the
 * workers, and a master profile would have to be applied on the masters' paths (init, control-plane
 * joins, heal-master) as well.
 */
export const nodeProfilesSchema = z.strictObject({ worker: nodeProfileSchema.optional() });

export const externalServiceSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,38}[a-z0-9]$/, 'must be 2-40 lowercase letters, digits or hyphens, starting with a letter'),
  kind: z.enum(EXTERNAL_SERVICE_KINDS, `must be one of ${EXTERNAL_SERVICE_KINDS.join(', ')}`),
  host: z.string().regex(HOST, 'must be a host name or IPv4 address'),
  port: z.number().int('must be a whole number').min(1, 'must be 1 or above').max(65535, 'must be 65535 or below'),
});

export const externalServicesSchema = z.array(externalServiceSchema).max(16, 'must hold at most 16 endpoints');

export type GlusterMount = z.output<typeof mountSchema>;
export type NodeProfile = z.output<typeof nodeProfileSchema>;
export type NodeProfiles = z.output<typeof nodeProfilesSchema>;
export type ExternalService = z.output<typeof externalServiceSchema>;

/**
 * Room for profiles and services in the recorded settings: they live in the cluster's Parameter Store
 * settings (a Standard parameter holds 4 KB) beside addresses and names that take about 1.3 KB.
 */
export const PROFILE_BUDGET_CHARACTERS = 2400;

/** What schemas cannot see: duplicates and nesting across entries, and the size. Each issue names the field. */
export function profileIssues(profiles: NodeProfiles | undefined, services: readonly ExternalService[] | undefined): { field: string; reason: string }[] {
  const issues: { field: string; reason: string }[] = [];
  for (const [role, profile] of Object.entries(profiles ?? {})) {
    const mounts = profile?.mounts ?? [];
    mounts.forEach((mount, index) => {
      const field = `nodeProfiles.${role}.mounts.${index}`;
      const duplicateServer = mount.servers.find((server, at) => mount.servers.indexOf(server) !== at);
      if (duplicateServer) issues.push({ field: `${field}.servers`, reason: `names ${duplicateServer} twice` });
      const earlier = mounts.slice(0, index);
      const sameVolume = earlier.findIndex((other) => other.volume === mount.volume && other.servers[0] === mount.servers[0]);
      if (sameVolume >= 0) issues.push({ field: `${field}.volume`, reason: `${mount.volume} is already mounted by mounts.${sameVolume}` });
      const samePoint = earlier.findIndex((other) => other.mountPoint === mount.mountPoint);
      if (samePoint >= 0) {
        issues.push({ field: `${field}.mountPoint`, reason: `${mount.mountPoint} is already the mount point of mounts.${samePoint}` });
        return;
      }
      const nested = mounts.findIndex((other, at) => at !== index && mount.mountPoint.startsWith(`${other.mountPoint}/`));
      if (nested >= 0) issues.push({ field: `${field}.mountPoint`, reason: `${mount.mountPoint} is inside ${mounts[nested]!.mountPoint} (mounts.${nested}); mount points must not nest` });
    });
  }
  const size = JSON.stringify({ nodeProfiles: profiles ?? {}, externalServices: services ?? [] }).length;
  if (size > PROFILE_BUDGET_CHARACTERS) {
    issues.push({ field: profiles ? 'nodeProfiles' : 'externalServices', reason: `with externalServices takes ${size} characters of the ${PROFILE_BUDGET_CHARACTERS} the cluster's recorded settings have room for (a Standard Parameter Store parameter holds 4 KB): use fewer or shorter entries` });
  }
  (services ?? []).forEach((service, index) => {
    const earlier = (services ?? []).slice(0, index);
    const sameName = earlier.findIndex((other) => other.name === service.name);
    if (sameName >= 0) issues.push({ field: `externalServices.${index}.name`, reason: `${service.name} is already the name of externalServices.${sameName}` });
  });
  return issues;
}

/**
 * The `Mounts` document parameter: `none`, or one entry per mount joined with `,`:
 * `SERVER+BACKUP…:VOLUME:MOUNTPOINT:OPTION+OPTION…`. Plain words only, so it reads well in
 * ListCommands and passes a pattern that admits no quote, space or shell metacharacter.
 */
export function mountsParameter(profile: NodeProfile | undefined): string {
  const mounts = profile?.mounts ?? [];
  if (mounts.length === 0) return 'none';
  return mounts.map((mount) => `${mount.servers.join('+')}:${mount.volume}:${mount.mountPoint}:${mount.options.join('+')}`).join(',');
}

/** The `Endpoints` document parameter: `none`, or `NAME:KIND:HOST:PORT` entries joined with `,`. */
export function endpointsParameter(services: readonly ExternalService[] | undefined): string {
  if (!services || services.length === 0) return 'none';
  return services.map((service) => `${service.name}:${service.kind}:${service.host}:${service.port}`).join(',');
}

/** Both parameters are held to their document patterns here too (the Lambda side's wall). */
export function checkedParameter(parameter: 'Mounts' | 'Endpoints', value: string): string {
  if (!parameterPattern(parameter).test(value)) throw new Error(`the ${parameter} parameter does not match its document pattern; profile validation should have refused it`);
  return value;
}
