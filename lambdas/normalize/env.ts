import * as z from 'zod';

/** Environment variable names of the normalizer: the construct sets them, the handler parses them. */
export const NormalizeEnv = {
  eventBusName: 'KITEWATCH_EVENT_BUS_NAME',
  quarantineBucket: 'KITEWATCH_QUARANTINE_BUCKET',
} as const;


const Schema = z.object({
  [NormalizeEnv.eventBusName]: z.string().min(1),
  [NormalizeEnv.quarantineBucket]: z.string().min(1),
});

export interface NormalizeSettings {
  readonly eventBusName: string;
  readonly quarantineBucket: string;
}

export class EnvError extends Error {
  override readonly name = 'EnvError';
}

/** Fails the cold start (not each record) when the deployment forgot a variable. */
export function parseNormalizeEnv(env: Record<string, string | undefined>): NormalizeSettings {
  const parsed = Schema.safeParse(env);
  if (!parsed.success) {
    const missing = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    throw new EnvError(`normalizer environment is incomplete: ${missing}`);
  }
  return {
    eventBusName: parsed.data[NormalizeEnv.eventBusName],
    quarantineBucket: parsed.data[NormalizeEnv.quarantineBucket],
  };
}
