/**
 * Test helpers for the shared moto server started by test/support/global-setup.ts.
 * Test files run in parallel against the same moto: name resources with uniqueName().
 */
import { randomBytes } from 'node:crypto';
import { CreateTableCommand, UpdateTimeToLiveCommand, waitUntilTableExists, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, type PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import { inject } from 'vitest';

export interface AwsTestClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export function motoEndpoint(): string {
  return inject('motoEndpoint');
}

/** Spread into any AWS SDK v3 client constructor: `new DynamoDBClient(awsClientConfig())`. */
export function awsClientConfig(): AwsTestClientConfig {
  return {
    endpoint: motoEndpoint(),
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
}

let counter = 0;

/** `prefix-<pid>-<n>-<random>`: unique across parallel test files; valid as a table/queue/bucket name part. */
export function uniqueName(prefix: string): string {
  counter++;
  return `${prefix}-${process.pid}-${counter}-${randomBytes(3).toString('hex')}`;
}

/**
 * Wipes ALL moto state. Other test files share the server and may be running right now,
 * so only use it where nothing else can be; prefer unique resource names.
 */
export async function resetMoto(): Promise<void> {
  const res = await fetch(`${motoEndpoint()}/moto-api/reset`, { method: 'POST' });
  await res.body?.cancel();
  if (!res.ok) throw new Error(`moto reset failed: HTTP ${res.status}`);
}

/**
 * The state table as the CDK stateful stack defines it (lib/state/dynamodb.ts layout): `pk` (S)
 * only, TTL on `ttl`. Creates it on moto and waits until it exists.
 */
export async function createStateTable(db: DynamoDBClient, name: string): Promise<string> {
  await db.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await waitUntilTableExists({ client: db, maxWaitTime: 30 }, { TableName: name });
  await db.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true } }));
  return name;
}

/**
 * A real EventBridge client on moto with every call counted. `tamper` may rewrite a PutEvents answer;
 * `throwOnCall` makes that call (1-based) throw a ThrottlingException before it reaches moto.
 */
export function instrumentedEventBridge(options: { tamper?: (output: PutEventsCommandOutput, call: number) => PutEventsCommandOutput; throwOnCall?: number } = {}): {
  client: EventBridgeClient;
  calls: () => number;
} {
  const client = new EventBridgeClient(awsClientConfig());
  let calls = 0;
  client.middlewareStack.add(
    (next) => async (args) => {
      const call = ++calls;
      if (call === options.throwOnCall) throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
      const result = await next(args);
      return options.tamper === undefined ? result : { ...result, output: options.tamper(result.output as PutEventsCommandOutput, call) };
    },
    { step: 'initialize', name: 'instrumentPutEvents' },
  );
  return { client, calls: () => calls };
}
