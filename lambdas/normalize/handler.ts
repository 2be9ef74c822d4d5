import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { lazyS3Client } from '../../lib/aws/lazy.ts';
import { createLogger } from '../shared/logger.ts';
import { createMetrics } from '../shared/metrics.ts';
import { parseNormalizeEnv } from './env.ts';
import { createNormalizer } from './process.ts';

// Built once per cold start and injected: process.ts holds the logic and is tested without Lambda.
// Every batch publishes to EventBridge; S3 is only for quarantine, loaded on the first rejected input.
const settings = parseNormalizeEnv(process.env);
const logger = createLogger();
const metrics = createMetrics();
const normalizer = createNormalizer({
  eventBridge: new EventBridgeClient({}),
  s3: lazyS3Client(),
  eventBusName: settings.eventBusName,
  quarantineBucket: settings.quarantineBucket,
  expectedSource: settings.expectedSource,
  logger,
  metrics,
});

export const handler = middy(normalizer.processBatch)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
