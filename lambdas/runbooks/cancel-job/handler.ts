import { buildkiteFromSecret, runbookHandler } from '../shared.ts';

/** Runbook Lambda `cancel-job` (docs/runbooks.md): the Buildkite API only. */
export const handler = runbookHandler('cancel-job', (settings) => ({ buildkite: buildkiteFromSecret(settings) }));
