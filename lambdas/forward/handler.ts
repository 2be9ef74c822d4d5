import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createLogger } from '../shared/logger.ts';
import { createMetrics } from '../shared/metrics.ts';
import { compose } from './compose.ts';
import { parseForwardEnv } from './env.ts';

// Firehose record transform for every Kitewatch delivery stream; the logic is in process.ts and lib/forward.
export const handler = compose({
  settings: parseForwardEnv(process.env),
  dynamoDb: new DynamoDBClient({}),
  logger: createLogger(),
  metrics: createMetrics(),
});
