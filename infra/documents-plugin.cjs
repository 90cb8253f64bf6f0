// A local osls plugin that adds kubeha's SSM documents to the compiled CloudFormation template and checks
// every name in the final template against AWS's limits (infra/iam.cjs has checked the names kubeha computes
// already, while osls resolved variables; this catches any name something else generated).
// It adds documents after variable resolution on purpose: the documents embed bash, whose ${...} the
// framework would otherwise try to resolve as its own variables.
'use strict';

const { documentResources } = require('../ssm-documents/render.cjs');
const names = require('./names.cjs');

// The property that holds each named resource's name, by CloudFormation type, and the limit that applies.
const NAME_PROPERTIES = {
  'AWS::IAM::Role': ['RoleName', 'IAM role'],
  'AWS::IAM::InstanceProfile': ['InstanceProfileName', 'IAM instance profile'],
  'AWS::Lambda::Function': ['FunctionName', 'Lambda function'],
  'AWS::Events::Rule': ['Name', 'EventBridge rule'],
  'AWS::StepFunctions::StateMachine': ['StateMachineName', 'Step Functions state machine'],
  'AWS::SSM::Document': ['Name', 'SSM document'],
  'AWS::SecretsManager::Secret': ['Name', 'Secrets Manager secret'],
  'AWS::SQS::Queue': ['QueueName', 'SQS queue'],
  'AWS::SNS::Topic': ['TopicName', 'SNS topic'],
  'AWS::KMS::Alias': ['AliasName', 'KMS alias'],
};

class KubehaDocumentsPlugin {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'after:package:compileEvents': () => this.addDocuments(),
      'after:aws:package:finalize:mergeCustomProviderResources': () => this.checkTemplateNames(),
    };
  }

  fail(message) {
    throw new this.serverless.classes.Error(message, 'KUBEHA_NAMES');
  }

  addDocuments() {
    const stage = this.serverless.getProvider('aws').getStage();
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    Object.assign(template.Resources, documentResources(stage));
  }

  /** Every literal name in the final template, whoever generated it, against its limit: nothing slips past names.cjs. */
  checkTemplateNames() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const found = [];
    for (const [id, resource] of Object.entries(template.Resources)) {
      const [property, kind] = NAME_PROPERTIES[resource.Type] ?? [];
      const name = property && resource.Properties?.[property];
      if (typeof name === 'string') found.push({ kind, name, setting: `the stage or cluster name (resource ${id})` });
    }
    const problems = names.nameProblems(found);
    if (problems.length > 0) this.fail(`kubeha would create names AWS rejects:\n- ${problems.join('\n- ')}`);
  }
}

module.exports = KubehaDocumentsPlugin;
module.exports.NAME_PROPERTIES = NAME_PROPERTIES;
