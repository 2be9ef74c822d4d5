import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { BuildkiteClient } from '../../lib/buildkite/client.ts';
import { secretsManagerTokenProvider } from '../../lib/buildkite/token.ts';
import { createLogger } from '../shared/logger.ts';
import { parseRotateAgentTokenEnv } from './env.ts';
import { createAgentTokenRotator } from './process.ts';

// Built once per cold start and injected: process.ts holds the logic and is tested without Lambda.
const settings = parseRotateAgentTokenEnv(process.env);
const logger = createLogger();
const secretsManager = new SecretsManagerClient({});
const rotate = createAgentTokenRotator({
  secretsManager,
  buildkite: new BuildkiteClient({ apiUrl: settings.apiUrl, token: secretsManagerTokenProvider({ client: secretsManager, secretId: settings.apiTokenSecretArn }) }),
  logger,
});

export const handler = middy(rotate).use(injectLambdaContext(logger, { resetKeys: true }));
