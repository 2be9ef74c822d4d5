import * as z from 'zod/mini';
import '../../lib/config/zod-en.ts';
import { EnvError, parseJsonEnv } from '../shared/env.ts';
import { StreamRoute } from '../../lib/forward/firehose.ts';

/** Environment variable names of the Firehose transform: the construct sets them, the handler parses them. */
export const ForwardEnv = {
  /** JSON object: delivery stream name -> StreamRoute ({"kitewatch-fwd-splunk": {"format": "splunk-hec"}}). */
  routes: 'KITEWATCH_FORWARD_ROUTES',
  /** Optional: the state table; when set, a uid delivered by an earlier buffer is Dropped. */
  stateTable: 'KITEWATCH_STATE_TABLE',
} as const;

const Routes = z.record(z.string().check(z.regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a delivery stream name')), StreamRoute);

export interface ForwardSettings {
  readonly routes: Readonly<Record<string, StreamRoute>>;
  /** Absent: duplicates are dropped within one invocation only. */
  readonly stateTable: string | undefined;
}

export { EnvError };

/** Fails the cold start (not each record) when the deployment forgot or garbled the routes. */
export function parseForwardEnv(env: Record<string, string | undefined>): ForwardSettings {
  const raw = env[ForwardEnv.routes];
  if (raw === undefined || raw.trim() === '') throw new EnvError(`Firehose transform environment is invalid: ${ForwardEnv.routes} is not set`);
  const table = env[ForwardEnv.stateTable]?.trim();
  return { routes: parseJsonEnv(Routes, raw, ForwardEnv.routes), stateTable: table === undefined || table === '' ? undefined : table };
}
