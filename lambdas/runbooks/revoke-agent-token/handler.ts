import { runbookHandler } from '../shared.ts';

/** Runbook Lambda `revoke-agent-token` (docs/runbooks.md). */
export const handler = runbookHandler('revoke-agent-token');
