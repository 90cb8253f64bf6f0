import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { NotifierPort } from '../core/ports.js';
import { call } from './aws-errors.js';

const client = new SNSClient({});

export const notifier: NotifierPort = {
  async publish(subject, message) {
    const topicArn = process.env.KUBEHA_TOPIC_ARN;
    if (!topicArn) throw new Error('KUBEHA_TOPIC_ARN is not set: deploy with serverless.yml, which sets it');
    await call('sns:Publish', () => client.send(new PublishCommand({ TopicArn: topicArn, Subject: subject.slice(0, 99), Message: message })));
  },
};
