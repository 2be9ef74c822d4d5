import { runbookHandler } from '../lambda.ts';

/** Runbook Lambda `approve-action` (docs/runbooks.md): Step Functions only, to answer the waiting task. */
export const handler = runbookHandler('approve-action');
