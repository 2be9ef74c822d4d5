import { runbookHandler } from '../lambda.ts';

/** Runbook Lambda `stop-agent` (docs/runbooks.md): the Buildkite API only. */
export const handler = runbookHandler('stop-agent');
