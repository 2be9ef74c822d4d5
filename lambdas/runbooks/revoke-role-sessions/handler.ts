import { runbookHandler } from '../lambda.ts';

/** Runbook Lambda `revoke-role-sessions` (docs/runbooks.md): IAM only. */
export const handler = runbookHandler('revoke-role-sessions');
