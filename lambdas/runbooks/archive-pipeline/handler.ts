import { runbookHandler } from '../lambda.ts';

/** Runbook Lambda `archive-pipeline` (docs/runbooks.md): the Buildkite API only. */
export const handler = runbookHandler('archive-pipeline');
