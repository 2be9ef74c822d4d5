import { runbookHandler } from '../shared.ts';

/** Runbook Lambda `stop-agent` (docs/runbooks.md). */
export const handler = runbookHandler('stop-agent');
