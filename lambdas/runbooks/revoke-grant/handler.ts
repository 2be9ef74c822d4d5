import { runbookHandler } from '../lambda.ts';

/** Runbook Lambda `revoke-grant` (docs/runbooks.md): the Buildkite API only. */
export const handler = runbookHandler('revoke-grant');
