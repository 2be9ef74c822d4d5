import { BuildkiteApiError, BuildkiteGraphqlError, BuildkiteRequestError } from './errors.ts';
import type { TokenProvider } from './token.ts';

/**
 * HTTP client for Buildkite's REST (`/v2/...`) and GraphQL APIs: bearer token from a
 * TokenProvider, a timeout per attempt, retries with backoff and jitter on 429 and 5xx
 * (honouring `RateLimit-Reset`), and typed errors naming the call and the status.
 */
export const DEFAULT_API_URL = 'https://api.buildkite.com';
export const DEFAULT_GRAPHQL_URL = 'https://graphql.buildkite.com/v1';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface BuildkiteClientOptions {
  /** REST base URL; paths start with `/v2/`. @default https://api.buildkite.com */
  readonly apiUrl?: string;
  /** @default https://graphql.buildkite.com/v1 */
  readonly graphqlUrl?: string;
  readonly token: TokenProvider;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Per attempt. @default 10000 */
  readonly timeoutMs?: number;
  /** Attempts per call, the first included. @default 4 */
  readonly maxAttempts?: number;
  /** Longest single wait the client accepts (a longer `RateLimit-Reset` fails the call at once). @default 60000 */
  readonly maxWaitMs?: number;
  /** First backoff step for 5xx and network errors. @default 250 */
  readonly baseDelayMs?: number;
  /** Wait used on a 429 without any reset hint. @default 10000 (as buildkite/cli) */
  readonly rateLimitFallbackMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** [0, 1); injected so tests can pin the jitter. */
  readonly random?: () => number;
  /** One line per HTTP attempt: method, path, status, duration. Never headers or bodies. */
  readonly log?: (line: string) => void;
}

export interface RestResponse<T> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

export interface RestRequest {
  readonly body?: unknown;
  /**
   * Safe to send twice. Non-idempotent calls (creating a token) are retried only on 429,
   * where Buildkite did not process the request, never after a timeout or a 5xx.
   * @default true for GET, PUT, DELETE; false for POST, PATCH
   */
  readonly idempotent?: boolean;
  /** Statuses returned to the caller instead of thrown (e.g. 404 for "already gone"). */
  readonly accept?: readonly number[];
}

const sleepReal = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Joins a base URL (which may carry a path prefix) and an absolute API path. */
export function joinUrl(base: string, path: string): URL {
  return new URL(`${base.replace(/\/+$/, '')}${path.startsWith('/') ? path : `/${path}`}`);
}

/** `/v2/organizations/${org}/...` with every interpolated segment URL-encoded. */
export function apiPath(strings: TemplateStringsArray, ...params: readonly (string | number)[]): string {
  let out = strings[0] ?? '';
  params.forEach((p, i) => {
    const segment = String(p);
    // Encoding keeps "." and ".." as they are, and URL resolution would then climb out of the
    // resource (`.../agents/../stop`): the last guard behind the id checks (lib/contracts/ids.ts).
    if (segment === '' || segment === '.' || segment === '..') throw new RangeError(`refusing an API path segment of ${JSON.stringify(segment)}`);
    out += encodeURIComponent(segment) + (strings[i + 1] ?? '');
  });
  return out;
}

