import { runbookHandler } from '../shared.ts';

/** Runbook Lambda `revoke-role-sessions` (docs/runbooks.md). */
export const handler = runbookHandler('revoke-role-sessions');
