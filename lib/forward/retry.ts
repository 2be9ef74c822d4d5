import * as z from 'zod';
import { RetryConfigError } from './errors.ts';

export { RetryConfigError };

/** How a remote sink retries. Every field has a default; tests shorten the delays. */
export interface RetryOptions {
  /** Requests per batch, the first included. @default 5 */
  readonly maxAttempts?: number;
  /** First backoff; doubles each retry. @default 500 */
  readonly baseDelayMs?: number;
  /** Cap of one backoff, and of a server's Retry-After. @default 10_000 */
  readonly maxDelayMs?: number;
  /** One request's deadline, response included. @default 15_000 */
  readonly timeoutMs?: number;
  /** Injected for tests. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). @default Math.random */
  readonly random?: () => number;
}

export type ResolvedRetry = Required<RetryOptions>;

export const RETRY_DEFAULTS = {
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 10_000,
  timeoutMs: 15_000,
} as const;

/**
 * Environment overrides of the defaults, for operators and for CLI tests that cannot inject
 * options. Invalid values are an error naming the variable, never silently ignored.
 */
export const RetryEnv = {
  maxAttempts: 'KITEWATCH_SINK_MAX_ATTEMPTS',
  baseDelayMs: 'KITEWATCH_SINK_BACKOFF_MS',
  maxDelayMs: 'KITEWATCH_SINK_MAX_BACKOFF_MS',
  timeoutMs: 'KITEWATCH_SINK_TIMEOUT_MS',
} as const;

const positiveInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const EnvSchema = z.object({
  [RetryEnv.maxAttempts]: positiveInt(1, 100).optional(),
  [RetryEnv.baseDelayMs]: positiveInt(0, 600_000).optional(),
  [RetryEnv.maxDelayMs]: positiveInt(0, 600_000).optional(),
  [RetryEnv.timeoutMs]: positiveInt(1, 600_000).optional(),
});

export function resolveRetry(opts: RetryOptions = {}, env: NodeJS.ProcessEnv = {}): ResolvedRetry {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RetryConfigError(`${issue?.path.join('.') ?? 'retry setting'}: ${issue?.message ?? 'invalid'}`);
  }
  const e = parsed.data;
  return {
    maxAttempts: opts.maxAttempts ?? e[RetryEnv.maxAttempts] ?? RETRY_DEFAULTS.maxAttempts,
    baseDelayMs: opts.baseDelayMs ?? e[RetryEnv.baseDelayMs] ?? RETRY_DEFAULTS.baseDelayMs,
    maxDelayMs: opts.maxDelayMs ?? e[RetryEnv.maxDelayMs] ?? RETRY_DEFAULTS.maxDelayMs,
    timeoutMs: opts.timeoutMs ?? e[RetryEnv.timeoutMs] ?? RETRY_DEFAULTS.timeoutMs,
    sleep: opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    random: opts.random ?? Math.random,
  };
}

/**
 * Backoff before retry number `retry` (1 = the first retry): exponential, capped, with "equal
 * jitter" (half fixed, half random) so parallel senders spread out but never retry at once.
 * A server's Retry-After wins when it is longer, up to the cap.
 */
export function backoffMs(retry: number, r: ResolvedRetry, retryAfterMs?: number): number {
  const exp = Math.min(r.maxDelayMs, r.baseDelayMs * 2 ** Math.max(0, retry - 1));
  const jittered = exp / 2 + (r.random() * exp) / 2;
  return Math.min(r.maxDelayMs, Math.max(jittered, retryAfterMs ?? 0));
}

/** 408, 429 and 5xx are worth retrying; other 4xx will fail again the same way. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
