import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type ClusterConfig, parseBootstrapInput } from '../../functions/core/config.js';
import { InputValidationError } from '../../functions/core/errors.js';
import { endpointsParameter, mountsParameter } from '../../functions/core/node-profile.js';
import { parameterPattern } from '../../functions/core/parameter-patterns.js';
import { TODAY, bootstrapInput } from '../support/inputs.js';

const runbook = JSON.parse(readFileSync(new URL('../../examples/runbook-input.json', import.meta.url), 'utf8')) as Record<string, unknown> & {
  nodeProfiles: { worker: { mounts: Record<string, unknown>[] } };
  externalServices: Record<string, unknown>[];
};

const mount = (overrides: Record<string, unknown> = {}) => ({ kind: 'glusterfs', servers: ['10.0.1.19', '10.0.3.169'], volume: 'prelogin_files', mountPoint: '/prelogin', ...overrides });

/** The issues parseBootstrapInput reports for an input with these worker mounts / services. */
function issuesFor(overrides: { mounts?: unknown[]; externalServices?: unknown[]; nodeProfiles?: unknown }): { field: string; reason: string }[] {
  const input = bootstrapInput({
    ...(overrides.mounts ? { nodeProfiles: { worker: { mounts: overrides.mounts } } } : {}),
    ...(overrides.nodeProfiles ? { nodeProfiles: overrides.nodeProfiles } : {}),
    ...(overrides.externalServices ? { externalServices: overrides.externalServices } : {}),
  });
  try {
    parseBootstrapInput(input, TODAY);
  } catch (error: unknown) {
    if (error instanceof InputValidationError) return [...error.issues];
    throw error;
  }
  return [];
}

describe('node profiles in the bootstrap input', () => {
  it("accept the runbook's six GlusterFS volumes and its services, and default each mount's options to none", () => {
    // Act
    const config = parseBootstrapInput(runbook, TODAY);

    // Assess
    expect(config.nodeProfiles?.worker?.mounts.map((entry) => `${entry.volume}:${entry.mountPoint}`)).toEqual([
      'prelogin_files:/prelogin',
      'postlogin_files:/postlogin',
      'lti_files:/netacad_lti',
      'moodle_files:/moodle',
      'content_files:/content',
      'current_files:/current',
    ]);
    expect(config.externalServices?.map((service) => service.kind)).toEqual(['mysql', 'redis', 'redis', 'redis', 'mongodb', 'glusterfs', 'glusterfs']);
    expect(parseBootstrapInput(bootstrapInput({ nodeProfiles: { worker: { mounts: [mount()] } } }), TODAY).nodeProfiles?.worker?.mounts[0]?.options).toEqual([]);
  });

  it.each([
    ['relative', 'prelogin', 'must be an absolute path'],
    ['with a space', '/pre login', 'must be an absolute path'],
    ['with ..', '/srv/../etc', 'must not contain . or .. components'],
    ['the root', '/', 'must be an absolute path'],
    ['under /etc', '/etc/app', 'must not be'],
    ['where kubelet keeps pods', '/var/lib/kubelet/pods', 'must not be'],
    ['/var itself', '/var', 'must not be'],
  ])('refuse a mount point %s, naming the field', (_what, mountPoint, reason) => {
    const issues = issuesFor({ mounts: [mount({ mountPoint })] });
    expect(issues).toEqual([{ field: 'nodeProfiles.worker.mounts.0.mountPoint', reason: expect.stringContaining(reason) }]);
  });

  it('refuse the same volume twice and the same mount point twice, naming the later entry and the earlier one', () => {
    const issues = issuesFor({ mounts: [mount(), mount({ mountPoint: '/prelogin2' }), mount({ volume: 'lti_files' })] });
    expect(issues).toEqual([
      { field: 'nodeProfiles.worker.mounts.1.volume', reason: 'prelogin_files is already mounted by mounts.0' },
      { field: 'nodeProfiles.worker.mounts.2.mountPoint', reason: '/prelogin is already the mount point of mounts.0' },
    ]);
  });

  it('refuse mount points nested in one another', () => {
    const issues = issuesFor({ mounts: [mount({ mountPoint: '/data' }), mount({ volume: 'lti_files', mountPoint: '/data/lti' })] });
    expect(issues).toEqual([{ field: 'nodeProfiles.worker.mounts.1.mountPoint', reason: expect.stringContaining('is inside /data (mounts.0); mount points must not nest') }]);
  });

  it('refuse unknown kinds of mounts and of services, and profiles for roles kubeha does not apply them to', () => {
    expect(issuesFor({ mounts: [mount({ kind: 'nfs' })] })).toEqual([{ field: 'nodeProfiles.worker.mounts.0.kind', reason: expect.stringContaining('must be "glusterfs"') }]);
    expect(issuesFor({ externalServices: [{ name: 'cache', kind: 'memcached', host: 'cache.internal', port: 11211 }] })).toEqual([
      { field: 'externalServices.0.kind', reason: 'must be one of mysql, redis, mongodb, glusterfs' },
    ]);
    expect(issuesFor({ nodeProfiles: { lb: { mounts: [] } } })).toEqual([{ field: 'nodeProfiles.lb', reason: 'is not a known field' }]);
  });

  it('refuse options kubeha sets itself or that would let a node be Ready without its volumes, and options that would break the fstab line', () => {
    for (const option of ['_netdev', 'backup-volfile-servers=10.0.9.9', 'x-systemd.automount', 'nofail']) {
      expect(issuesFor({ mounts: [mount({ options: [option] })] }), option).toEqual([{ field: 'nodeProfiles.worker.mounts.0.options.0', reason: expect.stringContaining('is set by kubeha itself') }]);
    }
    expect(issuesFor({ mounts: [mount({ options: ['ro,nosuid'] })] })).toEqual([{ field: 'nodeProfiles.worker.mounts.0.options.0', reason: expect.stringContaining('no comma') }]);
  });

  it('refuse a volume named twice in one server list, a bad host and a port out of range', () => {
    expect(issuesFor({ mounts: [mount({ servers: ['10.0.1.19', '10.0.1.19'] })] })).toEqual([{ field: 'nodeProfiles.worker.mounts.0.servers', reason: 'names 10.0.1.19 twice' }]);
    expect(issuesFor({ mounts: [mount({ servers: ['nfs 1'] })] })).toEqual([{ field: 'nodeProfiles.worker.mounts.0.servers.0', reason: 'must be a host name or IPv4 address' }]);
    expect(issuesFor({ externalServices: [{ name: 'db', kind: 'mysql', host: 'db.internal', port: 70000 }] })).toEqual([{ field: 'externalServices.0.port', reason: 'must be 65535 or below' }]);
    expect(issuesFor({ externalServices: [{ name: 'db', kind: 'mysql', host: 'a', port: 3306 }, { name: 'db', kind: 'redis', host: 'b', port: 6379 }] })).toEqual([
      { field: 'externalServices.1.name', reason: 'db is already the name of externalServices.0' },
    ]);
  });
});

