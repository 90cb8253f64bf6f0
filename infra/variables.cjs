// Values serverless.yml takes from infra/names.cjs, so that each name is spelled once:
// `${file(./infra/variables.cjs):alertsTopicName}`. osls calls this function while it resolves variables.
'use strict';

const names = require('./names.cjs');
const { documentDigest } = require('../ssm-documents/render.cjs');

/** A true/false parameter; anything else fails the package, naming the parameter. */
function flag(name, value) {
  if (value === undefined || value === null) return false;
  const text = String(value).trim().toLowerCase();
  if (text === 'true' || text === 'false') return text === 'true';
  throw new names.NameError(`${name} must be true or false (got "${value}")`);
}

module.exports = async ({ resolveVariable }) => {
  const stage = names.checkStage(await resolveVariable('sls:stage'));
  const sourceMaps = flag('sourceMaps', await resolveVariable('param:sourceMaps'));
  return {
    sourceMaps,
    nodeOptions: sourceMaps ? '--enable-source-maps' : '',
    documentPrefix: names.documentPrefix(stage),
    documentSuffix: `-${documentDigest()}`,
    alertsTopicName: names.alertsTopicName(stage),
    alertsKeyAlias: names.alertsKeyAlias(stage),
    undeliveredQueueName: names.undeliveredQueueName(stage),
    ec2StateChangeRuleName: names.eventRuleName(stage, 'ec2-state-change'),
    reconcileScheduleRuleName: names.eventRuleName(stage, 'reconcile-schedule'),
    reconcileRate: names.rateExpression(await resolveVariable('param:reconcileRateMinutes')),
    stateMachineNames: {
      bootstrapCluster: names.stateMachineName(stage, 'bootstrap-cluster'),
      healMaster: names.stateMachineName(stage, 'heal-master'),
      healWorker: names.stateMachineName(stage, 'heal-worker'),
      drillCluster: names.stateMachineName(stage, 'drill-cluster'),
      healLoadBalancer: names.stateMachineName(stage, 'heal-load-balancer'),
      rotateEncryptionKey: names.stateMachineName(stage, 'rotate-encryption-key'),
      renewCertificates: names.stateMachineName(stage, 'renew-certificates'),
      buildNodeImage: names.stateMachineName(stage, 'build-node-image'),
    },
  };
};
