import * as z from 'zod/mini';
import '../../lib/config/zod-en.ts';
import { EnvError, parseEnv } from '../shared/env.ts';

/** Environment of the detections-ack runbook: the construct sets it, the handler parses it. */
export const AckEnv = {
  stateTableName: 'KITEWATCH_STATE_TABLE',
} as const;

const Schema = z.object({
  [AckEnv.stateTableName]: z.string().check(z.minLength(1)),
});

export { EnvError };

export function parseAckEnv(env: Record<string, string | undefined>): { readonly stateTableName: string } {
  const d = parseEnv(Schema, env, 'detections-ack');
  return { stateTableName: d[AckEnv.stateTableName] };
}
