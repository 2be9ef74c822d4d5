import { stsCrossAccountAccess } from '../../../lib/aws/cross-account.ts';
import { lazyIamClient } from '../../../lib/aws/lazy.ts';
import { runbookHandler } from '../shared.ts';

/** Runbook Lambda `revoke-role-sessions` (docs/runbooks.md): IAM only. */
export const handler = runbookHandler('revoke-role-sessions', (settings) => ({
  iam: lazyIamClient(),
  crossAccount: settings.accounts.length > 0 ? stsCrossAccountAccess(settings.accounts) : undefined,
}));
