import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { lazyEventBridgeClient } from '../../lib/aws/lazy.ts';
import { createLogger } from '../shared/logger.ts';
import { createMetrics } from '../shared/metrics.ts';
import { compose } from './compose.ts';
import { parseDetectEnv } from './env.ts';

// Every batch reads and writes state: DynamoDB at cold start. EventBridge only carries findings,
// loaded with the first batch that has one; the IP tables (the layer) load on first lookup.
export const handler = compose({
  settings: parseDetectEnv(process.env),
  eventBridge: lazyEventBridgeClient(),
  dynamoDb: new DynamoDBClient({}),
  logger: createLogger(),
  metrics: createMetrics(),
});
