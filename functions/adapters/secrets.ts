import { randomUUID } from 'node:crypto';
import { DescribeSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretsPort } from '../core/ports.js';
import { AWS_ERROR, call, errorName } from './aws-errors.js';

const client = new SecretsManagerClient({});

// Note what is absent: kubeha's Lambda functions never call GetSecretValue (only instances read
// secrets) and never create secrets (the stack owns one pair per cluster).
export const secrets: SecretsPort = {
  async findSecretArn(name) {
    try {
      const answer = await call('secretsmanager:DescribeSecret', () => client.send(new DescribeSecretCommand({ SecretId: name })));
      return answer.ARN;
    } catch (error: unknown) {
      if (errorName(error) === AWS_ERROR.secretNotFound) return undefined;
      throw error;
    }
  },

  async putSecretValue(secretArn, value) {
    const answer = await call('secretsmanager:PutSecretValue', () =>
      client.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: value, ClientRequestToken: randomUUID() })),
    );
    if (!answer.VersionId) throw new Error('PutSecretValue returned no version id');
    return { secretArn: answer.ARN ?? secretArn, versionId: answer.VersionId };
  },
};
