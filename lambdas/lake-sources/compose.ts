import middy from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { LakeSourcesSettings } from './env.ts';
import { createLakeSources, sendResponse, type LakeSourcesDeps } from './process.ts';

/** Everything the Security Lake source registration Lambda is made of. */
export interface LakeSourcesComposeDeps {
  readonly settings: LakeSourcesSettings;
  /** A Security Lake client in settings.region (the sources are registered in the stack's account and Region). */
  readonly securityLake: LakeSourcesDeps['client'];
  readonly logger: Logger;
  /** Sends the answer to CloudFormation's pre-signed URL. @default fetch */
  readonly fetch?: typeof fetch;
}

/** The registration Lambda behind Custom::KitewatchSecurityLakeSource, as handler.ts deploys it. */
export function compose(deps: LakeSourcesComposeDeps) {
  const sources = createLakeSources({ client: deps.securityLake, ...deps.settings, logger: deps.logger });
  // CloudFormation waits for the answer at ResponseURL: handle() never throws, so it always gets one.
  const register = async (event: CloudFormationCustomResourceEvent): Promise<void> => {
    const result = await sources.handle(event);
    await sendResponse(event, result, deps.fetch);
    deps.logger.info('answered CloudFormation', { requestType: event.RequestType, status: result.Status, physicalResourceId: result.PhysicalResourceId });
  };
  return middy(register).use(injectLambdaContext(deps.logger, { resetKeys: true }));
}
