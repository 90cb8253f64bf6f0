// The simulated SNS topic and Secrets Manager calls the Lambda side makes (it reads only the encryption
// secret's value; instances read theirs in sim/node-documents.ts), beside functions/adapters/notifier.ts and secrets.ts.
import { DescribeSecretCommand, GetSecretValueCommand, ListSecretVersionIdsCommand, ListSecretsCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsError, type SimulatedFleet } from './fleet.js';
import { route } from './service.js';

export function installSns(fleet: SimulatedFleet) {
  const sns = mockClient(SNSClient);
  sns.onAnyCommand().rejects(new AwsError('NotModelled', 'the simulated fleet does not model this call'));
  sns.on(PublishCommand).callsFake(
    route(fleet, 'sns', 'Publish', (input: { Subject?: string; Message?: string }) => {
      fleet.publish(input.Subject ?? '', input.Message ?? '');
      return { MessageId: `msg-${fleet.notifications.length}` };
    }),
  );
  return sns;
}

export function installSecretsManager(fleet: SimulatedFleet) {
  const secrets = mockClient(SecretsManagerClient);
  secrets.onAnyCommand().rejects(new AwsError('NotModelled', 'the simulated fleet does not model this call'));
  secrets.on(DescribeSecretCommand).callsFake(
    route(fleet, 'secretsmanager', 'DescribeSecret', (input: { SecretId?: string }) => {
      const secret = fleet.findSecret(input.SecretId ?? '');
      if (!secret) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
      return { ARN: secret.arn, Name: secret.name };
    }),
  );
  // GetSecretValue without VersionId/VersionStage returns AWSCURRENT (Secrets Manager API reference).
  secrets.on(GetSecretValueCommand).callsFake(
    route(fleet, 'secretsmanager', 'GetSecretValue', (input: { SecretId?: string }) => {
      const secret = fleet.findSecret(input.SecretId ?? '');
      const current = secret?.versions.at(-1);
      if (!secret || !current) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT");
      return { ARN: secret.arn, Name: secret.name, VersionId: current.versionId, SecretString: current.value, VersionStages: ['AWSCURRENT'] };
    }),
  );
  secrets.on(ListSecretVersionIdsCommand).callsFake(
    route(fleet, 'secretsmanager', 'ListSecretVersionIds', (input: { SecretId?: string }) => {
      const secret = fleet.findSecret(input.SecretId ?? '');
      if (!secret) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
      const current = secret.versions.at(-1);
      return {
        ARN: secret.arn,
        Versions: secret.versions.map((version) => ({
          VersionId: version.versionId,
          CreatedDate: new Date(version.createdAt),
          VersionStages: version === current ? ['AWSCURRENT'] : version === secret.versions.at(-2) ? ['AWSPREVIOUS'] : [],
        })),
      };
    }),
  );
  // ListSecrets returns names, ARNs and tags, never values. A `name` filter matches names that begin with
  // the value (API reference, Filter: "name: Prefix match, case-sensitive").
  secrets.on(ListSecretsCommand).callsFake(
    route(fleet, 'secretsmanager', 'ListSecrets', (input: { Filters?: { Key?: string; Values?: string[] }[] }) => {
      const prefixes = (input.Filters ?? []).filter((filter) => filter.Key === 'name').flatMap((filter) => filter.Values ?? []);
      const listed = [...fleet.secrets.values()].filter((secret) => prefixes.every((prefix) => secret.name.startsWith(prefix)));
      return { SecretList: listed.map((secret) => ({ ARN: secret.arn, Name: secret.name, Tags: Object.entries(secret.tags).map(([Key, Value]) => ({ Key, Value })) })) };
    }),
  );
  secrets.on(PutSecretValueCommand).callsFake(
    route(fleet, 'secretsmanager', 'PutSecretValue', (input: { SecretId?: string; SecretString?: string }) => {
      const stored = fleet.putSecretValue(input.SecretId ?? '', input.SecretString ?? '');
      return { ARN: stored.arn, VersionId: stored.versionId };
    }),
  );
  return secrets;
}
