import * as z from 'zod/mini';
import '../../lib/config/zod-en.ts';
import { DEFAULT_API_URL } from '../../lib/buildkite/client.ts';
import { parseEnv } from '../shared/env.ts';

/** Environment of the backfill Lambda: the construct sets these names, the handler parses them. */
export const BackfillEnv = {
  apiTokenSecretArn: 'BUILDKITE_API_TOKEN_SECRET_ARN',
  apiUrl: 'BUILDKITE_API_URL',
  org: 'KITEWATCH_BUILDKITE_ORG',
  ingestQueueUrl: 'KITEWATCH_INGEST_QUEUE_URL',
  source: 'KITEWATCH_EXPECTED_SOURCE',
  seedDays: 'KITEWATCH_BACKFILL_SEED_DAYS',
  silenceMinutes: 'KITEWATCH_SILENCE_MINUTES',
  silenceAlarmName: 'KITEWATCH_SILENCE_ALARM_NAME',
  maxReachDays: 'KITEWATCH_BACKFILL_MAX_REACH_DAYS',
  /** The state table, for the detectors' last-event (where a silence began). */
  stateTableName: 'KITEWATCH_STATE_TABLE',
} as const;

const count = z.string().check(z.regex(/^\d+$/, 'must be a whole number'));
const Schema = z.object({
  [BackfillEnv.apiTokenSecretArn]: z.string().check(z.minLength(1)),
  [BackfillEnv.apiUrl]: z._default(z.url(), DEFAULT_API_URL),
  [BackfillEnv.org]: z.string().check(z.regex(/^[a-z0-9][a-z0-9-]*$/, 'must be a Buildkite organization slug')),
  [BackfillEnv.ingestQueueUrl]: z.url(),
  [BackfillEnv.source]: z.optional(z.string().check(z.minLength(1))),
  [BackfillEnv.seedDays]: count,
  [BackfillEnv.silenceMinutes]: count,
  [BackfillEnv.silenceAlarmName]: z.string().check(z.minLength(1)),
  [BackfillEnv.maxReachDays]: z.optional(count),
  [BackfillEnv.stateTableName]: z.optional(z.string().check(z.minLength(1))),
});

export interface BackfillSettings {
  readonly apiTokenSecretArn: string;
  readonly apiUrl: string;
  readonly org: string;
  readonly ingestQueueUrl: string;
  readonly source: string | undefined;
  readonly seedDays: number;
  readonly silenceMinutes: number;
  readonly silenceAlarmName: string;
  readonly maxReachDays: number;
  readonly stateTableName: string | undefined;
}

export function parseBackfillEnv(env: Record<string, string | undefined>): BackfillSettings {
  const d = parseEnv(Schema, env, 'backfill');
  return {
    apiTokenSecretArn: d[BackfillEnv.apiTokenSecretArn],
    apiUrl: d[BackfillEnv.apiUrl],
    org: d[BackfillEnv.org],
    ingestQueueUrl: d[BackfillEnv.ingestQueueUrl],
    source: d[BackfillEnv.source],
    seedDays: Number(d[BackfillEnv.seedDays]),
    silenceMinutes: Number(d[BackfillEnv.silenceMinutes]),
    silenceAlarmName: d[BackfillEnv.silenceAlarmName],
    maxReachDays: d[BackfillEnv.maxReachDays] === undefined ? 7 : Number(d[BackfillEnv.maxReachDays]),
    stateTableName: d[BackfillEnv.stateTableName],
  };
}
