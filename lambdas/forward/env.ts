import * as z from 'zod';
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

export class EnvError extends Error {
  override readonly name = 'EnvError';
}

/** Fails the cold start (not each record) when the deployment forgot or garbled the routes. */
export function parseForwardEnv(env: Record<string, string | undefined>): ForwardSettings {
  const raw = env[ForwardEnv.routes];
  if (raw === undefined || raw.trim() === '') throw new EnvError(`Firehose transform environment is incomplete: ${ForwardEnv.routes}`);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (cause) {
    throw new EnvError(`${ForwardEnv.routes} is not JSON`, { cause });
  }
  const parsed = Routes.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${[ForwardEnv.routes, ...i.path].join('.')}: ${i.message}`).join('; ');
    throw new EnvError(`invalid ${ForwardEnv.routes}: ${issues}`);
  }
  return { routes: parsed.data };
}
