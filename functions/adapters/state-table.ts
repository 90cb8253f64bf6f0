// The state table (DynamoDB): one partition per cluster, one item per launch record or incident.
// Each item carries a version `v`; conditional writes on it are the compare-and-set that Parameter
// Store lacks (shared/reality.md, "Parameter Store").
import type { StatePort, StoredItem } from '../core/ports.js';
import { chunk } from '../core/cluster.js';
import { AwsThrottledError } from '../core/errors.js';
import { call, errorName } from './aws-errors.js';

type Sdk = typeof import('@aws-sdk/client-dynamodb');

let loaded: Promise<{ sdk: Sdk; client: InstanceType<Sdk['DynamoDBClient']> }> | undefined;
function sdk(): Promise<{ sdk: Sdk; client: InstanceType<Sdk['DynamoDBClient']> }> {
  return (loaded ??= import('@aws-sdk/client-dynamodb').then((module) => ({ sdk: module, client: new module.DynamoDBClient({}) })));
}

const CONDITION_FAILED = 'ConditionalCheckFailedException';
// BatchWriteItem takes at most 25 requests (DynamoDB API reference).
const BATCH_WRITE_LIMIT = 25;
/** BatchWriteItem calls in flight at once (an on-demand table takes far more; the scaling table counts the burst). */
const BATCH_WRITES_AT_ONCE = 8;

/** The expressions kubeha uses, named once: the simulator models exactly these. */
export const STATE_EXPRESSIONS = {
  write: 'SET #body = :body ADD #v :one',
  createOnly: 'attribute_not_exists(pk)',
  unchangedSince: '#v = :expected',
  partitionPrefix: 'pk = :pk AND begins_with(sk, :prefix)',
} as const;

/** Runs a conditional write: false when its condition failed (someone else wrote first), not an error. */
async function whenConditionHolds(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error: unknown) {
    if (errorName(error) === CONDITION_FAILED) return false;
    throw error;
  }
}

function tableName(): string {
  const name = process.env.KUBEHA_STATE_TABLE;
  if (!name) throw new Error('KUBEHA_STATE_TABLE is not set: deploy with serverless.yml, which sets it');
  return name;
}

const partition = (clusterName: string) => `cluster#${clusterName}`;

function toItem<T>(item: Record<string, { S?: string; N?: string }> | undefined): StoredItem<T> | undefined {
  if (!item?.sk?.S || item.body?.S === undefined) return undefined;
  return { key: item.sk.S, value: JSON.parse(item.body.S) as T, version: Number(item.v?.N ?? '0') };
}

export const stateTable: StatePort = {
  async get(clusterName, key) {
    const { sdk: aws, client } = await sdk();
    const answer = await call('dynamodb:GetItem', () =>
      client.send(new aws.GetItemCommand({ TableName: tableName(), Key: { pk: { S: partition(clusterName) }, sk: { S: key } }, ConsistentRead: true })),
    );
    return toItem(answer.Item as never);
  },

  async list(clusterName, keyPrefix) {
    const { sdk: aws, client } = await sdk();
    const items: (StoredItem<never> | undefined)[] = [];
    const pages = aws.paginateQuery(
      { client },
      {
        TableName: tableName(),
        KeyConditionExpression: STATE_EXPRESSIONS.partitionPrefix,
        ExpressionAttributeValues: { ':pk': { S: partition(clusterName) }, ':prefix': { S: keyPrefix } },
        ConsistentRead: true,
      },
    );
    await call('dynamodb:Query', async () => {
      for await (const page of pages) for (const item of page.Items ?? []) items.push(toItem(item as never));
    });
    return items.filter((item) => item !== undefined) as never;
  },

  async put(clusterName, key, value, expected) {
    const { sdk: aws, client } = await sdk();
    const condition = expected === 'absent' ? STATE_EXPRESSIONS.createOnly : expected === 'any' ? undefined : STATE_EXPRESSIONS.unchangedSince;
    return whenConditionHolds(() =>
      call('dynamodb:UpdateItem', () =>
        client.send(
          new aws.UpdateItemCommand({
            TableName: tableName(),
            Key: { pk: { S: partition(clusterName) }, sk: { S: key } },
            UpdateExpression: STATE_EXPRESSIONS.write,
            ExpressionAttributeNames: { '#body': 'body', '#v': 'v' },
            ExpressionAttributeValues: {
              ':body': { S: JSON.stringify(value) },
              ':one': { N: '1' },
              ...(typeof expected === 'number' ? { ':expected': { N: String(expected) } } : {}),
            },
            ...(condition ? { ConditionExpression: condition } : {}),
          }),
        ),
      ),
    );
  },

  async putMany(clusterName, items) {
    const { sdk: aws, client } = await sdk();
    // A fresh version for each write: a compare-and-set that read an older one fails, as it should.
    const version = String(Date.now());
    const writeBatch = async (batch: readonly { key: string; value: unknown }[]) => {
      let requests = batch.map((item) => ({ PutRequest: { Item: { pk: { S: partition(clusterName) }, sk: { S: item.key }, v: { N: version }, body: { S: JSON.stringify(item.value) } } } }));
      for (let attempt = 0; requests.length > 0; attempt += 1) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 50 * 2 ** attempt)));
        if (attempt > 8) throw new AwsThrottledError('dynamodb:BatchWriteItem', { cause: new Error(`${requests.length} items stayed unprocessed`) });
        const answer = await call('dynamodb:BatchWriteItem', () => client.send(new aws.BatchWriteItemCommand({ RequestItems: { [tableName()]: requests } })));
        requests = (answer.UnprocessedItems?.[tableName()] ?? []) as typeof requests;
      }
    };
    // A few batches at once: a 1,000-node cluster's records are 40 batches, which one after the other
    // keep the bootstrap's last step waiting seconds; each batch still backs off on unprocessed items.
    const batches = chunk(items, BATCH_WRITE_LIMIT);
    for (const wave of chunk(batches, BATCH_WRITES_AT_ONCE)) await Promise.all(wave.map(writeBatch));
  },

  async remove(clusterName, key, expected) {
    const { sdk: aws, client } = await sdk();
    return whenConditionHolds(() =>
      call('dynamodb:DeleteItem', () =>
        client.send(
          new aws.DeleteItemCommand({
            TableName: tableName(),
            Key: { pk: { S: partition(clusterName) }, sk: { S: key } },
            ...(expected === undefined
              ? {}
              : { ConditionExpression: STATE_EXPRESSIONS.unchangedSince, ExpressionAttributeNames: { '#v': 'v' }, ExpressionAttributeValues: { ':expected': { N: String(expected) } } }),
          }),
        ),
      ),
    );
  },
};
