/**
 * IP -> cloud region for AWS, GCP and Azure addresses, from the providers' published ranges
 * (data/cloud-ranges/cloud-regions.json, refreshed by scripts/refresh-cloud-ranges.ts).
 *
 * "AWS eu-west-1" says more than "Amazon, US": a token of an eu-west-1 fleet used from AWS
 * ap-southeast-1 is in the same ASN, and only the region tells. Longest prefix wins (a /24 of
 * one region inside a /16 of another). Loaded lazily, once: about 22,000 ranges.
 */
import { readFileSync } from 'node:fs';
import { ipv4ToNumber, ipv6ToBigInt, parseCidr } from './cidr.ts';

export type CloudProvider = 'aws' | 'gcp' | 'azure';

export interface CloudRegion {
  readonly provider: CloudProvider;
  readonly region: string;
}

export interface CloudRangesFile {
  readonly sources: Readonly<Record<CloudProvider, { readonly url: string; readonly as_of: string }>>;
  readonly regions: Readonly<Record<CloudProvider, Readonly<Record<string, readonly string[]>>>>;
}

/** Where the data is in a checkout or an installed package (the Lambda reads it from its layer). */
export const BUNDLED_CLOUD_RANGES = new URL('../../data/cloud-ranges/cloud-regions.json', import.meta.url);

export class CloudRegions {
  readonly #path: string | URL;
  /** Per IPv4 prefix length (index), network number -> region index. */
  #v4: Array<Map<number, number> | undefined> | undefined;
  /** Per IPv6 prefix length, network bigint -> region index (only the lengths in use); built on the first IPv6 lookup. */
  #v6: Array<[number, Map<bigint, number>]> | undefined;
  #v6Pending: Array<[string, number]> = [];
  #regions: CloudRegion[] = [];
  #asOf: Readonly<Record<CloudProvider, string>> | undefined;

  constructor(path: string | URL = BUNDLED_CLOUD_RANGES) {
    this.#path = path;
  }

  /** How old each provider's ranges are (e.g. `{ aws: '2026-08-22', ... }`), as the data says. */
  get asOf(): Readonly<Record<CloudProvider, string>> {
    this.#load();
    return this.#asOf as Readonly<Record<CloudProvider, string>>;
  }

  lookup(ip: string): CloudRegion | undefined {
    this.#load();
    const v4 = ipv4ToNumber(ip);
    if (v4 !== undefined) {
      const tables = this.#v4 as Array<Map<number, number> | undefined>;
      for (let len = 32; len >= 0; len--) {
        const t = tables[len];
        if (t === undefined) continue;
        const net = len === 0 ? 0 : v4 - (v4 % 2 ** (32 - len));
        const hit = t.get(net);
        if (hit !== undefined) return this.#regions[hit];
      }
      return undefined;
    }
    const v6 = ipv6ToBigInt(ip);
    if (v6 === undefined) return undefined;
    for (const [len, t] of this.#loadV6()) {
      const host = BigInt(128 - len);
      const hit = t.get((v6 >> host) << host);
      if (hit !== undefined) return this.#regions[hit];
    }
    return undefined;
  }

  #loadV6(): Array<[number, Map<bigint, number>]> {
    if (this.#v6 !== undefined) return this.#v6;
    const byLen = new Map<number, Map<bigint, number>>();
    for (const [text, idx] of this.#v6Pending) {
      const c = parseCidr(text);
      const len = Number(text.slice(text.indexOf('/') + 1));
      let t = byLen.get(len);
      if (t === undefined) byLen.set(len, (t = new Map<bigint, number>()));
      t.set(c.first, idx);
    }
    this.#v6Pending = [];
    this.#v6 = [...byLen.entries()].sort((a, b) => b[0] - a[0]);
    return this.#v6;
  }

  #load(): void {
    if (this.#v4 !== undefined) return;
    const data = JSON.parse(readFileSync(this.#path, 'utf8')) as CloudRangesFile;
    const v4: Array<Map<number, number> | undefined> = new Array<Map<number, number> | undefined>(33).fill(undefined);
    const v6: Array<[string, number]> = [];
    const regions: CloudRegion[] = [];
    for (const provider of ['aws', 'gcp', 'azure'] as const) {
      for (const [region, cidrs] of Object.entries(data.regions[provider] ?? {})) {
        const idx = regions.push({ provider, region }) - 1;
        for (const text of cidrs) {
          const slash = text.indexOf('/');
          const len = Number(text.slice(slash + 1));
          const a = ipv4ToNumber(text.slice(0, slash));
          if (a !== undefined && len >= 0 && len <= 32) {
            // The published network address (no host bits), like the lookup's masked value.
            (v4[len] ??= new Map()).set(len === 0 ? 0 : a - (a % 2 ** (32 - len)), idx);
          } else {
            v6.push([text, idx]);
          }
        }
      }
    }
    this.#regions = regions;
    this.#v6Pending = v6;
    this.#asOf = { aws: data.sources.aws.as_of, gcp: data.sources.gcp.as_of, azure: data.sources.azure.as_of };
    this.#v4 = v4;
  }
}
