import { type BatchGetItemCommandOutput, DeleteTableCommand, DescribeTimeToLiveCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchStateCache } from '../../lib/state/batch-cache.ts';
import { DynamoDbState } from '../../lib/state/dynamodb.ts';
import { awsClientConfig, createStateTable, uniqueName } from '../support/moto.ts';
import { describeStateContract } from './contract.ts';
import { FlushEachWrite } from './flush-each.ts';

let client: DynamoDBClient;
let tableName: string;

beforeAll(async () => {
  client = new DynamoDBClient(awsClientConfig());
  tableName = uniqueName('kw-state');
  await createStateTable(client, tableName);
});

afterAll(async () => {
  await client.send(new DeleteTableCommand({ TableName: tableName }));
  client.destroy();
});

// moto's server does not lock items between threads: see ContractOptions and the ADD test below.
const onMoto = { storeIsAtomicUnderConcurrency: false };

describeStateContract(
  'DynamoDbState (moto)',
  (now) => ({
    state: new DynamoDbState({ client, tableName, nowSeconds: now }),
  }),
  onMoto,
);

describeStateContract(
  'BatchStateCache over DynamoDbState (flush after each write)',
  (now) => {
    const inner = new DynamoDbState({ client, tableName, nowSeconds: now });
    return { state: new FlushEachWrite(new BatchStateCache(inner, { nowSeconds: now })) };
  },
  onMoto,
);

describe('BatchStateCache over DynamoDbState', () => {
  it('turns 10,000 increments on one hot key into one DynamoDB write', async () => {
    const now = (): number => 1_000;
    const inner = new DynamoDbState({ client, tableName, nowSeconds: now });
    const cache = new BatchStateCache(inner, { nowSeconds: now });
    const key = uniqueName('hot');
    for (let i = 0; i < 10_000; i++) await cache.increment(key, 1, 2_000);
    expect(inner.writeCount).toBe(0);
    await cache.flush();
    expect(inner.writeCount).toBe(1);
    expect(await inner.get(key)).toEqual({ value: 10_000, version: 1, expiresAt: 2_000 });
  });
});

describe('DynamoDbState', () => {
  it('increments with one conditional ADD per call and never reads first (atomic in DynamoDB, whatever the concurrency)', async () => {
    const sent: { name: string; input: Record<string, unknown> }[] = [];
    const recording = {
      send: (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
        sent.push({ name: command.constructor.name, input: command.input });
        return client.send(command as never);
      },
    };
    const state = new DynamoDbState({ client: recording as never, tableName, nowSeconds: () => 1_000 });
    const key = uniqueName('add');
    for (let i = 0; i < 25; i++) expect(await state.increment(key, 1, 2_000)).toBe(i + 1);
    expect(sent).toHaveLength(25);
    for (const c of sent) {
      expect(c.name).toBe('UpdateItemCommand');
      expect(c.input['UpdateExpression']).toMatch(/^ADD #v :d\b/);
    }
  });

  it('has TTL enabled on the ttl attribute', async () => {
    const out = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    expect(out.TimeToLiveDescription).toMatchObject({ AttributeName: 'ttl', TimeToLiveStatus: 'ENABLED' });
  });

  it('stores the documented item layout: pk, v (N or JSON S), ver, ttl', async () => {
    const state = new DynamoDbState({ client, tableName, nowSeconds: () => 1_000 });
    const key = uniqueName('layout');
    await state.put(`${key}:obj`, { a: [1, 'x'] }, { expiresAt: 2_000 });
    await state.increment(`${key}:n`, 3, 2_500);
    const raw = async (pk: string) => (await client.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: pk } } }))).Item;
    expect(await raw(`${key}:obj`)).toEqual({
      pk: { S: `${key}:obj` },
      v: { S: '{"a":[1,"x"]}' },
      ver: { N: '1' },
      ttl: { N: '2000' },
    });
    expect(await raw(`${key}:n`)).toEqual({
      pk: { S: `${key}:n` },
      v: { N: '3' },
      ver: { N: '1' },
      ttl: { N: '2500' },
    });
  });

  it('counts the extra write when an expired counter is restarted', async () => {
    let now = 1_000;
    const state = new DynamoDbState({ client, tableName, nowSeconds: () => now });
    const key = uniqueName('restart');
    await state.increment(key, 5, 1_010);
    now = 1_011;
    const before = state.writeCount;
    expect(await state.increment(key, 1, 1_100)).toBe(1);
    expect(state.writeCount).toBe(before + 2);
    expect(await state.get(key)).toEqual({ value: 1, version: 2, expiresAt: 1_100 });
  });

  it('retries BatchGetItem UnprocessedKeys until every key is read', async () => {
    // A client whose first BatchGetItem answers only half and returns the rest as unprocessed.
    const flaky = new DynamoDBClient(awsClientConfig());
    let calls = 0;
    flaky.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName !== 'BatchGetItemCommand') return result;
        calls++;
        if (calls > 1) return result;
        const out = result.output as BatchGetItemCommandOutput;
        const items = out.Responses?.[tableName] ?? [];
        const keep = items.slice(0, Math.floor(items.length / 2));
        const drop = items.slice(keep.length).map((item) => ({ pk: item['pk'] ?? { S: '' } }));
        out.Responses = { [tableName]: keep };
        out.UnprocessedKeys = { [tableName]: { Keys: drop } };
        return result;
      },
      { step: 'initialize', name: 'dropHalfOfBatchGet' },
    );
    const writer = new DynamoDbState({ client, tableName, nowSeconds: () => 1_000 });
    const reader = new DynamoDbState({ client: flaky, tableName, nowSeconds: () => 1_000 });
    const prefix = uniqueName('unprocessed');
    const keys = Array.from({ length: 10 }, (_, i) => `${prefix}:${i}`);
    for (const key of keys) await writer.put(key, key, { expiresAt: 2_000 });
    const got = await reader.getMany<string>(keys);
    expect(calls).toBe(2);
    expect([...got.keys()].sort()).toEqual([...keys].sort());
    flaky.destroy();
  });

  it('gives up with an error when keys stay unprocessed', async () => {
    const stuck = new DynamoDBClient(awsClientConfig());
    stuck.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'BatchGetItemCommand') {
          const out = result.output as BatchGetItemCommandOutput;
          out.UnprocessedKeys = { [tableName]: { Keys: [{ pk: { S: 'always' } }] } };
        }
        return result;
      },
      { step: 'initialize', name: 'neverFinish' },
    );
    const reader = new DynamoDbState({ client: stuck, tableName, maxBatchGetAttempts: 3 });
    await expect(reader.getMany(['always'])).rejects.toThrow(/unprocessed after 3 attempts/);
    stuck.destroy();
  });

  it('surfaces errors other than a failed condition', async () => {
    const state = new DynamoDbState({ client, tableName: uniqueName('no-such-table') });
    await expect(state.put('k', 1, { expiresAt: 10 })).rejects.toThrow(/ResourceNotFound|not found|non-existent/i);
  });

  it('does not retry BatchGetItem when nothing is unprocessed', async () => {
    const counting = new DynamoDBClient(awsClientConfig());
    let calls = 0;
    counting.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'BatchGetItemCommand') calls++;
        return next(args);
      },
      { step: 'initialize', name: 'countBatchGet' },
    );
    const state = new DynamoDbState({ client: counting, tableName });
    await state.getMany(Array.from({ length: 150 }, (_, i) => uniqueName(`absent${i}`)));
    expect(calls).toBe(2); // two chunks of at most 100
    counting.destroy();
  });
});
