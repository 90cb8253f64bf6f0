// A local osls plugin that adds kubeha's SSM documents to the compiled CloudFormation template.
// It runs after variable resolution on purpose: the documents embed bash, whose ${...} the
// framework would otherwise try to resolve as its own variables.
'use strict';

const { documentResources } = require('../ssm-documents/render.cjs');

class KubehaDocumentsPlugin {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'after:package:compileEvents': () => this.addDocuments() };
  }

  addDocuments() {
    const stage = this.serverless.getProvider('aws').getStage();
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    Object.assign(template.Resources, documentResources(stage));
  }
}

module.exports = KubehaDocumentsPlugin;
