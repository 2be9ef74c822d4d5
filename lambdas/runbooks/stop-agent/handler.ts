import { buildkiteFromSecret, runbookHandler } from '../shared.ts';

/** Runbook Lambda `stop-agent` (docs/runbooks.md): the Buildkite API only. */
export const handler = runbookHandler('stop-agent', (settings) => ({ buildkite: buildkiteFromSecret(settings) }));
