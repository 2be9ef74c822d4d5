import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { lazyIamClient, lazySecretsManagerClient, lazySfnClient } from '../../lib/aws/lazy.ts';
import type { RunbookId } from '../../lib/containment/actions.ts';
import { createLogger } from '../shared/logger.ts';
import { compose } from './compose.ts';
import { parseRunbookEnv } from './env.ts';

/**
 * For lambdas/runbooks/<runbook>/handler.ts: the environment parsed and the real clients built
 * once, at cold start. EventBridge is loaded then (every run publishes); the others load on first
 * use (a dry run, the default, calls nothing), so a runbook's cold start pays for no other's SDK.
 */
export function runbookHandler(runbook: RunbookId): ReturnType<typeof compose> {
  return compose(runbook, {
    settings: parseRunbookEnv(process.env),
    eventBridge: new EventBridgeClient({}),
    secretsManager: lazySecretsManagerClient(),
    iam: lazyIamClient(),
    sfn: lazySfnClient(),
    logger: createLogger(),
  });
}
