import * as z from 'zod/mini';
import '../../lib/config/zod-en.ts';
import { EnvError, parseEnv, parseJsonEnv } from '../shared/env.ts';
import { DEFAULT_API_URL, DEFAULT_GRAPHQL_URL } from '../../lib/buildkite/client.ts';
import { ContainmentConfig } from '../../lib/containment/config.ts';

/** Environment variable names of the contain Lambda: the construct sets them, the handler parses them. */
export const ContainEnv = {
  /** Kitewatch bus: Remediation Activities are published there. */
  eventBusName: 'KITEWATCH_EVENT_BUS_NAME',
  /** State table (pk S, ttl): idempotency records and blast-radius counters. */
  stateTable: 'KITEWATCH_STATE_TABLE',
  /** The `containment` block of kitewatch.config.json, as JSON (validated by the same schema). */
  config: 'KITEWATCH_CONTAINMENT_CONFIG',
  /** Secret holding the Buildkite API token. */
  apiTokenSecretArn: 'BUILDKITE_API_TOKEN_SECRET_ARN',
  apiUrl: 'BUILDKITE_API_URL',
  graphqlUrl: 'BUILDKITE_GRAPHQL_URL',
  /** Approval state machine; without it, actions needing approval are only reported pending. */
  approvalStateMachineArn: 'KITEWATCH_APPROVAL_STATE_MACHINE_ARN',
} as const;

const Schema = z.object({
  [ContainEnv.eventBusName]: z.string().check(z.minLength(1)),
  [ContainEnv.stateTable]: z.string().check(z.minLength(1)),
  [ContainEnv.config]: z._default(z.string(), '{}'),
  [ContainEnv.apiTokenSecretArn]: z.string().check(z.minLength(1)),
  [ContainEnv.apiUrl]: z._default(z.url(), DEFAULT_API_URL),
  [ContainEnv.graphqlUrl]: z._default(z.url(), DEFAULT_GRAPHQL_URL),
  [ContainEnv.approvalStateMachineArn]: z.optional(z.string().check(z.minLength(1))),
});

export interface ContainSettings {
  readonly eventBusName: string;
  readonly stateTable: string;
  readonly config: ContainmentConfig;
  readonly apiTokenSecretArn: string;
  readonly apiUrl: string;
  readonly graphqlUrl: string;
  readonly approvalStateMachineArn: string | undefined;
}

export { EnvError };

/** Fails the cold start (not each record) when the deployment forgot or broke a variable. */
export function parseContainEnv(env: Record<string, string | undefined>): ContainSettings {
  const d = parseEnv(Schema, env, 'contain');
  const config = parseJsonEnv(ContainmentConfig, d[ContainEnv.config], ContainEnv.config);
  return {
    eventBusName: d[ContainEnv.eventBusName],
    stateTable: d[ContainEnv.stateTable],
    config,
    apiTokenSecretArn: d[ContainEnv.apiTokenSecretArn],
    apiUrl: d[ContainEnv.apiUrl],
    graphqlUrl: d[ContainEnv.graphqlUrl],
    approvalStateMachineArn: d[ContainEnv.approvalStateMachineArn],
  };
}
