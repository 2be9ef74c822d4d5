/**
 * The formats of the ids Kitewatch acts on. Every id is checked against its format where it
 * enters (config, findings, runbook inputs, API answers) and again before it reaches a URL: an
 * id of `..`, or one carrying a slash, a tab or a newline, would change which resource a
 * request hits. Pure and dependency-free: the contain Lambda and the CLI both load it.
 */

/** A Buildkite UUID (any version; Buildkite mixes v4 and time-ordered ids). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An organization or pipeline slug: lowercase letters, digits and dashes, as Buildkite makes them. */
export const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{0,99}$/;

/** A GraphQL node id: base64 of `Type---uuid` (Buildkite's ids), nothing else. */
export const GRAPHQL_ID_PATTERN = /^[A-Za-z0-9+/]{8,200}={0,2}$/;

export type IdKind = 'uuid' | 'slug' | 'graphql id';

const PATTERNS: Record<IdKind, RegExp> = { uuid: UUID_PATTERN, slug: SLUG_PATTERN, 'graphql id': GRAPHQL_ID_PATTERN };

export const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID_PATTERN.test(v);
export const isSlug = (v: unknown): v is string => typeof v === 'string' && SLUG_PATTERN.test(v);
export const isGraphqlId = (v: unknown): v is string => typeof v === 'string' && GRAPHQL_ID_PATTERN.test(v);

export class InvalidIdError extends Error {
  override readonly name = 'InvalidIdError';
  readonly kind: IdKind;
  constructor(kind: IdKind, what: string, value: unknown) {
    super(`${what} is not a valid ${kind}: ${quoteId(value)}`);
    this.kind = kind;
  }
}

/** The value as it may be shown: JSON-quoted (control characters escaped) and cut short. */
export function quoteId(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  const cut = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return JSON.stringify(cut);
}

/** The id if it has the format, else why not (for Failure activities and config errors). */
export function checkId(kind: IdKind, what: string, value: unknown): { ok: true; id: string } | { ok: false; reason: string } {
  if (typeof value === 'string' && PATTERNS[kind].test(value)) return { ok: true, id: value };
  return { ok: false, reason: new InvalidIdError(kind, what, value).message };
}

/** Throws InvalidIdError unless the value has the format; the id back otherwise. */
export function requireId(kind: IdKind, what: string, value: unknown): string {
  const r = checkId(kind, what, value);
  if (!r.ok) throw new InvalidIdError(kind, what, value);
  return r.id;
}
