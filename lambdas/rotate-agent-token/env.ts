import * as z from 'zod';
import { DEFAULT_API_URL } from '../../lib/buildkite/client.ts';

/** Environment of the agent-token rotation Lambda: the construct sets them, the handler parses them. */
export const RotateAgentTokenEnv = {
  /** Secret holding the Buildkite API token (scopes read_clusters, write_clusters). */
  apiTokenSecretArn: 'BUILDKITE_API_TOKEN_SECRET_ARN',
  /** REST base URL (default https://api.buildkite.com). */
  apiUrl: 'BUILDKITE_API_URL',
} as const;

const Schema = z.object({
  [RotateAgentTokenEnv.apiTokenSecretArn]: z.string().min(1),
  [RotateAgentTokenEnv.apiUrl]: z.url().default(DEFAULT_API_URL),
});

export interface RotateAgentTokenSettings {
  readonly apiTokenSecretArn: string;
  readonly apiUrl: string;
}

export class EnvError extends Error {
  override readonly name = 'EnvError';
}

export function parseRotateAgentTokenEnv(env: Record<string, string | undefined>): RotateAgentTokenSettings {
  const parsed = Schema.safeParse(env);
  if (!parsed.success) {
    throw new EnvError(`rotate-agent-token environment is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return { apiTokenSecretArn: parsed.data[RotateAgentTokenEnv.apiTokenSecretArn], apiUrl: parsed.data[RotateAgentTokenEnv.apiUrl] };
}
