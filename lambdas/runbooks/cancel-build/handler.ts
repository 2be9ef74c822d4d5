import { runbookHandler } from '../shared.ts';

/** Runbook Lambda `cancel-build` (docs/runbooks.md). */
export const handler = runbookHandler('cancel-build');
