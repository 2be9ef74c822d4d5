import * as z from 'zod/mini';
import '../../lib/config/zod-en.ts';
import { EnvError, parseEnv } from '../shared/env.ts';
import { DEFAULT_API_URL, DEFAULT_GRAPHQL_URL } from '../../lib/buildkite/client.ts';
import { TargetAccount } from '../../lib/containment/cross-account.ts';

/** Environment of every runbook Lambda (one function per action, plus approve-action). */
export const RunbookEnv = {
  /** Secret holding the Buildkite API token; absent for runbooks that only touch AWS. */
  apiTokenSecretArn: 'BUILDKITE_API_TOKEN_SECRET_ARN',
  apiUrl: 'BUILDKITE_API_URL',
  graphqlUrl: 'BUILDKITE_GRAPHQL_URL',
  /** Kitewatch bus: the runbook's Remediation Activities are published there when set. */
  eventBusName: 'KITEWATCH_EVENT_BUS_NAME',
  /** containment.accounts as JSON, for the runbooks that may act in other accounts. */
  accounts: 'KITEWATCH_CONTAINMENT_ACCOUNTS',
} as const;

/**
 * The alias every action runbook has for responders: invoked through it, the runbook runs as a
 * dry run whatever the input says. IAM can grant the alias alone (a qualified ARN), which is how
 * responders get dry-runs without the power to act around the approval state machine.
 */
export const DRY_RUN_ALIAS = 'dry-run';

const Schema = z.object({
  [RunbookEnv.apiTokenSecretArn]: z.optional(z.string().check(z.minLength(1))),
  [RunbookEnv.apiUrl]: z._default(z.url(), DEFAULT_API_URL),
  [RunbookEnv.graphqlUrl]: z._default(z.url(), DEFAULT_GRAPHQL_URL),
  [RunbookEnv.eventBusName]: z.optional(z.string().check(z.minLength(1))),
  [RunbookEnv.accounts]: z.optional(z.string()),
});

export interface RunbookSettings {
  readonly apiTokenSecretArn: string | undefined;
  readonly apiUrl: string;
  readonly graphqlUrl: string;
  readonly eventBusName: string | undefined;
  readonly accounts: readonly TargetAccount[];
}

export { EnvError };

export function parseRunbookEnv(env: Record<string, string | undefined>): RunbookSettings {
  const d = parseEnv(Schema, env, 'runbook');
  return {
    apiTokenSecretArn: d[RunbookEnv.apiTokenSecretArn],
    apiUrl: d[RunbookEnv.apiUrl],
    graphqlUrl: d[RunbookEnv.graphqlUrl],
    eventBusName: d[RunbookEnv.eventBusName],
    accounts: parseAccounts(d[RunbookEnv.accounts]),
  };
}

function parseAccounts(json: string | undefined): TargetAccount[] {
  if (json === undefined) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (cause) {
    throw new EnvError(`runbook: ${RunbookEnv.accounts} is not JSON`, { cause });
  }
  const parsed = z.array(TargetAccount).safeParse(raw);
  if (!parsed.success) throw new EnvError(`runbook: ${RunbookEnv.accounts}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
