import middy from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { BuildkiteClient } from '../../lib/buildkite/client.ts';
import { secretsManagerTokenProvider } from '../../lib/buildkite/token.ts';
import type { SecretsManagerPort } from '../../lib/containment/rotation.ts';
import type { RotateAgentTokenSettings } from './env.ts';
import { createAgentTokenRotator } from './process.ts';

/** Everything the agent-token rotation Lambda is made of. */
export interface RotateAgentTokenDeps {
  readonly settings: RotateAgentTokenSettings;
  /** The rotated secret, and the Buildkite API token. */
  readonly secretsManager: SecretsManagerPort;
  readonly logger: Logger;
}

/** The Secrets Manager rotation Lambda for cluster agent tokens, as handler.ts deploys it. */
export function compose(deps: RotateAgentTokenDeps) {
  const { settings, secretsManager } = deps;
  const rotate = createAgentTokenRotator({
    secretsManager,
    buildkite: new BuildkiteClient({ apiUrl: settings.apiUrl, token: secretsManagerTokenProvider({ client: secretsManager, secretId: settings.apiTokenSecretArn }) }),
    logger: deps.logger,
  });
  return middy(rotate).use(injectLambdaContext(deps.logger, { resetKeys: true }));
}
