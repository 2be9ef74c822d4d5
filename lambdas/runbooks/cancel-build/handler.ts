import { buildkiteFromSecret, runbookHandler } from '../shared.ts';

/** Runbook Lambda `cancel-build` (docs/runbooks.md): the Buildkite API only. */
export const handler = runbookHandler('cancel-build', (settings) => ({ buildkite: buildkiteFromSecret(settings) }));
