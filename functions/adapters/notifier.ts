import type { NotifierPort } from '../core/ports.js';
import { call } from './aws-errors.js';

type Sdk = typeof import('@aws-sdk/client-sns');

// The SDK package loads on first use, not at cold start: most functions use one or two of the five.
let loaded: Promise<{ sdk: Sdk; client: InstanceType<Sdk['SNSClient']> }> | undefined;
function sdk(): Promise<{ sdk: Sdk; client: InstanceType<Sdk['SNSClient']> }> {
  return (loaded ??= import('@aws-sdk/client-sns').then((module) => ({ sdk: module, client: new module.SNSClient({}) })));
}

export const notifier: NotifierPort = {
  async publish(subject, message) {
    const { sdk: aws, client } = await sdk();
    const topicArn = process.env.KUBEHA_TOPIC_ARN;
    if (!topicArn) throw new Error('KUBEHA_TOPIC_ARN is not set: deploy with serverless.yml, which sets it');
    await call('sns:Publish', () => client.send(new aws.PublishCommand({ TopicArn: topicArn, Subject: subject.slice(0, 99), Message: message })));
  },
};
