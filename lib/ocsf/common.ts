import { hash } from 'node:crypto';
import { isIP } from 'node:net';
import type { OcsfObservable } from './types.ts';

/**
 * A UUID-shaped id derived from the given parts (SHA-256, version nibble 8 = custom, RFC 9562).
 * The same parts always give the same id, so redeliveries and replays de-duplicate downstream.
 */
export function deterministicUid(...parts: readonly string[]): string {
  // One-shot hash(): noticeably cheaper than createHash() per event.
  const h = hash('sha256', parts.join('\u0000'), 'hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * The address as OCSF's `ip_t` carries it (a literal IPv4 or IPv6 address, at most 40 characters),
 * or undefined when `value` is not an address. A valid IPv6 notation longer than that (zero-padded,
 * `0000:...:ffff:100.100.100.100`) comes back in its canonical short form, so the detectors still
 * see it; the mappers keep what was sent in `unmapped` when it differs.
 */
export function ocsfIp(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const family = isIP(value);
  if (family === 0) return undefined;
  if (value.length <= 40) return value;
  if (family !== 6) return undefined;
  let short: string;
  try {
    short = new URL(`http://[${value}]`).hostname.slice(1, -1);
  } catch {
    return undefined; // a zone id (fe80::1%eth0) is an address to Node but not to a URL, nor to OCSF
  }
  return short.length <= 40 && isIP(short) === 6 ? short : undefined;
}

/**
 * Observable types, as OCSF 1.8.0 assigns them per attribute (test/ocsf/observables.test.ts checks
 * every emitted observable against the schema): `user.uid` is 31, `resources[].uid` 10, ...
 */
export const ObservableType = {
  hostname: { type_id: 1, type: 'Hostname' },
  ip: { type_id: 2, type: 'IP Address' },
  userName: { type_id: 4, type: 'User Name' },
  email: { type_id: 5, type: 'Email Address' },
  resourceUid: { type_id: 10, type: 'Resource UID' },
  userAgent: { type_id: 16, type: 'HTTP User-Agent' },
  credentialUid: { type_id: 19, type: 'User Credential ID' },
  userUid: { type_id: 31, type: 'User: uid' },
  groupName: { type_id: 32, type: 'Group: name' },
  groupUid: { type_id: 33, type: 'Group: uid' },
  accountUid: { type_id: 35, type: 'Account: uid' },
  resourceName: { type_id: 38, type: 'Resource Details: name' },
  endpointUid: { type_id: 48, type: 'Network Endpoint: uid' },
  /** An attribute the schema gives no observable type (`entity.uid`, `api.operation`...). */
  other: { type_id: 99, type: 'Other' },
} as const;

/** Collects observables, skipping empty values and duplicates (a handful per event: a scan beats a Set). */
export class Observables {
  readonly #items: OcsfObservable[] = [];

  add(name: string, kind: keyof typeof ObservableType, value: string | null | undefined): this {
    if (value === undefined || value === null || value === '') return this;
    for (const o of this.#items) if (o.name === name && o.value === value) return this;
    const t = ObservableType[kind];
    this.#items.push({ name, type_id: t.type_id, type: t.type, value });
    return this;
  }

  list(): OcsfObservable[] | undefined {
    return this.#items.length > 0 ? this.#items : undefined;
  }
}

/** Drops keys whose value is undefined or null, so emitted JSON holds only what is known. */
export function compact<T extends Record<string, unknown>>(obj: T): T {
  // for-in over own enumerable keys: several times faster than Object.entries on the hot path.
  const out: Record<string, unknown> = {};
  for (const k in obj) {
    const v = obj[k];
    if (v !== undefined && v !== null) out[k] = v;
  }
  return out as T;
}

/** The keys of `obj` that the mapping did not consume: they go to `unmapped`, never dropped. */
export function leftover(obj: Record<string, unknown>, consumed: readonly string[]): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  for (const k in obj) {
    const v = obj[k];
    if (v === null || v === undefined || consumed.includes(k)) continue;
    out ??= {};
    out[k] = v;
  }
  return out;
}

/**
 * `{ ...out, ...leftover(obj, consumed) }` without the intermediate object: adds the unconsumed
 * keys of `obj` to `out` in place. `__proto__` is skipped, as the spread drops it too.
 */
export function addLeftover(out: Record<string, unknown>, obj: Record<string, unknown>, consumed: readonly string[]): Record<string, unknown> {
  for (const k in obj) {
    const v = obj[k];
    if (v === null || v === undefined || k === '__proto__' || consumed.includes(k)) continue;
    out[k] = v;
  }
  return out;
}

/**
 * One key of `compact({ ...out, [k]: v })`, in place: a defined value is set (keeping an existing
 * key's position, as the spread does); an undefined/null one removes a key the spread brought in.
 */
export function setOrDrop(out: Record<string, unknown>, k: string, v: unknown): void {
  if (v !== undefined && v !== null) out[k] = v;
  else if (k in out) delete out[k];
}

export function nonEmpty(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value === '' ? undefined : value;
}
