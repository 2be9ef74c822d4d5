import { runbookHandler } from '../shared.ts';

/** Runbook Lambda `rotate-secret` (docs/runbooks.md). */
export const handler = runbookHandler('rotate-secret');
