/**
 * Offline IP enrichment, no network at run time:
 * - autonomous system from `@ip-location-db/asn` (route-views + DB-IP, CC BY 4.0);
 * - country where the address is used, from `@ip-location-db/geo-whois-asn-country` (CC0:
 *   geofeeds first, then whois): AWS Singapore reads SG, not the US where Amazon registered it;
 * - cloud provider and region for AWS, GCP and Azure addresses, from the providers' published
 *   ranges shipped in data/cloud-ranges (lib/enrich/cloud.ts).
 * The CSVs are read once, lazily, into sorted typed arrays searched by bisection.
 *
 * Where the data comes from:
 * - `KITEWATCH_IP_DATA_DIR`, a directory holding `asn/`, `geo-whois-asn-country/` with the
 *   packages' `*-num.csv` files and `cloud-ranges/cloud-regions.json` (the Lambda gets them from
 *   a layer, /opt/ip-location-db);
 * - otherwise the installed packages in node_modules and the repository's data/ (CLI, tests, benchmarks).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ipv4ToNumber, ipv6ToBigInt } from './cidr.ts';
import { BUNDLED_CLOUD_RANGES, CloudRegions, type CloudProvider } from './cloud.ts';

export const IP_DATA_DIR_ENV = 'KITEWATCH_IP_DATA_DIR';
/** Country where an address is used (geofeeds), not where its block is registered. */
const COUNTRY_PACKAGE = 'geo-whois-asn-country';

export interface IpInfo {
  /** Autonomous system number; absent for private, reserved or unrouted addresses. */
  readonly asn?: number;
  readonly asOrg?: string;
  /** ISO 3166-1 alpha-2 country where the address is used (geofeed), else where it is registered. */
  readonly country?: string;
  /** The cloud and region the address belongs to, for AWS, GCP and Azure ranges. */
  readonly cloud?: { readonly provider: CloudProvider; readonly region: string };
}

/** The port detectors use; tests inject a fixed table. */
export interface IpEnricher {
  /** Undefined when `ip` is not an IP address; `{}` when it is but no range covers it. */
  lookup(ip: string): IpInfo | undefined;
}

export class IpDataError extends Error {
  override readonly name = 'IpDataError';
}

export interface IpDataFiles {
  readonly asnV4: string;
  readonly asnV6: string;
  readonly countryV4: string;
  readonly countryV6: string;
  readonly cloudRegions: string;
}

/** The CSV paths: KITEWATCH_IP_DATA_DIR when set, else the installed npm packages. */
export function ipDataFiles(env: Record<string, string | undefined> = process.env): IpDataFiles {
  const dir = env[IP_DATA_DIR_ENV];
  let asnDir: string;
  let countryDir: string;
  let cloudRegions: string;
  if (dir !== undefined && dir !== '') {
    asnDir = join(dir, 'asn');
    countryDir = join(dir, COUNTRY_PACKAGE);
    cloudRegions = join(dir, 'cloud-ranges', 'cloud-regions.json');
  } else {
    const require = createRequire(import.meta.url);
    try {
      asnDir = dirname(require.resolve('@ip-location-db/asn/package.json'));
      countryDir = dirname(require.resolve(`@ip-location-db/${COUNTRY_PACKAGE}/package.json`));
    } catch (cause) {
      throw new IpDataError(
        `IP enrichment data not found: install @ip-location-db/asn and @ip-location-db/${COUNTRY_PACKAGE}, or set ${IP_DATA_DIR_ENV} to a directory holding asn/ and ${COUNTRY_PACKAGE}/ with their *-num.csv files`,
        { cause },
      );
    }
    cloudRegions = fileURLToPath(BUNDLED_CLOUD_RANGES);
  }
  return {
    asnV4: join(asnDir, 'asn-ipv4-num.csv'),
    asnV6: join(asnDir, 'asn-ipv6-num.csv'),
    countryV4: join(countryDir, `${COUNTRY_PACKAGE}-ipv4-num.csv`),
    countryV6: join(countryDir, `${COUNTRY_PACKAGE}-ipv6-num.csv`),
    cloudRegions,
  };
}

