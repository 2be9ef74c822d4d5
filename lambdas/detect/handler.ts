import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { lazyEventBridgeClient } from '../../lib/aws/lazy.ts';
import { IpLocationDb, ipDataFiles } from '../../lib/enrich/ip.ts';
import { DynamoDbState } from '../../lib/state/dynamodb.ts';
import { createLogger } from '../shared/logger.ts';
import { createMetrics } from '../shared/metrics.ts';
import { DetectEnv, parseDetectEnv } from './env.ts';
import { createDetector } from './process.ts';

// Built once per cold start and injected: process.ts holds the logic and is tested without Lambda.
// The IP tables come from the layer in KITEWATCH_IP_DATA_DIR and load on first lookup. Every batch
// reads and writes state; EventBridge only carries findings, loaded with the first batch that has one.
const settings = parseDetectEnv(process.env);
const logger = createLogger();
const metrics = createMetrics();
const detector = createDetector({
  eventBridge: lazyEventBridgeClient(),
  eventBusName: settings.eventBusName,
  state: new DynamoDbState({ client: new DynamoDBClient({}), tableName: settings.stateTableName }),
  config: settings.config,
  enrich: new IpLocationDb(ipDataFiles({ [DetectEnv.ipDataDir]: settings.ipDataDir })),
  logger,
  metrics,
});

export const handler = middy(detector.processBatch)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
