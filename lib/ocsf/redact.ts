import { hash } from 'node:crypto';
import type { OcsfEvent } from './types.ts';

/**
 * Secrets that ride inside Buildkite events (a token value under `detail.token`, the audit
 * context's `session_key`, a token pasted into audit `data`) must not reach the OCSF output and
 * the sinks. One pass over the normalized event, applied once (normalizeEnvelope), whatever the
 * mappers copied: a string under a secret-bearing key, or a string that looks like a Buildkite
 * token, becomes `[redacted sha256:<16 hex>]`, so analysts can still correlate equal values.
 * JSON text inside a string (the audit `context`) is redacted the same way. The quarantine keeps
 * the raw input (nothing may be lost), so it is as sensitive as the source.
 *
 * Copy on write: unchanged objects are returned as they are, and the input (which the mappers may
 * share objects with, and the quarantine may still need) is never modified.
 */

/** Keys whose string values are secrets. Ids (`*_uuid`, `*_uid`, `*_id`) are not. */
const SECRET_KEYS = new Set([
  'token',
  'tokens',
  'secret',
  'password',
  'passwd',
  'passphrase',
  'session_key',
  'session_token',
  'session_cookie',
  'api_key',
  'apikey',
  'access_key',
  'secret_key',
  'private_key',
  'signing_key',
  'client_secret',
  'authorization',
  'cookie',
]);
const SECRET_SUFFIXES = ['_token', '-token', '_secret', '-secret', '_password', '-password'];
const secretKeyCache = new Map<string, boolean>();

function isSecretKey(key: string): boolean {
  let v = secretKeyCache.get(key);
  if (v === undefined) {
    const k = key.toLowerCase();
    v = SECRET_KEYS.has(k) || SECRET_SUFFIXES.some((x) => k.endsWith(x) && k.length > x.length);
    // Keys are few (schema names); a hostile event's many keys just are not remembered.
    if (secretKeyCache.size < 10_000) secretKeyCache.set(key, v);
  }
  return v;
}
/** Buildkite token values by prefix (bkua_ API, bkaa_ agent session, bkaj_ job, and the rest of the family). */
const TOKEN_VALUE = /\bbk[a-z]{2}_[A-Za-z0-9]{16,}/g;
const MIGHT_HOLD_TOKEN = /bk[a-z]{2}_/;
/** Cheap pre-check before parsing a string as JSON: it opens like JSON and names a secret-ish key. */
// `u`: case folding as isSecretKey's toLowerCase() sees it (the Kelvin sign K is a "k" there).
const SECRET_WORD = /token|secret|passw|passphrase|session_key|api_?key|access_key|private_key|signing_key|authorization|cookie/iu;
function mightBeJsonWithSecrets(value: string): boolean {
  const c = value.charCodeAt(0);
  return (c === 123 || c === 91) && SECRET_WORD.test(value);
}

export function redactedValue(value: string): string {
  return `[redacted sha256:${hash('sha256', value, 'hex').slice(0, 16)}]`;
}

/**
 * Secret values (strings under secret-bearing keys, also inside JSON text) into `into`; true when
 * some string holds a token-shaped value. One read-only walk: most events have neither.
 */
function collect(value: unknown, key: string | undefined, into: Set<string>, parsed: Map<string, unknown>): boolean {
  if (typeof value === 'string') {
    if (value === '') return false;
    if (key !== undefined && isSecretKey(key)) into.add(value);
    else if (mightBeJsonWithSecrets(value)) {
      try {
        const json: unknown = JSON.parse(value);
        parsed.set(value, json);
        collect(json, undefined, into, parsed);
      } catch {
        // Not JSON after all.
      }
    }
    // indexOf first: most strings hold no "bk", and the search costs less than a regex call.
    return value.indexOf('bk') !== -1 && MIGHT_HOLD_TOKEN.test(value);
  }
  let found = false;
  if (Array.isArray(value)) {
    // An array under a secret key holds secrets too (`tokens: [...]`).
    for (const item of value) if (collect(item, key, into, parsed)) found = true;
  } else if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    for (const k in o) if (collect(o[k], k, into, parsed)) found = true;
  }
  return found;
}

function redactString(value: string, secrets: ReadonlySet<string>, parsed: ReadonlyMap<string, unknown>): string {
  // A secret copied elsewhere by a mapper (the session key as `actor.session.uid`) goes too.
  if (secrets.has(value)) return redactedValue(value);
  // JSON text (the audit context): redacted inside, so the rest of it stays readable.
  if (parsed.has(value)) {
    const json = parsed.get(value);
    const redacted = redact(json, secrets, parsed);
    return redacted === json ? value : JSON.stringify(redacted);
  }
  return MIGHT_HOLD_TOKEN.test(value) ? value.replace(TOKEN_VALUE, (m) => redactedValue(m)) : value;
}

function redact(value: unknown, secrets: ReadonlySet<string>, parsed: ReadonlyMap<string, unknown>): unknown {
  if (typeof value === 'string') return redactString(value, secrets, parsed);
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const r = redact(item, secrets, parsed);
      if (r !== item) (copy ??= [...(value as unknown[])])[i] = r;
    });
    return copy ?? value;
  }
  if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    let copy: Record<string, unknown> | undefined;
    for (const k in o) {
      const v = o[k];
      const r = redact(v, secrets, parsed);
      if (r !== v) (copy ??= { ...o })[k] = r;
    }
    return copy ?? value;
  }
  return value;
}

/** The event with secret values replaced by their hash; the same object when there were none. */
export function redactSecrets(event: OcsfEvent): OcsfEvent {
  const secrets = new Set<string>();
  const parsed = new Map<string, unknown>();
  const tokenShaped = collect(event, undefined, secrets, parsed);
  // The audit context's session key, which the audit mapper keeps as the OCSF session uid.
  const session = event.actor?.session?.uid;
  if (typeof session === 'string' && session !== '' && event.metadata.log_name === 'buildkite-audit') secrets.add(session);
  return secrets.size === 0 && !tokenShaped ? event : (redact(event, secrets, parsed) as OcsfEvent);
}
