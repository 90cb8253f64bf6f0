import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Sandbox } from './sandbox.js';

describe('start-probe.sh and stop-probe.sh', () => {
  let sandbox: Sandbox;
  const env = { KUBEHA_DRILL_ID: 'drill-1', KUBEHA_CONTROL_PLANE_ENDPOINT: '203.0.113.10:6443', KUBEHA_APP_PORT: '30080' };

  beforeEach(() => {
    sandbox = new Sandbox();
    sandbox.stub('systemd-run', 'touch "$STATE/probe-running"');
    sandbox.stub('systemctl', `case "$1" in
  is-active) [[ -f "$STATE/probe-running" ]] ;;
  stop) rm -f "$STATE/probe-running" ;;
esac`);
  });
  afterEach(() => sandbox.dispose());

  it("should start the probe once as a transient unit asking /readyz through the endpoint, the NodePort and the node's own API proxy", () => {
    const first = sandbox.run('start-probe.sh', env);
    const second = sandbox.run('start-probe.sh', env);
    expect(first.result).toEqual({ changed: true });
    const [unit] = first.calls.filter((call) => call.startsWith('systemd-run'));
    expect(unit).toMatch(
      /^systemd-run --unit kubeha-probe-drill-1 --collect --quiet --setenv=PROBE_API=https:\/\/203\.0\.113\.10:6443\/readyz --setenv=PROBE_APP=http:\/\/127\.0\.0\.1:30080\/ --setenv=PROBE_IN_CLUSTER=https:\/\/127\.0\.0\.1:6443\/readyz --setenv=PROBE_SAMPLES=\S+\/var\/lib\/kubeha\/probe-drill-1\.log \/usr\/bin\/env bash -c/,
    );
    expect(sandbox.allCalls()).toContain('curl -fsk -m 1 -o /dev/null "${PROBE_API}" && api=1');
    expect(sandbox.allCalls()).toContain('curl -fs -m 1 -o /dev/null "${PROBE_APP}" && app=1');
    expect(sandbox.allCalls()).toContain('curl -fsk -m 1 -o /dev/null "${PROBE_IN_CLUSTER}" && in_cluster=1');
    expect(second.stdout).toContain('running already, nothing to do');
    expect(second.calls.filter((call) => call.startsWith('systemd-run'))).toEqual([]);
  });

  it('should refuse an endpoint or port that is not one, before starting anything', () => {
    const run = sandbox.run('start-probe.sh', { ...env, KUBEHA_CONTROL_PLANE_ENDPOINT: "k8s:6443/readyz' ; touch /tmp/kubeha-pwned ; echo '" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('KUBEHA_CONTROL_PLANE_ENDPOINT must be host:port');
    expect(run.calls.filter((call) => call.startsWith('systemd-run'))).toEqual([]);
  });

  it('should report sample counts and the longest outage of each kind', () => {
    // Prepare: 10 seconds of samples; the API through the Elastic IP was down for 3 in a row, the
    // application for 1, the API through the node's proxy for 2 (not at the same time).
    sandbox.run('start-probe.sh', env);
    sandbox.file('var/lib/kubeha/probe-drill-1.log', ['1 1 1 1', '2 1 1 1', '3 0 1 1', '4 0 0 1', '5 0 1 1', '6 1 1 1', '7 0 1 1', '8 1 1 0', '9 1 1 0', '10 1 1 1'].map((line) => `${1795510000 + Number(line.split(' ')[0])} ${line.split(' ').slice(1).join(' ')}`).join('\n') + '\n');

    // Act
    const run = sandbox.run('stop-probe.sh', { KUBEHA_DRILL_ID: 'drill-1' });

    // Assess
    expect(run.stderr).toBe('');
    expect(run.result).toEqual({ samples: 10, apiOk: 6, appOk: 9, inClusterOk: 8, longestApiOutageSeconds: 3, longestAppOutageSeconds: 1, longestInClusterOutageSeconds: 2 });
    expect(run.calls).toContain('systemctl stop kubeha-probe-drill-1');
  });

  it('should refuse a drill id that could escape into a unit name or path', () => {
    const run = sandbox.run('start-probe.sh', { ...env, KUBEHA_DRILL_ID: '../../etc' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('letters, digits and hyphens only');
  });
});

describe('deploy-test-app.sh', () => {
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = new Sandbox();
    sandbox.stub('kubectl', `case "$*" in
  *"get service"*) [[ -f "$STATE/applied" ]] ;;
  "apply -f -") cat >"$STATE/applied" ;;
esac`);
  });
  afterEach(() => sandbox.dispose());

  it('should apply a spread two-replica Deployment and a NodePort Service once', () => {
    const first = sandbox.run('deploy-test-app.sh', { KUBEHA_APP_PORT: '30080' });
    const second = sandbox.run('deploy-test-app.sh', { KUBEHA_APP_PORT: '30080' });
    const applied = sandbox.read('../state/applied');
    expect(first.result).toEqual({ changed: true });
    expect(applied).toContain('replicas: 2');
    expect(applied).toContain('topologyKey: kubernetes.io/hostname');
    expect(applied).toContain('nodePort: 30080');
    expect(second.result).toEqual({ changed: false });
  });
});
