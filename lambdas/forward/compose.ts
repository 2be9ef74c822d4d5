import middy from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ForwardSettings } from './env.ts';
import { createTransformer } from './process.ts';

/** Everything the Firehose transform Lambda is made of. */
export interface ForwardDeps {
  readonly settings: ForwardSettings;
  /** The state table's client; used only when settings name the table (cross-buffer de-duplication). */
  readonly dynamoDb: Pick<DynamoDBClient, 'send'>;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** The Firehose record transform of every Kitewatch delivery stream, as handler.ts deploys it and test/e2e/harness.ts runs it. */
export function compose(deps: ForwardDeps) {
  const { settings } = deps;
  const transformer = createTransformer({
    routes: settings.routes,
    logger: deps.logger,
    metrics: deps.metrics,
    dedup: settings.stateTable === undefined ? undefined : { client: deps.dynamoDb, tableName: settings.stateTable },
  });
  return middy(transformer.handle)
    .use(injectLambdaContext(deps.logger, { resetKeys: true }))
    .use(logMetrics(deps.metrics, { captureColdStartMetric: true }));
}
