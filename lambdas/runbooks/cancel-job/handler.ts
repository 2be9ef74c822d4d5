import { runbookHandler } from '../lambda.ts';

/** Runbook Lambda `cancel-job` (docs/runbooks.md): the Buildkite API only. */
export const handler = runbookHandler('cancel-job');
