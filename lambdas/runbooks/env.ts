import * as z from 'zod';
import { EnvError, parseEnv } from '../shared/env.ts';
import { DEFAULT_API_URL, DEFAULT_GRAPHQL_URL } from '../../lib/buildkite/client.ts';

/** Environment of every runbook Lambda (one function per action, plus approve-action). */
export const RunbookEnv = {
  /** Secret holding the Buildkite API token; absent for runbooks that only touch AWS. */
  apiTokenSecretArn: 'BUILDKITE_API_TOKEN_SECRET_ARN',
  apiUrl: 'BUILDKITE_API_URL',
  graphqlUrl: 'BUILDKITE_GRAPHQL_URL',
  /** Kitewatch bus: the runbook's Remediation Activities are published there when set. */
  eventBusName: 'KITEWATCH_EVENT_BUS_NAME',
} as const;

const Schema = z.object({
  [RunbookEnv.apiTokenSecretArn]: z.string().min(1).optional(),
  [RunbookEnv.apiUrl]: z.url().default(DEFAULT_API_URL),
  [RunbookEnv.graphqlUrl]: z.url().default(DEFAULT_GRAPHQL_URL),
  [RunbookEnv.eventBusName]: z.string().min(1).optional(),
});

export interface RunbookSettings {
  readonly apiTokenSecretArn: string | undefined;
  readonly apiUrl: string;
  readonly graphqlUrl: string;
  readonly eventBusName: string | undefined;
}

export { EnvError };

export function parseRunbookEnv(env: Record<string, string | undefined>): RunbookSettings {
  const d = parseEnv(Schema, env, 'runbook');
  return {
    apiTokenSecretArn: d[RunbookEnv.apiTokenSecretArn],
    apiUrl: d[RunbookEnv.apiUrl],
    graphqlUrl: d[RunbookEnv.graphqlUrl],
    eventBusName: d[RunbookEnv.eventBusName],
  };
}
