import * as z from 'zod';
import { EnvError, parseJsonEnv } from '../shared/env.ts';
import { StreamRoute } from '../../lib/forward/firehose.ts';

/** Environment variable names of the Firehose transform: the construct sets them, the handler parses them. */
export const ForwardEnv = {
  /** JSON object: delivery stream name -> StreamRoute ({"kitewatch-fwd-splunk": {"format": "splunk-hec"}}). */
  routes: 'KITEWATCH_FORWARD_ROUTES',
} as const;

const Routes = z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a delivery stream name'), StreamRoute);

export interface ForwardSettings {
  readonly routes: Readonly<Record<string, StreamRoute>>;
}

export { EnvError };

/** Fails the cold start (not each record) when the deployment forgot or garbled the routes. */
export function parseForwardEnv(env: Record<string, string | undefined>): ForwardSettings {
  const raw = env[ForwardEnv.routes];
  if (raw === undefined || raw.trim() === '') throw new EnvError(`Firehose transform environment is invalid: ${ForwardEnv.routes} is not set`);
  return { routes: parseJsonEnv(Routes, raw, ForwardEnv.routes) };
}
