// Values serverless.yml takes from infra/names.cjs, so that each name is spelled once:
// `${file(./infra/variables.cjs):alertsTopicName}`. osls calls this function while it resolves variables.
'use strict';

const names = require('./names.cjs');
const { documentDigest } = require('../ssm-documents/render.cjs');

module.exports = async ({ resolveVariable }) => {
  const stage = names.checkStage(await resolveVariable('sls:stage'));
  return {
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
    },
  };
};
