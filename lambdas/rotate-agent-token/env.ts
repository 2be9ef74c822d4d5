import * as z from 'zod/mini';
import '../../lib/config/zod-en.ts';
import { EnvError, parseEnv } from '../shared/env.ts';
import { DEFAULT_API_URL } from '../../lib/buildkite/client.ts';

/** Environment of the agent-token rotation Lambda: the construct sets them, the handler parses them. */
export const RotateAgentTokenEnv = {
  /** Secret holding the Buildkite API token (scopes read_clusters, write_clusters). */
  apiTokenSecretArn: 'BUILDKITE_API_TOKEN_SECRET_ARN',
  /** REST base URL (default https://api.buildkite.com). */
  apiUrl: 'BUILDKITE_API_URL',
} as const;

const Schema = z.object({
  [RotateAgentTokenEnv.apiTokenSecretArn]: z.string().check(z.minLength(1)),
  [RotateAgentTokenEnv.apiUrl]: z._default(z.url(), DEFAULT_API_URL),
});

export interface RotateAgentTokenSettings {
  readonly apiTokenSecretArn: string;
  readonly apiUrl: string;
}

export { EnvError };

export function parseRotateAgentTokenEnv(env: Record<string, string | undefined>): RotateAgentTokenSettings {
  const d = parseEnv(Schema, env, 'rotate-agent-token');
  return { apiTokenSecretArn: d[RotateAgentTokenEnv.apiTokenSecretArn], apiUrl: d[RotateAgentTokenEnv.apiUrl] };
}
