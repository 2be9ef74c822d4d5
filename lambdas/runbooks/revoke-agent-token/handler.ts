import { runbookHandler } from '../lambda.ts';

/** Runbook Lambda `revoke-agent-token` (docs/runbooks.md): the Buildkite API only. */
export const handler = runbookHandler('revoke-agent-token');
