// Who may touch the Secrets encryption keys, read from the IAM generator (infra/iam.cjs): the master role
// reads them, no other node role and no function but the two that move keys.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { type Statement, actionsOf } from './template.js';

const require = createRequire(import.meta.url);
const iam = require('../../infra/iam.cjs') as {
  functionStatements(stage: string, clusters: string[]): Record<string, Statement[]>;
  nodeStatements(cluster: string, role: string): Statement[];
  secretIds(cluster: string): { encryption: string };
};

const SECRET = { Ref: iam.secretIds('prod-eu').encryption };
const touching = (statements: Statement[]) =>
  statements.filter((statement) => JSON.stringify(statement.Resource ?? '').includes(SECRET.Ref) || (statement.Resource === '*' && actionsOf(statement).some((action) => action.startsWith('secretsmanager:Get'))));

describe('the encryption-key secret in IAM', () => {
  it('is read by the master role only, and written by no node', () => {
    expect(touching(iam.nodeStatements('prod-eu', 'master')).flatMap(actionsOf)).toEqual(['secretsmanager:GetSecretValue']);
    expect(touching(iam.nodeStatements('prod-eu', 'worker'))).toEqual([]);
    expect(touching(iam.nodeStatements('prod-eu', 'lb'))).toEqual([]);
  });

  it('is read and written by ensureEncryptionKey and changeEncryptionKeys only', () => {
    const functions = iam.functionStatements('ci', ['prod-eu']);
    const readers = Object.entries(functions)
      .filter(([, statements]) => touching(statements).length > 0)
      .map(([name]) => name)
      .sort();
    expect(readers).toEqual(['changeEncryptionKeys', 'ensureEncryptionKey']);
    for (const name of readers) {
      expect(touching(functions[name]!).flatMap(actionsOf).sort()).toEqual(['secretsmanager:GetSecretValue', 'secretsmanager:ListSecretVersionIds', 'secretsmanager:PutSecretValue']);
    }
  });
});
