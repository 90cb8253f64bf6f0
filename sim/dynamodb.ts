// The simulated state table, beside functions/adapters/state-table.ts. It models exactly the four
// expressions kubeha uses (STATE_EXPRESSIONS) with DynamoDB's semantics: UpdateItem creates the item
// if absent, ADD on a missing number starts from 0, a failed ConditionExpression raises
// ConditionalCheckFailedException and writes nothing (DynamoDB developer guide, "Condition expressions").
// Any other expression is refused, so a new use must be modelled here first.
import { BatchWriteItemCommand, DeleteItemCommand, DynamoDBClient, GetItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { STATE_EXPRESSIONS } from '../functions/adapters/state-table.js';
import { AwsError, type SimulatedFleet } from './fleet.js';
import { route } from './service.js';

type Key = { pk?: { S?: string }; sk?: { S?: string } };
type Values = Record<string, { S?: string; N?: string }>;

const itemKey = (key: Key) => `${key.pk?.S ?? ''}|${key.sk?.S ?? ''}`;

function shape(item: { pk: string; sk: string; v: number; body: string }) {
  return { pk: { S: item.pk }, sk: { S: item.sk }, v: { N: String(item.v) }, body: { S: item.body } };
}

export function installDynamoDb(fleet: SimulatedFleet) {
  const dynamodb = mockClient(DynamoDBClient);
  dynamodb.onAnyCommand().rejects(new AwsError('NotModelled', 'the simulated fleet does not model this call'));

  dynamodb.on(GetItemCommand).callsFake(
    route(fleet, 'dynamodb', 'GetItem', (input: { Key?: Key }) => {
      const item = fleet.items.get(itemKey(input.Key ?? {}));
      return item ? { Item: shape(item) } : {};
    }),
  );
  dynamodb.on(QueryCommand).callsFake(
    route(fleet, 'dynamodb', 'Query', (input: { KeyConditionExpression?: string; ExpressionAttributeValues?: Values }) => {
      if (input.KeyConditionExpression !== STATE_EXPRESSIONS.partitionPrefix) throw new AwsError('NotModelled', `key condition ${input.KeyConditionExpression} is not modelled`);
      const pk = input.ExpressionAttributeValues?.[':pk']?.S ?? '';
      const prefix = input.ExpressionAttributeValues?.[':prefix']?.S ?? '';
      const items = [...fleet.items.values()].filter((item) => item.pk === pk && item.sk.startsWith(prefix)).sort((a, b) => a.sk.localeCompare(b.sk));
      return { Items: items.map(shape), Count: items.length };
    }),
  );
  dynamodb.on(UpdateItemCommand).callsFake(
    route(fleet, 'dynamodb', 'UpdateItem', (input: { Key?: Key; UpdateExpression?: string; ConditionExpression?: string; ExpressionAttributeValues?: Values }) => {
      if (input.UpdateExpression !== STATE_EXPRESSIONS.write) throw new AwsError('NotModelled', `update ${input.UpdateExpression} is not modelled`);
      const key = itemKey(input.Key ?? {});
      const existing = fleet.items.get(key);
      const values = input.ExpressionAttributeValues ?? {};
      const holds =
        input.ConditionExpression === undefined ||
        (input.ConditionExpression === STATE_EXPRESSIONS.createOnly && !existing) ||
        (input.ConditionExpression === STATE_EXPRESSIONS.unchangedSince && existing !== undefined && existing.v === Number(values[':expected']?.N));
      if (input.ConditionExpression !== undefined && input.ConditionExpression !== STATE_EXPRESSIONS.createOnly && input.ConditionExpression !== STATE_EXPRESSIONS.unchangedSince) {
        throw new AwsError('NotModelled', `condition ${input.ConditionExpression} is not modelled`);
      }
      if (!holds) throw new AwsError('ConditionalCheckFailedException', 'The conditional request failed');
      fleet.items.set(key, { pk: input.Key?.pk?.S ?? '', sk: input.Key?.sk?.S ?? '', v: (existing?.v ?? 0) + Number(values[':one']?.N ?? '0'), body: values[':body']?.S ?? '' });
      return {};
    }),
  );
  dynamodb.on(BatchWriteItemCommand).callsFake(
    route(fleet, 'dynamodb', 'BatchWriteItem', (input: { RequestItems?: Record<string, { PutRequest?: { Item?: Record<string, { S?: string; N?: string }> } }[]> }) => {
      const requests = Object.values(input.RequestItems ?? {}).flat();
      if (requests.length > 25) throw new AwsError('ValidationException', 'Too many items requested for the BatchWriteItem call');
      for (const request of requests) {
        const item = request.PutRequest?.Item;
        if (!item) throw new AwsError('NotModelled', 'only PutRequest is modelled');
        fleet.items.set(itemKey(item as Key), { pk: item.pk?.S ?? '', sk: item.sk?.S ?? '', v: Number(item.v?.N ?? '0'), body: item.body?.S ?? '' });
      }
      return { UnprocessedItems: {} };
    }),
  );
  dynamodb.on(DeleteItemCommand).callsFake(
    route(fleet, 'dynamodb', 'DeleteItem', (input: { Key?: Key; ConditionExpression?: string; ExpressionAttributeValues?: Values }) => {
      const key = itemKey(input.Key ?? {});
      if (input.ConditionExpression !== undefined) {
        if (input.ConditionExpression !== STATE_EXPRESSIONS.unchangedSince) throw new AwsError('NotModelled', `condition ${input.ConditionExpression} is not modelled`);
        // A condition on an absent item evaluates against no attributes: it fails.
        if (fleet.items.get(key)?.v !== Number(input.ExpressionAttributeValues?.[':expected']?.N)) throw new AwsError('ConditionalCheckFailedException', 'The conditional request failed');
      }
      fleet.items.delete(key);
      return {};
    }),
  );
  return dynamodb;
}
