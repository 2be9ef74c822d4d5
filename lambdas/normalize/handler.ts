import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { lazyS3Client } from '../../lib/aws/lazy.ts';
import { createLogger } from '../shared/logger.ts';
import { createMetrics } from '../shared/metrics.ts';
import { compose } from './compose.ts';
import { parseNormalizeEnv } from './env.ts';

// Every batch publishes to EventBridge: loaded at cold start. S3 is only for quarantine, loaded on the first rejected input.
export const handler = compose({
  settings: parseNormalizeEnv(process.env),
  eventBridge: new EventBridgeClient({}),
  s3: lazyS3Client(),
  logger: createLogger(),
  metrics: createMetrics(),
});
