import { randomUUID } from 'node:crypto';
import type { SecretsPort } from '../core/ports.js';
import { AWS_ERROR, call, errorName } from './aws-errors.js';

type Sdk = typeof import('@aws-sdk/client-secrets-manager');

// The SDK package loads on first use, not at cold start: most functions use one or two of the five.
let loaded: Promise<{ sdk: Sdk; client: InstanceType<Sdk['SecretsManagerClient']> }> | undefined;
function sdk(): Promise<{ sdk: Sdk; client: InstanceType<Sdk['SecretsManagerClient']> }> {
  return (loaded ??= import('@aws-sdk/client-secrets-manager').then((module) => ({ sdk: module, client: new module.SecretsManagerClient({}) })));
}

// Note what is absent: kubeha's Lambda functions never create secrets (the stack owns them), and only
// the two encryption-key functions call GetSecretValue, on the encryption secret alone (infra/iam.cjs).
export const secrets: SecretsPort = {
  async findSecretArn(name) {
    const { sdk: aws, client } = await sdk();
    try {
      const answer = await call('secretsmanager:DescribeSecret', () => client.send(new aws.DescribeSecretCommand({ SecretId: name })));
      return answer.ARN;
    } catch (error: unknown) {
      if (errorName(error) === AWS_ERROR.secretNotFound) return undefined;
      throw error;
    }
  },

  async getSecretValue(secretArn) {
    const { sdk: aws, client } = await sdk();
    try {
      const answer = await call('secretsmanager:GetSecretValue', () => client.send(new aws.GetSecretValueCommand({ SecretId: secretArn })));
      return answer.SecretString;
    } catch (error: unknown) {
      if (errorName(error) === AWS_ERROR.secretNotFound) return undefined;
      throw error;
    }
  },

  async currentVersion(secretArn) {
    const { sdk: aws, client } = await sdk();
    const pages = aws.paginateListSecretVersionIds({ client }, { SecretId: secretArn });
    let current: { versionId: string; createdAt: number } | undefined;
    await call('secretsmanager:ListSecretVersionIds', async () => {
      for await (const page of pages) {
        const found = (page.Versions ?? []).find((version) => version.VersionStages?.includes('AWSCURRENT'));
        if (found?.VersionId && found.CreatedDate) current = { versionId: found.VersionId, createdAt: found.CreatedDate.getTime() };
      }
    });
    return current;
  },

  async listSecrets(prefix) {
    const { sdk: aws, client } = await sdk();
    // The `name` filter is a case-sensitive prefix match (API reference, Filter). Values never come back.
    const pages = aws.paginateListSecrets({ client }, { Filters: [{ Key: 'name', Values: [prefix] }] });
    const listed: { name: string; tags: Record<string, string> }[] = [];
    await call('secretsmanager:ListSecrets', async () => {
      for await (const page of pages) {
        for (const secret of page.SecretList ?? []) {
          if (secret.Name?.startsWith(prefix)) listed.push({ name: secret.Name, tags: Object.fromEntries((secret.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? ''])) });
        }
      }
    });
    return listed;
  },

  async putSecretValue(secretArn, value) {
    const { sdk: aws, client } = await sdk();
    const answer = await call('secretsmanager:PutSecretValue', () =>
      client.send(new aws.PutSecretValueCommand({ SecretId: secretArn, SecretString: value, ClientRequestToken: randomUUID() })),
    );
    if (!answer.VersionId) throw new Error('PutSecretValue returned no version id');
    return { secretArn: answer.ARN ?? secretArn, versionId: answer.VersionId };
  },
};
