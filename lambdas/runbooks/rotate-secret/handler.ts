import { runbookHandler } from '../lambda.ts';

/** Runbook Lambda `rotate-secret` (docs/runbooks.md): Secrets Manager, and the Buildkite API for agent-token secrets. */
export const handler = runbookHandler('rotate-secret');