function readCsv(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch (cause) {
    throw new IpDataError(`cannot read IP enrichment data ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** Country codes packed as two char codes in one uint16 (no string per range). */
const packCc = (s: string): number => (s.charCodeAt(0) << 8) | s.charCodeAt(1);
const unpackCc = (n: number): string => String.fromCharCode(n >> 8, n & 0xff);

/** Splits `start,end,rest` lines without building an array per line. */
function* rows(text: string): Generator<[string, string, string]> {
  let pos = 0;
  const len = text.length;
  while (pos < len) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = len;
    const c1 = text.indexOf(',', pos);
    const c2 = c1 < 0 ? -1 : text.indexOf(',', c1 + 1);
    if (c1 > 0 && c2 > c1 && c2 < nl) {
      const end = text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      yield [text.slice(pos, c1), text.slice(c1 + 1, c2), text.slice(c2 + 1, end)];
    }
    pos = nl + 1;
  }
}

/** `14618,"Amazon.com, Inc."` -> [14618, 'Amazon.com, Inc.'] */
function splitAsn(rest: string): [number, string] {
  const comma = rest.indexOf(',');
  if (comma < 0) return [Number(rest), ''];
  let org = rest.slice(comma + 1);
  if (org.startsWith('"') && org.endsWith('"')) org = org.slice(1, -1).replaceAll('""', '"');
  return [Number(rest.slice(0, comma)), org];
}

interface V4Table<T> {
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
  readonly values: T;
  readonly length: number;
}

/** Index of the last range whose start <= ip, or -1. */
function bisect(starts: ArrayLike<number> | readonly bigint[], ip: number | bigint, length: number): number {
  let lo = 0;
  let hi = length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if ((starts[mid] as number | bigint) <= ip) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** bisect specialised to the IPv4 tables: the shared one goes megamorphic (number and bigint). */
function bisectU32(starts: Uint32Array, ip: number, length: number): number {
  let lo = 0;
  let hi = length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if ((starts[mid] as number) <= ip) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

function growU32(a: Uint32Array): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(a.length * 2);
  b.set(a);
  return b;
}

function growU16(a: Uint16Array): Uint16Array<ArrayBuffer> {
  const b = new Uint16Array(a.length * 2);
  b.set(a);
  return b;
}

interface V6Table<T> {
  readonly starts: bigint[];
  readonly ends: bigint[];
  readonly values: T[];
}

/**
 * The ip-location-db tables, loaded family by family on first use (IPv4 ASN + country take
 * about 0.4 s and 30 MB; IPv6 is loaded only when an IPv6 address shows up).
 */
export class IpLocationDb implements IpEnricher {
  readonly #files: () => IpDataFiles;
  #asnV4: V4Table<Uint32Array> | undefined;
  #ccV4: V4Table<Uint16Array> | undefined;
  #asnV6: V6Table<number> | undefined;
  #ccV6: V6Table<string> | undefined;
  readonly #orgs = new Map<number, string>();
  #cloud: CloudRegions | undefined;
  /** Milliseconds spent loading so far (reported by benchmarks). */
  loadMs = 0;

  constructor(files?: IpDataFiles) {
    this.#files = files ? () => files : () => ipDataFiles();
  }

  /** The published cloud ranges (loaded on first use); `asOf` says how old they are. */
  get cloudRegions(): CloudRegions {
    if (this.#cloud === undefined) {
      const t0 = performance.now();
      this.#cloud = new CloudRegions(this.#files().cloudRegions);
      this.#cloud.lookup('0.0.0.0');
      this.loadMs += performance.now() - t0;
    }
    return this.#cloud;
  }

  #withCloud(ip: string, out: { asn?: number; asOrg?: string; country?: string; cloud?: IpInfo['cloud'] }): IpInfo {
    const cloud = this.cloudRegions.lookup(ip);
    if (cloud !== undefined) out.cloud = cloud;
    return out;
  }

  lookup(ip: string): IpInfo | undefined {
    const v4 = ipv4ToNumber(ip);
    if (v4 !== undefined) return this.#withCloud(ip, this.#lookupV4(v4));
    const v6 = ipv6ToBigInt(ip);
    if (v6 === undefined) return undefined;
    // IPv4-mapped IPv6 (::ffff:a.b.c.d) is an IPv4 address in disguise.
    if (v6 >> 32n === 0xffffn) {
      const mapped = Number(v6 & 0xffffffffn);
      return this.#withCloud(`${mapped >>> 24}.${(mapped >>> 16) & 255}.${(mapped >>> 8) & 255}.${mapped & 255}`, this.#lookupV4(mapped));
    }
    return this.#withCloud(ip, this.#lookupV6(v6));
  }

  /** Loads the IPv4 tables and the cloud ranges now (cold-start warm-up, benchmarks). */
  preload(): this {
    this.#loadV4();
    void this.cloudRegions;
    return this;
  }

  #lookupV4(ip: number): { asn?: number; asOrg?: string; country?: string } {
    this.#loadV4();
    const asnT = this.#asnV4 as V4Table<Uint32Array>;
    const ccT = this.#ccV4 as V4Table<Uint16Array>;
    const out: { asn?: number; asOrg?: string; country?: string } = {};
    const i = bisectU32(asnT.starts, ip, asnT.length);
    if (i >= 0 && ip <= (asnT.ends[i] as number)) {
      const asn = asnT.values[i] as number;
      out.asn = asn;
      const org = this.#orgs.get(asn);
      if (org !== undefined && org !== '') out.asOrg = org;
    }
    // An address no AS announces (private, documentation, unrouted) is used nowhere in particular.
    if (out.asn === undefined) return out;
    const j = bisectU32(ccT.starts, ip, ccT.length);
    if (j >= 0 && ip <= (ccT.ends[j] as number)) out.country = unpackCc(ccT.values[j] as number);
    return out;
  }

  #lookupV6(ip: bigint): { asn?: number; asOrg?: string; country?: string } {
    this.#loadV6();
    const asnT = this.#asnV6 as V6Table<number>;
    const ccT = this.#ccV6 as V6Table<string>;
    const out: { asn?: number; asOrg?: string; country?: string } = {};
    const i = bisect(asnT.starts, ip, asnT.starts.length);
    if (i >= 0 && ip <= (asnT.ends[i] as bigint)) {
      const asn = asnT.values[i] as number;
      out.asn = asn;
      const org = this.#orgs.get(asn);
      if (org !== undefined && org !== '') out.asOrg = org;
    }
    if (out.asn === undefined) return out;
    const j = bisect(ccT.starts, ip, ccT.starts.length);
    if (j >= 0 && ip <= (ccT.ends[j] as bigint)) out.country = ccT.values[j];
    return out;
  }

  #loadV4(): void {
    if (this.#asnV4 !== undefined) return;
    const t0 = performance.now();
    const files = this.#files();
    let starts = new Uint32Array(1 << 19);
    let ends = new Uint32Array(1 << 19);
    let asns = new Uint32Array(1 << 19);
    let n = 0;
    for (const [s, e, rest] of rows(readCsv(files.asnV4))) {
      if (n === starts.length) {
        starts = growU32(starts);
        ends = growU32(ends);
        asns = growU32(asns);
      }
      const [asn, org] = splitAsn(rest);
      starts[n] = Number(s);
      ends[n] = Number(e);
      asns[n] = asn;
      if (!this.#orgs.has(asn)) this.#orgs.set(asn, org);
      n++;
    }
    let cStarts = new Uint32Array(1 << 18);
    let cEnds = new Uint32Array(1 << 18);
    let ccs = new Uint16Array(1 << 18);
    let m = 0;
    for (const [s, e, cc] of rows(readCsv(files.countryV4))) {
      if (m === cStarts.length) {
        cStarts = growU32(cStarts);
        cEnds = growU32(cEnds);
        ccs = growU16(ccs);
      }
      cStarts[m] = Number(s);
      cEnds[m] = Number(e);
      ccs[m] = packCc(cc);
      m++;
    }
    if (n === 0 || m === 0) throw new IpDataError(`IP enrichment data is empty: ${files.asnV4}, ${files.countryV4}`);
    this.#asnV4 = { starts, ends, values: asns, length: n };
    this.#ccV4 = { starts: cStarts, ends: cEnds, values: ccs, length: m };
    this.loadMs += performance.now() - t0;
  }

  #loadV6(): void {
    if (this.#asnV6 !== undefined) return;
    const t0 = performance.now();
    const files = this.#files();
    const asn: V6Table<number> = { starts: [], ends: [], values: [] };
    for (const [s, e, rest] of rows(readCsv(files.asnV6))) {
      const [num, org] = splitAsn(rest);
      asn.starts.push(BigInt(s));
      asn.ends.push(BigInt(e));
      asn.values.push(num);
      if (!this.#orgs.has(num)) this.#orgs.set(num, org);
    }
    const cc: V6Table<string> = { starts: [], ends: [], values: [] };
    for (const [s, e, code] of rows(readCsv(files.countryV6))) {
      cc.starts.push(BigInt(s));
      cc.ends.push(BigInt(e));
      cc.values.push(code);
    }
    this.#asnV6 = asn;
    this.#ccV6 = cc;
    this.loadMs += performance.now() - t0;
  }
}

let shared: IpLocationDb | undefined;

/** One table per process: the CLI, the Lambda and the tests share the loaded data. */
export function defaultIpEnricher(): IpLocationDb {
  shared ??= new IpLocationDb();
  return shared;
}

/** A fixed table for tests and detector cases: `{ '185.220.101.34': { asn: 60729, country: 'DE' } }` or CIDR keys. */
export class StaticIpEnricher implements IpEnricher {
  readonly #ranges: Array<{ first: bigint; last: bigint; info: IpInfo }> = [];

  constructor(table: Readonly<Record<string, IpInfo>>) {
    for (const [cidr, info] of Object.entries(table)) {
      const slash = cidr.indexOf('/');
      const addr = slash >= 0 ? cidr.slice(0, slash) : cidr;
      const v4 = ipv4ToNumber(addr);
      const bits = v4 !== undefined ? 32 : 128;
      const value = v4 !== undefined ? BigInt(v4) : ipv6ToBigInt(addr);
      if (value === undefined) throw new IpDataError(`StaticIpEnricher: "${cidr}" is not an IP or CIDR`);
      const host = BigInt(bits - (slash >= 0 ? Number(cidr.slice(slash + 1)) : bits));
      const first = (value >> host) << host;
      this.#ranges.push({ first: first + (v4 !== undefined ? 0n : 1n << 200n), last: first + (1n << host) - 1n + (v4 !== undefined ? 0n : 1n << 200n), info });
    }
  }

  lookup(ip: string): IpInfo | undefined {
    const v4 = ipv4ToNumber(ip);
    const value = v4 !== undefined ? BigInt(v4) : ipv6ToBigInt(ip);
    if (value === undefined) return undefined;
    // IPv6 values are shifted past the IPv4 space so the two families never overlap.
    const key = v4 !== undefined ? value : value + (1n << 200n);
    const hit = this.#ranges.find((r) => key >= r.first && key <= r.last);
    return hit ? hit.info : {};
  }
}
