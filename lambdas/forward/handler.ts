import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createLogger } from '../shared/logger.ts';
import { createMetrics } from '../shared/metrics.ts';
import { parseForwardEnv } from './env.ts';
import { createTransformer } from './process.ts';

// Firehose record transform for every Kitewatch delivery stream; the logic is in process.ts and lib/forward.
const settings = parseForwardEnv(process.env);
const logger = createLogger();
const metrics = createMetrics();
const transformer = createTransformer({
  routes: settings.routes,
  logger,
  metrics,
  dedup: settings.stateTable === undefined ? undefined : { client: new DynamoDBClient({}), tableName: settings.stateTable },
});

export const handler = middy(transformer.handle)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
