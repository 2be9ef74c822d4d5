import * as z from 'zod/mini';
import '../../lib/config/zod-en.ts';
import { EnvError, parseEnv } from '../shared/env.ts';

/** Environment variable names of the normalizer: the construct sets them, the handler parses them. */
export const NormalizeEnv = {
  eventBusName: 'KITEWATCH_EVENT_BUS_NAME',
  quarantineBucket: 'KITEWATCH_QUARANTINE_BUCKET',
} as const;

const Schema = z.object({
  [NormalizeEnv.eventBusName]: z.string().check(z.minLength(1)),
  [NormalizeEnv.quarantineBucket]: z.string().check(z.minLength(1)),
});

export interface NormalizeSettings {
  readonly eventBusName: string;
  readonly quarantineBucket: string;
}

export { EnvError };

/** Fails the cold start (not each record) when the deployment forgot a variable. */
export function parseNormalizeEnv(env: Record<string, string | undefined>): NormalizeSettings {
  const d = parseEnv(Schema, env, 'normalizer');
  return {
    eventBusName: d[NormalizeEnv.eventBusName],
    quarantineBucket: d[NormalizeEnv.quarantineBucket],
  };
}
