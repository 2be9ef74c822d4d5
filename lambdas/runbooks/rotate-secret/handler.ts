import { stsCrossAccountAccess } from '../../../lib/aws/cross-account.ts';
import { lazySecretsManagerClient } from '../../../lib/aws/lazy.ts';
import { buildkiteFromSecret, runbookHandler } from '../shared.ts';

/** Runbook Lambda `rotate-secret` (docs/runbooks.md): Secrets Manager, and the Buildkite API for agent-token secrets. */
export const handler = runbookHandler('rotate-secret', (settings) => {
  const secretsManager = lazySecretsManagerClient();
  const crossAccount = settings.accounts.length > 0 ? stsCrossAccountAccess(settings.accounts) : undefined;
  return { secretsManager, buildkite: buildkiteFromSecret(settings, secretsManager), crossAccount };
});
