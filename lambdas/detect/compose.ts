import middy from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IpLocationDb, ipDataFiles, type IpEnricher } from '../../lib/enrich/ip.ts';
import { DynamoDbState } from '../../lib/state/dynamodb.ts';
import { DetectEnv, type DetectSettings } from './env.ts';
import { createDetector, type DetectorDeps } from './process.ts';

/** Everything the detector Lambda is made of. */
export interface DetectDeps {
  readonly settings: DetectSettings;
  /** Findings only: the handler passes a client loaded with the first batch that has one. */
  readonly eventBridge: DetectorDeps['eventBridge'];
  /** The state table's client: every batch reads and writes state. */
  readonly dynamoDb: Pick<DynamoDBClient, 'send'>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** @default the IP tables in settings.ipDataDir (the layer), loaded on first lookup */
  readonly enrich?: IpEnricher;
}

/** The detector Lambda, as handler.ts deploys it and test/e2e/harness.ts runs it on moto. */
export function compose(deps: DetectDeps) {
  const { settings } = deps;
  const detector = createDetector({
    eventBridge: deps.eventBridge,
    eventBusName: settings.eventBusName,
    state: new DynamoDbState({ client: deps.dynamoDb, tableName: settings.stateTableName }),
    config: settings.config,
    enrich: deps.enrich ?? new IpLocationDb(ipDataFiles({ [DetectEnv.ipDataDir]: settings.ipDataDir })),
    logger: deps.logger,
    metrics: deps.metrics,
  });
  return middy(detector.processBatch)
    .use(injectLambdaContext(deps.logger, { resetKeys: true }))
    .use(logMetrics(deps.metrics, { captureColdStartMetric: true }));
}
