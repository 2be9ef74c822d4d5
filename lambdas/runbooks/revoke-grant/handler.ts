import { buildkiteFromSecret, runbookHandler } from '../shared.ts';

/** Runbook Lambda `revoke-grant` (docs/runbooks.md): the Buildkite API only. */
export const handler = runbookHandler('revoke-grant', (settings) => ({ buildkite: buildkiteFromSecret(settings) }));
