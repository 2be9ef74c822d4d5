import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SecurityHubClient } from '@aws-sdk/client-securityhub';
import { createLogger } from '../shared/logger.ts';
import { createMetrics } from '../shared/metrics.ts';
import { parseSecurityHubEnv } from './env.ts';
import { createSecurityHubForwarder } from './process.ts';

// Built once per cold start and injected: process.ts holds the logic and is tested without Lambda.
const settings = parseSecurityHubEnv(process.env);
const logger = createLogger();
const metrics = createMetrics();
const forwarder = createSecurityHubForwarder({
  client: new SecurityHubClient({ region: settings.region }),
  context: settings,
  logger,
  metrics,
});

export const handler = middy(forwarder.processBatch)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
