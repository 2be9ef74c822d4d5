/**
 * StatePort adapter on a single DynamoDB table (the contract shared with the CDK stack):
 *
 *   pk   S  partition key = the state key (no sort key)
 *   v    N  when the value is a plain finite number (counters, so `ADD` works on them)
 *        S  otherwise: the value's JSON text (same encoding as SqliteState, and it keeps
 *           floats, empty strings and nested shapes out of DynamoDB's type rules)
 *   ver  N  version, starts at 1, +1 on every write
 *   ttl  N  epoch seconds; the table's TTL attribute
 *
 * TTL deletes lazily, so every read and condition also checks `ttl >= now` itself.
 * Versions keep counting over an expired (not yet deleted) item, so a stale reader
 * can't match a recreated one. `writeCount` counts DynamoDB write requests issued,
 * failed conditional ones included (they consume capacity too).
 */
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoDbSdk } from '../aws/lazy.ts';
import type { PutOptions, StateItem, StatePort } from './port.ts';

export interface DynamoDbStateOptions {
  /**
   * Owned by the caller: close() does not destroy it. The command classes are imported on first
   * use, so a function that only may touch state can pass a lazily loaded client.
   */
  readonly client: Pick<DynamoDBClient, 'send'>;
  readonly tableName: string;
  /** Clock for expiry, epoch seconds. Defaults to wall clock; the engine injects event time. */
  readonly nowSeconds?: () => number;
  /** Strongly consistent reads (default true): detectors read back what they just wrote. */
  readonly consistentRead?: boolean;
  /** Attempts at a BatchGetItem chunk while DynamoDB returns UnprocessedKeys (default 8). */
  readonly maxBatchGetAttempts?: number;
}

type Item = Record<string, AttributeValue>;

const BATCH_GET_LIMIT = 100;
const NAMES = { '#v': 'v', '#ver': 'ver', '#ttl': 'ttl' } as const;
const ONE: AttributeValue = { N: '1' };
const ZERO: AttributeValue = { N: '0' };

const wallClock = (): number => Math.floor(Date.now() / 1000);
const num = (n: number): AttributeValue => ({ N: String(n) });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function isConditionFailure(err: unknown): boolean {
  return err instanceof Error && err.name === 'ConditionalCheckFailedException';
}

/** Numbers go in as N when their decimal text is plain (DynamoDB rejects `1e+21` style). */
function encodeValue(value: unknown): AttributeValue {
  if (typeof value === 'number' && Number.isFinite(value)) {
    const text = String(value);
    if (!/e/i.test(text)) return { N: text };
  }
  return { S: JSON.stringify(value) ?? 'null' };
}

function decodeValue(attr: AttributeValue | undefined): unknown {
  if (attr?.N !== undefined) return Number(attr.N);
  if (attr?.S !== undefined) return JSON.parse(attr.S);
  throw new Error('state item has no v attribute of type N or S');
}

export class DynamoDbState implements StatePort {
  readonly tableName: string;
  private readonly client: Pick<DynamoDBClient, 'send'>;
  private readonly now: () => number;
  private readonly consistentRead: boolean;
  private readonly maxBatchGetAttempts: number;
  private writes = 0;

  constructor(options: DynamoDbStateOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.now = options.nowSeconds ?? wallClock;
    this.consistentRead = options.consistentRead ?? true;
    this.maxBatchGetAttempts = options.maxBatchGetAttempts ?? 8;
  }

  get writeCount(): number {
    return this.writes;
  }

