import { isIP } from 'node:net';

/**
 * IP addresses as numbers for range checks: IPv4 as an unsigned 32-bit number, IPv6 as a
 * 128-bit bigint. Parsing is hand-rolled because it runs once per event on the hot path.
 */
export function ipv4ToNumber(ip: string): number | undefined {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return undefined;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      // No leading zeros beyond a lone 0: "010" is ambiguous (octal in some parsers).
      if (digits === 1 && part === 0) return undefined;
      part = part * 10 + (c - 48);
      digits++;
      if (digits > 3) return undefined;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0 || part > 255) return undefined;
  return value * 256 + part;
}

/** 128-bit value of an IPv6 address (with optional embedded IPv4 tail), or undefined. */
export function ipv6ToBigInt(ip: string): bigint | undefined {
  if (isIP(ip) !== 6) return undefined;
  const zone = ip.indexOf('%');
  const addr = zone >= 0 ? ip.slice(0, zone) : ip;
  let head = addr;
  let tail = '';
  const dbl = addr.indexOf('::');
  if (dbl >= 0) {
    head = addr.slice(0, dbl);
    tail = addr.slice(dbl + 2);
  }
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        const v4 = ipv4ToNumber(g);
        if (v4 === undefined) return undefined;
        out.push(Math.floor(v4 / 65536), v4 % 65536);
      } else {
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const h = groups(head);
  const t = groups(tail);
  if (h === undefined || t === undefined) return undefined;
  const all = dbl >= 0 ? [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
  if (all.length !== 8) return undefined;
  let v = 0n;
  for (const g of all) v = (v << 16n) | BigInt(g);
  return v;
}

export interface Cidr {
  readonly text: string;
  readonly family: 4 | 6;
  readonly first: bigint;
  readonly last: bigint;
}

export class CidrError extends Error {
  override readonly name = 'CidrError';
}

/** `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128). */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const addr = slash >= 0 ? text.slice(0, slash) : text;
  const family = isIP(addr);
  if (family === 0) throw new CidrError(`"${text}" is not an IP address or CIDR range`);
  const bits = family === 4 ? 32 : 128;
  const prefixText = slash >= 0 ? text.slice(slash + 1) : String(bits);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (!(prefix >= 0 && prefix <= bits)) throw new CidrError(`"${text}" has an invalid prefix length (0-${bits})`);
  const value = family === 4 ? BigInt(ipv4ToNumber(addr) ?? 0) : (ipv6ToBigInt(addr) ?? 0n);
  const hostBits = BigInt(bits - prefix);
  const first = (value >> hostBits) << hostBits;
  const last = first + (1n << hostBits) - 1n;
  return { text, family: family === 4 ? 4 : 6, first, last };
}

/** A fixed set of ranges; IPv4 checks stay in plain numbers. */
export class CidrSet {
  readonly #v4: Array<readonly [number, number]> = [];
  readonly #v6: Array<readonly [bigint, bigint]> = [];

  constructor(cidrs: readonly string[]) {
    for (const text of cidrs) {
      const c = parseCidr(text);
      if (c.family === 4) this.#v4.push([Number(c.first), Number(c.last)]);
      else this.#v6.push([c.first, c.last]);
    }
  }

  get size(): number {
    return this.#v4.length + this.#v6.length;
  }

  has(ip: string): boolean {
    if (this.size === 0) return false;
    const v4 = ipv4ToNumber(ip);
    if (v4 !== undefined) return this.#v4.some(([a, b]) => v4 >= a && v4 <= b);
    const v6 = ipv6ToBigInt(ip);
    return v6 !== undefined && this.#v6.some(([a, b]) => v6 >= a && v6 <= b);
  }
}
