import { runbookHandler } from '../lambda.ts';

/** Runbook Lambda `remove-member` (docs/runbooks.md): the Buildkite API only. */
export const handler = runbookHandler('remove-member');
