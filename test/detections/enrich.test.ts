import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CidrError, CidrSet, ipv4ToNumber, ipv6ToBigInt, parseCidr } from '../../lib/enrich/cidr.ts';
import { defaultIpEnricher, IpDataError, IpLocationDb, ipDataFiles, IP_DATA_DIR_ENV, StaticIpEnricher } from '../../lib/enrich/ip.ts';

describe('IP parsing', () => {
  it('ipv4ToNumber agrees with the dotted-quad definition and rejects what net.isIP rejects', () => {
    fc.assert(
      fc.property(fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)), ([a, b, c, d]) => {
        expect(ipv4ToNumber(`${a}.${b}.${c}.${d}`)).toBe(((a * 256 + b) * 256 + c) * 256 + d);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        if (isIP(s) !== 4) expect(ipv4ToNumber(s)).toBeUndefined();
      }),
    );
    for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1..2.3', '']) expect(ipv4ToNumber(bad)).toBeUndefined();
  });

  it('ipv6ToBigInt handles compression and embedded IPv4', () => {
    expect(ipv6ToBigInt('::')).toBe(0n);
    expect(ipv6ToBigInt('::1')).toBe(1n);
    expect(ipv6ToBigInt('2001:db8::1')).toBe((0x20010db8n << 96n) | 1n);
    expect(ipv6ToBigInt('::ffff:3.80.0.1')).toBe((0xffffn << 32n) | BigInt(ipv4ToNumber('3.80.0.1') as number));
    expect(ipv6ToBigInt('3.80.0.1')).toBeUndefined();
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        expect(ipv6ToBigInt(ip)).toBeTypeOf('bigint');
      }),
    );
  });

  it('parses CIDRs and matches addresses in both families', () => {
    const set = new CidrSet(['3.80.0.0/12', '203.0.113.7', '2001:db8::/32']);
    expect(set.has('3.95.255.255')).toBe(true);
    expect(set.has('3.96.0.0')).toBe(false);
    expect(set.has('203.0.113.7')).toBe(true);
    expect(set.has('203.0.113.8')).toBe(false);
    expect(set.has('2001:db8:ffff::1')).toBe(true);
    expect(set.has('2001:db9::1')).toBe(false);
    expect(set.has('not an ip')).toBe(false);
    expect(parseCidr('10.1.2.3/8')).toMatchObject({ family: 4, first: BigInt(ipv4ToNumber('10.0.0.0') as number) });
    expect(() => parseCidr('10.0.0.0/33')).toThrow(CidrError);
    expect(() => parseCidr('example.com/24')).toThrow(/not an IP address or CIDR range/);
  });
});

describe('ip-location-db enrichment', () => {
  const db = defaultIpEnricher();

  it('resolves ASN, AS organization and country offline', () => {
    expect(db.lookup('3.80.193.183')).toEqual({ asn: 14618, asOrg: 'Amazon.com, Inc.', country: 'US', cloud: { provider: 'aws', region: 'us-east-1' } });
    expect(db.lookup('185.220.101.34')).toMatchObject({ asn: 60729, country: 'DE' });
    expect(db.lookup('2600:1f18:abcd::1')).toMatchObject({ asn: 16509 });
    expect(db.lookup('::ffff:3.80.193.183')).toMatchObject({ asn: 14618 });
  });

  it('gives the country where an address is used (geofeeds), not where its block is registered, and the cloud region', () => {
    // AWS addresses are all registered in the US; each region's geofeed says where it is.
    expect(db.lookup('52.220.1.1')).toMatchObject({ country: 'SG', cloud: { provider: 'aws', region: 'ap-southeast-1' } });
    expect(db.lookup('13.228.1.1')).toMatchObject({ country: 'SG', cloud: { provider: 'aws', region: 'ap-southeast-1' } });
    expect(db.lookup('34.240.1.1')).toMatchObject({ country: 'IE', cloud: { provider: 'aws', region: 'eu-west-1' } });
    expect(db.lookup('3.8.1.1')).toMatchObject({ country: 'GB', cloud: { provider: 'aws', region: 'eu-west-2' } });
    expect(db.lookup('35.180.1.1')).toMatchObject({ country: 'FR', cloud: { provider: 'aws', region: 'eu-west-3' } });
    expect(db.lookup('20.50.1.1')?.cloud).toEqual({ provider: 'azure', region: 'westeurope' });
    expect(db.lookup('34.1.208.1')?.cloud).toEqual({ provider: 'gcp', region: 'africa-south1' });
    expect(db.lookup('2600:1f18::1')?.cloud).toEqual({ provider: 'aws', region: 'us-east-1' });
    expect(db.lookup('::ffff:34.240.1.1')?.cloud).toEqual({ provider: 'aws', region: 'eu-west-1' });
    // Not a cloud address: no region.
    expect(db.lookup('185.220.101.34')?.cloud).toBeUndefined();
    expect(db.cloudRegions.asOf.aws).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('every address of 3.80.0.0/12 is one network (AS14618): autoscaling churn stays inside it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 80, max: 95 }), fc.nat(255), fc.nat(255), (b, c, d) => {
        expect(db.lookup(`3.${b}.${c}.${d}`)?.asn).toBe(14618);
      }),
    );
  });

  it('private and unrouted addresses have no ASN; non-addresses are undefined', () => {
    expect(db.lookup('10.0.0.1')).toEqual({});
    expect(db.lookup('203.0.113.10')).toEqual({});
    expect(db.lookup('nope')).toBeUndefined();
  });

  // The load time itself is measured by `npm run bench`, not asserted here (no timed tests).
  it('preloads the IPv4 tables and reports how long that took', () => {
    const fresh = new IpLocationDb().preload();
    expect(fresh.loadMs).toBeGreaterThan(0);
    expect(fresh.lookup('3.80.0.1')).toMatchObject({ asn: 14618 });
  });

  it('reads KITEWATCH_IP_DATA_DIR when set, and names the variable when the data is missing', () => {
    const files = ipDataFiles({ [IP_DATA_DIR_ENV]: '/opt/ip-location-db' });
    expect(files.asnV4).toBe('/opt/ip-location-db/asn/asn-ipv4-num.csv');
    expect(files.countryV6).toBe('/opt/ip-location-db/geo-whois-asn-country/geo-whois-asn-country-ipv6-num.csv');
    expect(files.cloudRegions).toBe('/opt/ip-location-db/cloud-ranges/cloud-regions.json');
    const missing = new IpLocationDb(ipDataFiles({ [IP_DATA_DIR_ENV]: '/nonexistent' }));
    expect(() => missing.lookup('3.80.0.1')).toThrow(IpDataError);
  });

  it('StaticIpEnricher serves fixed ranges for tests', () => {
    const s = new StaticIpEnricher({ '3.80.0.0/12': { asn: 14618, country: 'US' }, '2001:db8::/32': { asn: 64500 } });
    expect(s.lookup('3.81.1.1')).toEqual({ asn: 14618, country: 'US' });
    expect(s.lookup('2001:db8::5')).toEqual({ asn: 64500 });
    expect(s.lookup('8.8.8.8')).toEqual({});
    expect(s.lookup('x')).toBeUndefined();
  });
});
