import * as z from 'zod/mini';
import '../../lib/config/zod-en.ts';
import { EnvError, parseEnv } from '../shared/env.ts';

/** Environment variable names of the normalizer: the construct sets them, the handler parses them. */
export const NormalizeEnv = {
  eventBusName: 'KITEWATCH_EVENT_BUS_NAME',
  quarantineBucket: 'KITEWATCH_QUARANTINE_BUCKET',
  /** The partner event source (aws.partnerEventBusName); events from any other source are quarantined. */
  expectedSource: 'KITEWATCH_EXPECTED_SOURCE',
} as const;

const Schema = z.object({
  [NormalizeEnv.eventBusName]: z.string().check(z.minLength(1)),
  [NormalizeEnv.quarantineBucket]: z.string().check(z.minLength(1)),
  [NormalizeEnv.expectedSource]: z.optional(z.string().check(z.minLength(1))),
});

export interface NormalizeSettings {
  readonly eventBusName: string;
  readonly quarantineBucket: string;
  /** Unset on a custom ingest bus (no partner source is configured then). */
  readonly expectedSource: string | undefined;
}

export { EnvError };

/** Fails the cold start (not each record) when the deployment forgot a variable. */
export function parseNormalizeEnv(env: Record<string, string | undefined>): NormalizeSettings {
  const d = parseEnv(Schema, env, 'normalizer');
  return {
    eventBusName: d[NormalizeEnv.eventBusName],
    quarantineBucket: d[NormalizeEnv.quarantineBucket],
    expectedSource: d[NormalizeEnv.expectedSource],
  };
}
