import { runbookHandler } from '../shared.ts';

/** Runbook Lambda `approve-action` (docs/runbooks.md). */
export const handler = runbookHandler('approve-action');