  async get<T = unknown>(key: string): Promise<StateItem<T> | undefined> {
    const { GetItemCommand } = await dynamoDbSdk();
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: key } },
        ConsistentRead: this.consistentRead,
      }),
    );
    return out.Item ? this.alive<T>(out.Item, this.now()) : undefined;
  }

  async getMany<T = unknown>(keys: readonly string[]): Promise<Map<string, StateItem<T>>> {
    // BatchGetItem rejects duplicate keys in one request.
    const unique = [...new Set(keys)];
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT) chunks.push(unique.slice(i, i + BATCH_GET_LIMIT));
    const items = (await Promise.all(chunks.map((chunk) => this.batchGet(chunk)))).flat();
    const now = this.now();
    const out = new Map<string, StateItem<T>>();
    for (const item of items) {
      const key = item['pk']?.S;
      const decoded = key === undefined ? undefined : this.alive<T>(item, now);
      if (key !== undefined && decoded) out.set(key, decoded);
    }
    return out;
  }

  async put<T = unknown>(key: string, value: T, options: PutOptions): Promise<boolean> {
    const { UpdateItemCommand } = await dynamoDbSdk();
    const values: Record<string, AttributeValue> = {
      ':v': encodeValue(value),
      ':exp': num(options.expiresAt),
      ':zero': ZERO,
      ':one': ONE,
    };
    let condition: string | undefined;
    if (options.expectedVersion === 0) {
      condition = 'attribute_not_exists(pk) OR #ttl < :now';
      values[':now'] = num(this.now());
    } else if (options.expectedVersion !== undefined) {
      // An expired item reads as absent, so it can't match a version either.
      condition = '#ver = :ev AND #ttl >= :now';
      values[':ev'] = num(options.expectedVersion);
      values[':now'] = num(this.now());
    }
    this.writes++;
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: key } },
          UpdateExpression: 'SET #v = :v, #ttl = :exp, #ver = if_not_exists(#ver, :zero) + :one',
          ConditionExpression: condition,
          ExpressionAttributeNames: NAMES,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async increment(key: string, delta: number, expiresAt: number): Promise<number> {
    const { UpdateItemCommand } = await dynamoDbSdk();
    // Normally one ADD. An expired-but-undeleted counter must restart at delta, which ADD
    // can't express: that case falls back to a conditional SET, retried if raced.
    for (let attempt = 0; attempt < 5; attempt++) {
      const values = { ':d': num(delta), ':exp': num(expiresAt), ':one': ONE, ':now': num(this.now()) };
      try {
        this.writes++;
        const out = await this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: { pk: { S: key } },
            UpdateExpression: 'ADD #v :d, #ver :one SET #ttl = :exp',
            ConditionExpression: 'attribute_not_exists(pk) OR #ttl >= :now',
            ExpressionAttributeNames: NAMES,
            ExpressionAttributeValues: values,
            ReturnValues: 'UPDATED_NEW',
          }),
        );
        return Number(out.Attributes?.['v']?.N);
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
      try {
        this.writes++;
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: { pk: { S: key } },
            UpdateExpression: 'SET #v = :d, #ttl = :exp, #ver = #ver + :one',
            ConditionExpression: '#ttl < :now',
            ExpressionAttributeNames: NAMES,
            ExpressionAttributeValues: values,
          }),
        );
        return delta;
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    }
    throw new Error(`increment of state key ${JSON.stringify(key)} kept racing with expiry; gave up`);
  }

  async delete(key: string): Promise<void> {
    const { DeleteItemCommand } = await dynamoDbSdk();
    this.writes++;
    await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: { pk: { S: key } } }));
  }

  async close(): Promise<void> {
    // The client is injected and may be shared; its owner destroys it.
  }

  private async batchGet(keys: readonly string[]): Promise<Item[]> {
    const { BatchGetItemCommand } = await dynamoDbSdk();
    const found: Item[] = [];
    let pending: Item[] = keys.map((key) => ({ pk: { S: key } }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= this.maxBatchGetAttempts) {
        throw new Error(`BatchGetItem left ${pending.length} keys unprocessed after ${attempt} attempts`);
      }
      if (attempt > 0) await sleep(Math.min(2000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2));
      const out = await this.client.send(
        new BatchGetItemCommand({
          RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: this.consistentRead } },
        }),
      );
      found.push(...(out.Responses?.[this.tableName] ?? []));
      pending = out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
    }
    return found;
  }

  private alive<T>(item: Item, now: number): StateItem<T> | undefined {
    const expiresAt = Number(item['ttl']?.N);
    if (!(expiresAt >= now)) return undefined;
    return { value: decodeValue(item['v']) as T, version: Number(item['ver']?.N), expiresAt };
  }
}
