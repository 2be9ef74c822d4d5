import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SecurityLakeClient } from '@aws-sdk/client-securitylake';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { createLogger } from '../shared/logger.ts';
import { parseLakeSourcesEnv } from './env.ts';
import { createLakeSources, sendResponse } from './process.ts';

// Built once per cold start and injected: process.ts holds the logic and is tested without Lambda.
const settings = parseLakeSourcesEnv(process.env);
const logger = createLogger();
const sources = createLakeSources({ client: new SecurityLakeClient({ region: settings.region }), ...settings, logger });

/** CloudFormation waits for the answer at ResponseURL: handle() never throws, so it always gets one. */
async function register(event: CloudFormationCustomResourceEvent): Promise<void> {
  const result = await sources.handle(event);
  await sendResponse(event, result);
  logger.info('answered CloudFormation', { requestType: event.RequestType, status: result.Status, physicalResourceId: result.PhysicalResourceId });
}

export const handler = middy(register).use(injectLambdaContext(logger, { resetKeys: true }));
