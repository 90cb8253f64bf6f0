// `sls package` refuses names AWS would reject, before anything is bundled or deployed, and says which
// setting to change.
import { describe, expect, it } from 'vitest';
import { failedPackageOutput } from './template.js';

describe('sls package with names AWS would reject', () => {
  it('fails on a stage and cluster that make IAM role names too long, naming both settings', () => {
    // Act
    const output = failedPackageOutput(['--stage', 'production-europe', '--region', 'ap-southeast-3', '--param', 'clusters=payments-cluster-a']);

    // Assess
    expect(output).toContain('IAM role name "kubeha-production-europe.payments-cluster-a.master.ap-southeast-3" is 65 characters, over AWS\'s limit of 64');
    expect(output).toContain('shorten the stage ("production-europe") or the cluster name ("payments-cluster-a")');
  }, 120_000);

  it('fails on a cluster listed twice, naming the clusters parameter', () => {
    const output = failedPackageOutput(['--stage', 'ci', '--param', 'clusters=demo,demo']);
    expect(output).toContain('clusters parameter: "demo" is listed twice');
  }, 120_000);
});

describe('the names check on the final template', () => {
  it('fails on any name over its limit, whoever generated it, naming the resource', async () => {
    // Prepare: a template where something other than infra/names.cjs named a role too long.
    const { createRequire } = await import('node:module');
    const Plugin = createRequire(import.meta.url)('../../infra/documents-plugin.cjs') as new (serverless: unknown) => { hooks: Record<string, () => void> };
    const template = {
      Resources: {
        ShortRole: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'kubeha-ci-ok' } },
        LongRole: { Type: 'AWS::IAM::Role', Properties: { RoleName: `kubeha-${'x'.repeat(60)}` } },
        GeneratedRole: { Type: 'AWS::IAM::Role', Properties: {} },
      },
    };
    const serverless = { classes: { Error }, service: { provider: { compiledCloudFormationTemplate: template } } };

    // Act
    const check = () => new Plugin(serverless).hooks['after:aws:package:finalize:mergeCustomProviderResources']!();

    // Assess
    expect(check).toThrow(`IAM role name "kubeha-${'x'.repeat(60)}" is 67 characters, over AWS's limit of 64: shorten the stage or cluster name (resource LongRole)`);
    template.Resources.LongRole.Properties.RoleName = 'kubeha-ci-ok-too';
    expect(check).not.toThrow();
  });
});
