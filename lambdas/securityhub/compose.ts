import middy from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { SecurityHubSettings } from './env.ts';
import { createSecurityHubForwarder, type SecurityHubForwarderDeps } from './process.ts';

/** Everything the Security Hub forwarder Lambda is made of. */
export interface SecurityHubDeps {
  readonly settings: SecurityHubSettings;
  /** A client in settings.region (BatchImportFindings imports into the caller's own account and region). */
  readonly securityHub: SecurityHubForwarderDeps['client'];
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** The Security Hub forwarder Lambda, as handler.ts deploys it and test/e2e/harness.ts runs it on moto. */
export function compose(deps: SecurityHubDeps) {
  const forwarder = createSecurityHubForwarder({ client: deps.securityHub, context: deps.settings, logger: deps.logger, metrics: deps.metrics });
  return middy(forwarder.processBatch)
    .use(injectLambdaContext(deps.logger, { resetKeys: true }))
    .use(logMetrics(deps.metrics, { captureColdStartMetric: true }));
}
