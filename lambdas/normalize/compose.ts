import middy from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { NormalizeSettings } from './env.ts';
import { createNormalizer, type NormalizerDeps } from './process.ts';

/** Everything the normalizer Lambda is made of: its settings and the clients, logger and metrics it writes to. */
export interface NormalizeDeps {
  readonly settings: NormalizeSettings;
  readonly eventBridge: NormalizerDeps['eventBridge'];
  /** Quarantine only: the handler passes a client loaded on first use. */
  readonly s3: NormalizerDeps['s3'];
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** The normalizer Lambda, as handler.ts deploys it and test/e2e/harness.ts runs it on moto. */
export function compose(deps: NormalizeDeps) {
  const normalizer = createNormalizer({
    eventBridge: deps.eventBridge,
    s3: deps.s3,
    eventBusName: deps.settings.eventBusName,
    quarantineBucket: deps.settings.quarantineBucket,
    expectedSource: deps.settings.expectedSource,
    logger: deps.logger,
    metrics: deps.metrics,
  });
  return middy(normalizer.processBatch)
    .use(injectLambdaContext(deps.logger, { resetKeys: true }))
    .use(logMetrics(deps.metrics, { captureColdStartMetric: true }));
}
