import { runbookHandler } from '../shared.ts';

/** Runbook Lambda `archive-pipeline` (docs/runbooks.md). */
export const handler = runbookHandler('archive-pipeline');
