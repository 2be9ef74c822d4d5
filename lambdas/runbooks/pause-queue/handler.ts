import { runbookHandler } from '../shared.ts';

/** Runbook Lambda `pause-queue` (docs/runbooks.md). */
export const handler = runbookHandler('pause-queue');