describe('the Mounts and Endpoints document parameters', () => {
  it("carry the runbook's profile in plain words that pass the documents' patterns", () => {
    // Prepare
    const config: ClusterConfig = parseBootstrapInput(runbook, TODAY);

    // Act
    const mounts = mountsParameter(config.nodeProfiles?.worker);
    const endpoints = endpointsParameter(config.externalServices);

    // Assess
    expect(mounts.split(',')[0]).toBe('10.0.1.19+10.0.3.169:prelogin_files:/prelogin:log-level=WARNING');
    expect(mounts).toMatch(parameterPattern('Mounts'));
    expect(endpoints.split(',')[4]).toBe('vds-mongodb:mongodb:52.82.106.24:27017');
    expect(endpoints).toMatch(parameterPattern('Endpoints'));
    expect(mountsParameter(undefined)).toBe('none');
    expect(endpointsParameter([])).toBe('none');
  });

  it('refuse a profile too large for the recorded settings, naming it, and admit every profile within that budget', () => {
    // Prepare: 16 mounts with long server names fill more than Parameter Store's 4 KB settings can take.
    const servers = ['gluster-server-1.storage.internal', 'gluster-server-2.storage.internal'];
    const mounts = Array.from({ length: 16 }, (_, index) => mount({ servers, volume: `volume_${index}`, mountPoint: `/srv/data-${index}`, options: ['log-level=WARNING'] }));

    // Act
    const issues = issuesFor({ mounts });
    const fitting = parseBootstrapInput(bootstrapInput({ nodeProfiles: { worker: { mounts: mounts.slice(0, 8) } } }), TODAY);

    // Assess
    expect(issues).toEqual([{ field: 'nodeProfiles', reason: expect.stringMatching(/takes \d+ characters of the 2400/) }]);
    expect(mountsParameter(fitting.nodeProfiles?.worker)).toMatch(parameterPattern('Mounts'));
  });
});
