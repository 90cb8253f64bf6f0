import { randomUUID } from 'node:crypto';
import { CreateSecretCommand, DescribeSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretsPort } from '../core/ports.js';
import { AWS_ERROR, call, errorName } from './aws-errors.js';

const client = new SecretsManagerClient({});

export const CLUSTER_SECRET_TAG = 'kubeha:cluster';

async function describeArn(name: string): Promise<string | undefined> {
  try {
    const answer = await call('secretsmanager:DescribeSecret', () => client.send(new DescribeSecretCommand({ SecretId: name })));
    return answer.ARN;
  } catch (error: unknown) {
    if (errorName(error) === AWS_ERROR.secretNotFound) return undefined;
    throw error;
  }
}

// Note what is absent: kubeha's Lambda functions never call GetSecretValue. Only instances read secrets.
export const secrets: SecretsPort = {
  async ensureSecret(name, clusterName, description) {
    const existing = await describeArn(name);
    if (existing) return existing;
    try {
      const created = await call('secretsmanager:CreateSecret', () =>
        client.send(new CreateSecretCommand({ Name: name, Description: description, Tags: [{ Key: CLUSTER_SECRET_TAG, Value: clusterName }] })),
      );
      if (!created.ARN) throw new Error(`CreateSecret returned no ARN for ${name}`);
      return created.ARN;
    } catch (error: unknown) {
      // Two executions raced to create it: the other one won, which is just as good.
      if (errorName(error) === AWS_ERROR.secretExists) {
        const raced = await describeArn(name);
        if (raced) return raced;
      }
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
