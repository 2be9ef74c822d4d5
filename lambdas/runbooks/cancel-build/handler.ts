import { runbookHandler } from '../lambda.ts';

/** Runbook Lambda `cancel-build` (docs/runbooks.md): the Buildkite API only. */
export const handler = runbookHandler('cancel-build');