function headerSeconds(headers: Headers, name: string): number | undefined {
  const raw = headers.get(name);
  if (raw === null || raw.trim() === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/**
 * Seconds to wait after a 429: the reset of the exhausted scope (organization or user),
 * else the longer of the two, else a number in the GraphQL message ("try again in 187 seconds").
 */
export function rateLimitResetSeconds(headers: Headers, bodyText: string): number | undefined {
  const org = headerSeconds(headers, 'RateLimit-Reset');
  const user = headerSeconds(headers, 'RateLimit-User-Reset');
  const orgExhausted = headers.get('RateLimit-Remaining') === '0' || headers.has('RateLimit-Warning');
  const userExhausted = headers.get('RateLimit-User-Remaining') === '0' || headers.has('RateLimit-User-Warning');
  if (orgExhausted && userExhausted) return Math.max(org ?? 0, user ?? 0);
  if (orgExhausted && org !== undefined) return org;
  if (userExhausted && user !== undefined) return user;
  if (org !== undefined || user !== undefined) return Math.max(org ?? 0, user ?? 0);
  const m = /try again in (\d+) seconds?/i.exec(bodyText) ?? /wait (\d+) seconds?/i.exec(bodyText);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

function apiMessage(bodyText: string): string | undefined {
  if (bodyText === '') return undefined;
  try {
    const parsed = JSON.parse(bodyText) as { message?: unknown; errors?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
    if (Array.isArray(parsed.errors)) {
      const msgs = parsed.errors.map((e) => (e as { message?: unknown }).message).filter((m): m is string => typeof m === 'string');
      if (msgs.length > 0) return msgs.join('; ');
    }
  } catch {
    // Not JSON (an HTML error page from a proxy): no message worth keeping.
  }
  return undefined;
}

/** `<https://...>; rel="next"` from a Link header. */
export function nextLink(headers: Headers): string | undefined {
  const link = headers.get('Link');
  if (link === null) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part.trim());
    if (m?.[1] !== undefined) return m[1];
  }
  return undefined;
}

export class BuildkiteClient {
  readonly apiUrl: string;
  readonly graphqlUrl: string;
  readonly tokenSource: string;
  readonly #token: TokenProvider;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #maxWaitMs: number;
  readonly #baseDelayMs: number;
  readonly #fallbackMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #log: ((line: string) => void) | undefined;

  constructor(options: BuildkiteClientOptions) {
    this.apiUrl = options.apiUrl ?? DEFAULT_API_URL;
    this.graphqlUrl = options.graphqlUrl ?? DEFAULT_GRAPHQL_URL;
    this.#token = options.token;
    this.tokenSource = options.token.source;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 4);
    this.#maxWaitMs = options.maxWaitMs ?? 60_000;
    this.#baseDelayMs = options.baseDelayMs ?? 250;
    this.#fallbackMs = options.rateLimitFallbackMs ?? 10_000;
    this.#sleep = options.sleep ?? sleepReal;
    this.#random = options.random ?? Math.random;
    this.#log = options.log;
  }

  /** A REST call. `path` starts with `/v2/`; build it with apiPath`` so segments are encoded. */
  async rest<T = unknown>(call: string, method: HttpMethod, path: string, request: RestRequest = {}): Promise<RestResponse<T>> {
    return this.#restUrl<T>(call, method, joinUrl(this.apiUrl, path), request);
  }

  /**
   * A REST call to an absolute URL the API gave (a pagination link). Refused unless it is on the
   * configured API's origin: the token goes nowhere else.
   */
  async restUrl<T = unknown>(call: string, method: HttpMethod, url: URL, request: RestRequest = {}): Promise<RestResponse<T>> {
    if (url.origin !== new URL(this.apiUrl).origin) throw new Error(`Buildkite ${call}: refusing to send the token to ${url.origin}, which is not the configured API`);
    return this.#restUrl<T>(call, method, url, request);
  }

  /** GET every page (per_page=100, following `Link: rel="next"` on the same origin only). */
  async restPaged<T>(call: string, path: string): Promise<T[]> {
    const items: T[] = [];
    let url: URL | undefined = joinUrl(this.apiUrl, path);
    if (!url.searchParams.has('per_page')) url.searchParams.set('per_page', '100');
    const origin = url.origin;
    for (let page = 0; url !== undefined; page++) {
      if (page >= 1000) throw new Error(`Buildkite ${call}: more than 1000 pages; refusing to continue`);
      const res: RestResponse<T[]> = await this.#restUrl<T[]>(call, 'GET', url, {});
      if (!Array.isArray(res.body)) throw new BuildkiteApiError({ call, method: 'GET', path: url.pathname, status: res.status, apiMessage: 'expected a JSON array' });
      items.push(...res.body);
      const next = nextLink(res.headers);
      // The token goes only where the configured API lives, whatever a Link header says.
      url = next !== undefined && URL.canParse(next) && new URL(next).origin === origin ? new URL(next) : undefined;
    }
    return items;
  }

  /**
   * A GraphQL operation; every document lives in graphql-documents.ts (validated in tests
   * against Buildkite's schema). `errors` in the answer throw BuildkiteGraphqlError.
   */
  async graphql<T>(call: string, document: string, variables: Record<string, unknown>): Promise<T> {
    const url = new URL(this.graphqlUrl);
    const res = await this.#send(call, 'POST', url, `graphql ${call}`, { query: document, variables }, true);
    const text = await res.text();
    if (res.status < 200 || res.status >= 300) {
      throw new BuildkiteApiError({ call, method: 'POST', path: `graphql ${call}`, status: res.status, apiMessage: apiMessage(text) });
    }
    let parsed: { data?: T | null; errors?: { message?: unknown }[] };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch (cause) {
      throw new BuildkiteApiError({ call, method: 'POST', path: `graphql ${call}`, status: res.status, apiMessage: 'answer is not JSON' }, { cause });
    }
    if (Array.isArray(parsed.errors) && parsed.errors.length > 0) {
      throw new BuildkiteGraphqlError(
        call,
        parsed.errors.map((e) => (typeof e.message === 'string' ? e.message : 'unknown error')),
      );
    }
    if (parsed.data === undefined || parsed.data === null) throw new BuildkiteGraphqlError(call, ['answer has no data']);
    return parsed.data;
  }

  async #restUrl<T>(call: string, method: HttpMethod, url: URL, request: RestRequest): Promise<RestResponse<T>> {
    const idempotent = request.idempotent ?? (method === 'GET' || method === 'PUT' || method === 'DELETE');
    const res = await this.#send(call, method, url, url.pathname, request.body, idempotent);
    const text = await res.text();
    if ((res.status >= 200 && res.status < 300) || request.accept?.includes(res.status) === true) {
      let body: unknown = undefined;
      if (text !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
      }
      return { status: res.status, body: body as T, headers: res.headers };
    }
    throw new BuildkiteApiError({ call, method, path: url.pathname, status: res.status, apiMessage: apiMessage(text) });
  }

  /** One logical request with its retries; returns the final response (any status). */
  async #send(call: string, method: HttpMethod, url: URL, label: string, body: unknown, idempotent: boolean): Promise<Response> {
    const token = await this.#token.token();
    const headers: Record<string, string> = {
      Authorization: `Bearer ${token}`,
      Accept: 'application/json',
      'User-Agent': 'kitewatch-containment',
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      let res: Response;
      try {
        res = await this.#fetch(url, { method, headers, body: payload, signal: AbortSignal.timeout(this.#timeoutMs), redirect: 'error' });
      } catch (cause) {
        const timedOut = (cause as Error).name === 'TimeoutError' || (cause as Error).name === 'AbortError';
        this.#log?.(`buildkite ${call}: ${method} ${label} ${timedOut ? 'timed out' : 'network error'} (attempt ${attempt})`);
        if (idempotent && attempt < this.#maxAttempts) {
          await this.#sleep(this.#backoff(attempt));
          continue;
        }
        throw new BuildkiteRequestError({ call, method, path: label, timedOut, timeoutMs: this.#timeoutMs, attempts: attempt }, { cause });
      }
      const ms = Math.round(performance.now() - started);
      this.#log?.(`buildkite ${call}: ${method} ${label} -> ${res.status} in ${ms} ms (attempt ${attempt})`);
      const retriable = res.status === 429 || (res.status >= 500 && idempotent);
      if (!retriable) return res;
      const text = await res.text();
      if (attempt >= this.#maxAttempts) {
        const reset = res.status === 429 ? rateLimitResetSeconds(res.headers, text) : undefined;
        throw new BuildkiteApiError({ call, method, path: label, status: res.status, apiMessage: apiMessage(text), retryAfterSeconds: reset, attempts: attempt });
      }
      let wait: number;
      if (res.status === 429) {
        const reset = rateLimitResetSeconds(res.headers, text);
        wait = reset === undefined ? this.#fallbackMs : reset * 1000;
        if (wait > this.#maxWaitMs) {
          // Waiting longer than a Lambda can afford: fail now, the caller retries later.
          throw new BuildkiteApiError({ call, method, path: label, status: 429, apiMessage: apiMessage(text), retryAfterSeconds: reset, attempts: attempt });
        }
        // Spread clients that were all told the same reset time.
        wait += Math.floor(this.#random() * Math.min(1000, Math.max(100, wait * 0.1)));
      } else {
        wait = this.#backoff(attempt);
      }
      await this.#sleep(wait);
    }
  }

  /** Exponential backoff with jitter: base * 2^(n-1), scaled by [0.5, 1), capped at maxWaitMs. */
  #backoff(attempt: number): number {
    const exp = Math.min(this.#maxWaitMs, this.#baseDelayMs * 2 ** (attempt - 1));
    return Math.floor(exp * (0.5 + this.#random() / 2));
  }
}
