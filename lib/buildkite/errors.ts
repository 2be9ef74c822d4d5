/**
 * Typed errors of the Buildkite API client. Each names the call (a stable label such as
 * `revokeClusterToken`), the request and the HTTP status, never the token or a request body.
 */

/** Longest API message kept in an error; Buildkite's are one sentence. */
const MAX_MESSAGE = 300;

function clip(text: string): string {
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}...` : text;
}

export interface RequestInfo {
  /** Stable label of the operation, e.g. `revokeClusterToken`. */
  readonly call: string;
  readonly method: string;
  /** Path (REST) or operation name (GraphQL); never includes credentials. */
  readonly path: string;
}

/** The API answered with a status the caller does not accept. */
export class BuildkiteApiError extends Error {
  override readonly name = 'BuildkiteApiError';
  readonly call: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** `message` from Buildkite's JSON error body, when it had one. */
  readonly apiMessage: string | undefined;
  /** Seconds until the rate-limit window resets (429 only). */
  readonly retryAfterSeconds: number | undefined;

  constructor(info: RequestInfo & { status: number; apiMessage?: string | undefined; retryAfterSeconds?: number | undefined; attempts?: number }, options?: ErrorOptions) {
    const api = info.apiMessage === undefined ? '' : `: ${clip(info.apiMessage)}`;
    const attempts = info.attempts !== undefined && info.attempts > 1 ? ` after ${info.attempts} attempts` : '';
    super(`Buildkite ${info.call} (${info.method} ${info.path}) failed with HTTP ${info.status}${api}${attempts}`, options);
    this.call = info.call;
    this.method = info.method;
    this.path = info.path;
    this.status = info.status;
    this.apiMessage = info.apiMessage === undefined ? undefined : clip(info.apiMessage);
    this.retryAfterSeconds = info.retryAfterSeconds;
  }
}

/** GraphQL answered HTTP 200 with `errors` (validation, permission, complexity). */
export class BuildkiteGraphqlError extends Error {
  override readonly name = 'BuildkiteGraphqlError';
  readonly call: string;
  readonly messages: readonly string[];

  constructor(call: string, messages: readonly string[]) {
    super(`Buildkite GraphQL ${call} returned errors: ${clip(messages.join('; '))}`);
    this.call = call;
    this.messages = messages.map(clip);
  }
}

/** No answer: timeout or network failure, after the retries the call allows. */
export class BuildkiteRequestError extends Error {
  override readonly name = 'BuildkiteRequestError';
  readonly call: string;
  readonly method: string;
  readonly path: string;
  readonly timedOut: boolean;

  constructor(info: RequestInfo & { timedOut: boolean; timeoutMs: number; attempts: number }, options?: ErrorOptions) {
    const what = info.timedOut ? `timed out after ${info.timeoutMs} ms` : 'failed to connect';
    const attempts = info.attempts > 1 ? ` (${info.attempts} attempts)` : '';
    super(`Buildkite ${info.call} (${info.method} ${info.path}) ${what}${attempts}`, options);
    this.call = info.call;
    this.method = info.method;
    this.path = info.path;
    this.timedOut = info.timedOut;
  }
}

/** No API token is available (unset variable, missing or empty secret). */
export class MissingBuildkiteTokenError extends Error {
  override readonly name = 'MissingBuildkiteTokenError';
  /** Where the token was expected, e.g. `BUILDKITE_API_TOKEN`. */
  readonly source: string;

  constructor(source: string, options?: ErrorOptions) {
    super(`missing Buildkite API token: ${source} is not set`, options);
    this.source = source;
  }
}
