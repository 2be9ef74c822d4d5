import { buildkiteFromSecret, runbookHandler } from '../shared.ts';

/** Runbook Lambda `revoke-agent-token` (docs/runbooks.md): the Buildkite API only. */
export const handler = runbookHandler('revoke-agent-token', (settings) => ({ buildkite: buildkiteFromSecret(settings) }));
