import { describe, expect, it } from 'vitest';
import {
  LIMITS,
  NameError,
  checkStack,
  checkStage,
  clusterLogicalId,
  clusterNames,
  joinSecretName,
  kubeconfigSecretName,
  nodeRoleName,
  parseClusters,
  rateExpression,
  stackNames,
} from '../../functions/core/names.js';

const LONGEST_REGION = 'ap-southeast-3';
const LONGEST_CLUSTER = 'c'.repeat(32);

describe('names', () => {
  describe('when every setting is at its default', () => {
    it('stays within every AWS limit', () => {
      // Prepare
      const settings = { stage: 'dev', region: 'eu-west-1', clusters: ['demo'], functions: ['onInstanceStateChange'], stateMachines: ['heal-load-balancer'], documents: ['RefreshJoinMaterial'] };

      // Act
      const names = checkStack(settings);

      // Assess
      expect(names.map(({ name }) => name)).toEqual(expect.arrayContaining(['kubeha-dev.demo.master.eu-west-1', 'kubeha/dev/demo/worker-join', 'kubeha/dev/demo/control-plane-join', 'kubeha-dev-onInstanceStateChange']));
      for (const { kind, name } of names) expect(name.length, name).toBeLessThanOrEqual(LIMITS[kind]);
    });
  });

  describe('when the stage and cluster names make a role name longer than IAM allows', () => {
    it('fails before anything is created, naming the name, its length, the limit and both settings', () => {
      // Prepare
      const settings = { stage: 'production-europe', region: LONGEST_REGION, clusters: ['payments-cluster-a'] };

      // Act
      const act = () => checkStack(settings);

      // Assess
      expect(act).toThrow(NameError);
      expect(act).toThrow('IAM role name "kubeha-production-europe.payments-cluster-a.master.ap-southeast-3" is 65 characters, over AWS\'s limit of 64');
      expect(act).toThrow('shorten the stage ("production-europe") or the cluster name ("payments-cluster-a")');
    });

    it('rejects even the default stage with a 32-character cluster in a long region name, where today IAM would', () => {
      expect(() => checkStack({ stage: 'dev', region: LONGEST_REGION, clusters: [LONGEST_CLUSTER] })).toThrow(/IAM role name .* is 65 characters/);
      expect(() => checkStack({ stage: 'dev', region: 'eu-west-1', clusters: [LONGEST_CLUSTER] })).not.toThrow();
    });
  });

  describe('when only the stage is too long for a Lambda function name', () => {
    it('names the function and blames the stage alone', () => {
      const stage = `s${'x'.repeat(40)}`;
      expect(() => checkStack({ stage, region: 'eu-west-1', clusters: [], functions: ['onInstanceStateChange'] })).toThrow(
        new RegExp(`Lambda function name "kubeha-${stage}-onInstanceStateChange" is 70 characters, over AWS's limit of 64: shorten the stage \\("${stage}"\\)$`, 'm'),
      );
    });
  });

  describe('when names come from different stages, regions or clusters', () => {
    it('keeps stage "a-b" with cluster "c" apart from stage "a" with cluster "b-c" in IAM, which is global', () => {
      expect(nodeRoleName('a-b', 'eu-west-1', 'cluster', 'master')).not.toBe(nodeRoleName('a', 'eu-west-1', 'b-cluster', 'master'));
    });

    it('keeps one stage deployed in two regions of one account apart in IAM', () => {
      expect(nodeRoleName('prod', 'eu-west-1', 'demo', 'lb')).not.toBe(nodeRoleName('prod', 'eu-central-1', 'demo', 'lb'));
    });

    it('keeps the secrets of stages prod and prod-eu apart, and out of reach of the pattern kubeha/prod/*', () => {
      expect(joinSecretName('prod', 'demo', 'worker')).toBe('kubeha/prod/demo/worker-join');
      expect(joinSecretName('prod', 'demo', 'control-plane')).toBe('kubeha/prod/demo/control-plane-join');
      expect(kubeconfigSecretName('prod-eu', 'demo')).toBe('kubeha/prod-eu/demo/admin-kubeconfig');
      expect(joinSecretName('prod-eu', 'demo', 'control-plane').startsWith('kubeha/prod/')).toBe(false);
    });

    it('refuses a join kind it does not know, naming it', () => {
      expect(() => joinSecretName('prod', 'demo', 'admin' as never)).toThrow(/join kind "admin" must be one of worker, control-plane/);
    });

    it('gives clusters a-1b and a1b different logical ids, though CloudFormation ids drop the hyphen', () => {
      expect(clusterLogicalId('a-1b')).toMatch(/^A1b[0-9a-f]{8}$/);
      expect(clusterLogicalId('a1b')).toMatch(/^A1b[0-9a-f]{8}$/);
      expect(clusterLogicalId('a-1b')).not.toBe(clusterLogicalId('a1b'));
    });

    it('gives every cluster of a stage names of its own', () => {
      const first = clusterNames('prod', 'eu-west-1', 'a-1b').map(({ name }) => name);
      const second = clusterNames('prod', 'eu-west-1', 'a1b').map(({ name }) => name);
      expect(first.filter((name) => second.includes(name))).toEqual([]);
    });
  });

  describe('stage names', () => {
    it('accepts lowercase letters, digits and hyphens', () => {
      expect(checkStage('prod-eu-2')).toBe('prod-eu-2');
    });

    it('rejects capitals (IAM ignores case), the separators "." and "/", and a trailing hyphen', () => {
      for (const stage of ['Prod', 'prod.eu', 'prod/eu', 'prod-', '1prod', '']) expect(() => checkStage(stage), stage).toThrow(NameError);
    });
  });

  describe('the clusters parameter', () => {
    it('splits and trims the list', () => {
      expect(parseClusters(' demo , prod-eu ')).toEqual(['demo', 'prod-eu']);
    });

    it('rejects a cluster listed twice and an invalid name, naming the parameter', () => {
      expect(() => parseClusters('demo,demo')).toThrow('clusters parameter: "demo" is listed twice');
      expect(() => parseClusters('demo,Prod')).toThrow(/clusters parameter: cluster name "Prod"/);
    });
  });

  describe('every name a stack creates', () => {
    it('lists each cluster secret, role, instance profile and policy once per cluster', () => {
      const names = stackNames({ stage: 'ci', region: 'eu-west-1', clusters: ['demo', 'prod-eu'] });
      expect(names.filter(({ kind }) => kind === 'IAM role')).toHaveLength(6);
      expect(names.filter(({ kind }) => kind === 'IAM instance profile')).toHaveLength(6);
      expect(names.filter(({ kind }) => kind === 'Secrets Manager secret')).toHaveLength(8);
      expect(new Set(names.map(({ kind, name }) => `${kind}:${name}`)).size).toBe(names.length);
    });
  });

  describe('rateExpression', () => {
    it('says "1 minute" in the singular and "5 minutes" in the plural, as EventBridge requires', () => {
      expect(rateExpression(1)).toBe('rate(1 minute)');
      expect(rateExpression('5')).toBe('rate(5 minutes)');
    });

    it('rejects zero, fractions and words, naming the parameter', () => {
      for (const minutes of [0, 1.5, 'five']) expect(() => rateExpression(minutes), String(minutes)).toThrow(/reconcileRateMinutes/);
    });
  });
});
