import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { OcsfObservable } from './types.ts';

/**
 * A UUID-shaped id derived from the given parts (SHA-256, version nibble 8 = custom, RFC 9562).
 * The same parts always give the same id, so redeliveries and replays de-duplicate downstream.
 */
export function deterministicUid(...parts: readonly string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** True for a literal IPv4 or IPv6 address, the only thing OCSF's `ip_t` accepts. */
export function isIpAddress(value: unknown): value is string {
  return typeof value === 'string' && isIP(value) !== 0;
}

export const ObservableType = {
  hostname: { type_id: 1, type: 'Hostname' },
  ip: { type_id: 2, type: 'IP Address' },
  userName: { type_id: 4, type: 'User Name' },
  email: { type_id: 5, type: 'Email Address' },
  resourceUid: { type_id: 10, type: 'Resource UID' },
  userAgent: { type_id: 16, type: 'HTTP User-Agent' },
  credentialUid: { type_id: 19, type: 'User Credential ID' },
  userUid: { type_id: 31, type: 'User: uid' },
  resourceName: { type_id: 38, type: 'Resource Details: name' },
} as const;

/** Collects observables, skipping empty values and duplicates. */
export class Observables {
  readonly #items: OcsfObservable[] = [];
  readonly #seen = new Set<string>();

  add(name: string, kind: keyof typeof ObservableType, value: string | null | undefined): this {
    if (value === undefined || value === null || value === '') return this;
    const key = `${name}\u0000${value}`;
    if (this.#seen.has(key)) return this;
    this.#seen.add(key);
    this.#items.push({ name, ...ObservableType[kind], value });
    return this;
  }

  list(): OcsfObservable[] | undefined {
    return this.#items.length > 0 ? this.#items : undefined;
  }
}

/** Drops keys whose value is undefined or null, so emitted JSON holds only what is known. */
export function compact<T extends Record<string, unknown>>(obj: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v !== undefined && v !== null) out[k] = v;
  }
  return out as T;
}

/** The keys of `obj` that the mapping did not consume: they go to `unmapped`, never dropped. */
export function leftover(obj: Record<string, unknown>, consumed: readonly string[]): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(obj)) {
    if (consumed.includes(k) || v === null || v === undefined) continue;
    out ??= {};
    out[k] = v;
  }
  return out;
}

export function nonEmpty(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value === '' ? undefined : value;
}
