import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SdkLoadError, secretsManagerSdk } from '../aws/lazy.ts';
import { MissingBuildkiteTokenError } from './errors.ts';

/**
 * Where the Buildkite API token comes from. The value only ever travels from here into the
 * Authorization header; nothing logs it, puts it in an error, or returns it in a report.
 */
export interface TokenProvider {
  /** @throws MissingBuildkiteTokenError when no token is available. */
  token(): Promise<string>;
  /** Where the token comes from, for messages (e.g. `BUILDKITE_API_TOKEN`); never the value. */
  readonly source: string;
}

export const TOKEN_ENV = 'BUILDKITE_API_TOKEN';

/** Local mode: `BUILDKITE_API_TOKEN` from the environment, read at each call (tests change it). */
export function envTokenProvider(env: NodeJS.ProcessEnv = process.env, name = TOKEN_ENV): TokenProvider {
  return {
    source: name,
    token: async () => {
      const value = env[name]?.trim();
      if (value === undefined || value === '') throw new MissingBuildkiteTokenError(name);
      return value;
    },
  };
}

export interface SecretsManagerTokenOptions {
  readonly client: Pick<SecretsManagerClient, 'send'>;
  /** ARN or name of the secret holding the token (a plain string, or JSON with a `token` key). */
  readonly secretId: string;
  /** How long a fetched token is reused (default 5 minutes): one GetSecretValue per cold start and window. */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

/** On AWS: the token from Secrets Manager, cached for `ttlMs`, concurrent callers sharing one fetch. */
export function secretsManagerTokenProvider(options: SecretsManagerTokenOptions): TokenProvider {
  const ttl = options.ttlMs ?? 5 * 60_000;
  const now = options.now ?? Date.now;
  const source = `secret ${options.secretId}`;
  let cached: { value: string; at: number } | undefined;
  let inflight: Promise<string> | undefined;

  async function fetchToken(): Promise<string> {
    let secret: string | undefined;
    try {
      const { GetSecretValueCommand } = await secretsManagerSdk();
      // AWSCURRENT explicitly: see TOOLING.md, and it is what a rotation promotes.
      const out = await options.client.send(new GetSecretValueCommand({ SecretId: options.secretId, VersionStage: 'AWSCURRENT' }));
      secret = out.SecretString;
    } catch (cause) {
      // The SDK not loading is the function's failure, not a missing token: let it fail the delivery.
      if (cause instanceof SdkLoadError) throw cause;
      throw new MissingBuildkiteTokenError(`${source} (${(cause as Error).name})`, { cause });
    }
    const value = extractToken(secret);
    if (value === undefined) throw new MissingBuildkiteTokenError(`${source} (empty or without a "token" key)`);
    cached = { value, at: now() };
    return value;
  }

  return {
    source,
    token: async () => {
      if (cached !== undefined && now() - cached.at < ttl) return cached.value;
      inflight ??= fetchToken().finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
  };
}

/** A plain-string secret, or JSON `{"token": "..."}`. */
function extractToken(secret: string | undefined): string | undefined {
  const text = secret?.trim();
  if (text === undefined || text === '') return undefined;
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as { token?: unknown };
      return typeof parsed.token === 'string' && parsed.token !== '' ? parsed.token : undefined;
    } catch {
      return text;
    }
  }
  return text;
}
