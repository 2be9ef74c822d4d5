import { runbookHandler } from '../lambda.ts';

/** Runbook Lambda `pause-queue` (docs/runbooks.md): the Buildkite API only. */
export const handler = runbookHandler('pause-queue');
