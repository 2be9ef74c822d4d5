/**
 * Refreshes data/cloud-ranges/cloud-regions.json: which cloud region each published AWS, GCP and
 * Azure address range is used in, from the providers' own files.
 *
 *   node scripts/refresh-cloud-ranges.ts                 # download from the providers
 *   node scripts/refresh-cloud-ranges.ts --from DIR      # or read aws-ip-ranges.json, gcp-cloud.json,
 *                                                        # azure-service-tags-public.json from DIR
 *
 * Azure publishes its Service Tags file under a weekly-changing name behind a download page, so it
 * is downloaded only when AZURE_SERVICE_TAGS_URL names the current file; otherwise pass --from.
 * Only the region-wide ranges are kept (AWS service AMAZON, Azure AzureCloud.<region>, every GCP
 * prefix): the rest are subsets of those. The output says how old each source is; the detectors
 * quote that date in the findings that use it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export const OUT = new URL('../data/cloud-ranges/cloud-regions.json', import.meta.url);

const SOURCES = {
  aws: 'https://ip-ranges.amazonaws.com/ip-ranges.json',
  gcp: 'https://www.gstatic.com/ipranges/cloud.json',
  azure: process.env['AZURE_SERVICE_TAGS_URL'] ?? '',
} as const;

interface Aws {
  createDate: string;
  prefixes: Array<{ ip_prefix: string; region: string; service: string }>;
  ipv6_prefixes: Array<{ ipv6_prefix: string; region: string; service: string }>;
}
interface Gcp {
  creationTime: string;
  prefixes: Array<{ ipv4Prefix?: string; ipv6Prefix?: string; scope: string }>;
}
interface Azure {
  changeNumber: number;
  values: Array<{ name: string; properties: { region: string; addressPrefixes: string[] } }>;
}

async function load<T>(name: keyof typeof SOURCES, file: string, from: string | undefined): Promise<T> {
  if (from !== undefined) return JSON.parse(readFileSync(join(from, file), 'utf8')) as T;
  const url = SOURCES[name];
  if (url === '') throw new Error(`${name}: set AZURE_SERVICE_TAGS_URL to the current Service Tags file, or pass --from DIR`);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${name}: GET ${url} -> ${res.status}`);
  return (await res.json()) as T;
}

function add(out: Record<string, Set<string>>, region: string, cidr: string | undefined): void {
  if (cidr === undefined || cidr === '' || region === '') return;
  (out[region] ??= new Set()).add(cidr);
}

const sorted = (m: Record<string, Set<string>>): Record<string, string[]> =>
  Object.fromEntries(
    Object.keys(m)
      .sort()
      .map((k) => [k, [...(m[k] as Set<string>)].sort()]),
  );

export async function build(from?: string): Promise<Record<string, unknown>> {
  const aws = await load<Aws>('aws', 'aws-ip-ranges.json', from);
  const gcp = await load<Gcp>('gcp', 'gcp-cloud.json', from);
  const azure = await load<Azure>('azure', 'azure-service-tags-public.json', from);
  const a: Record<string, Set<string>> = {};
  for (const p of aws.prefixes) if (p.service === 'AMAZON') add(a, p.region, p.ip_prefix);
  for (const p of aws.ipv6_prefixes) if (p.service === 'AMAZON') add(a, p.region, p.ipv6_prefix);
  const g: Record<string, Set<string>> = {};
  for (const p of gcp.prefixes) {
    add(g, p.scope, p.ipv4Prefix);
    add(g, p.scope, p.ipv6Prefix);
  }
  const z: Record<string, Set<string>> = {};
  for (const v of azure.values) {
    if (!v.name.startsWith('AzureCloud.') || v.properties.region === '') continue;
    for (const cidr of v.properties.addressPrefixes) add(z, v.properties.region, cidr);
  }
  // "2026-08-22-15-17-05" -> "2026-08-22"
  const awsDate = aws.createDate.slice(0, 10);
  return {
    description: 'Cloud region of published AWS, GCP and Azure address ranges (scripts/refresh-cloud-ranges.ts). Region-wide ranges only.',
    sources: {
      aws: { url: SOURCES.aws, as_of: awsDate },
      gcp: { url: SOURCES.gcp, as_of: gcp.creationTime.slice(0, 10) },
      azure: { url: 'https://www.microsoft.com/en-us/download/details.aspx?id=56519', as_of: `changeNumber ${azure.changeNumber}` },
    },
    regions: { aws: sorted(a), gcp: sorted(g), azure: sorted(z) },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { from: { type: 'string' } } });
  const data = await build(values.from);
  writeFileSync(OUT, `${JSON.stringify(data)}\n`);
  const regions = data['regions'] as Record<string, Record<string, string[]>>;
  const count = Object.values(regions).reduce((n, r) => n + Object.values(r).reduce((m, l) => m + l.length, 0), 0);
  console.log(`wrote ${OUT.pathname}: ${count} ranges; sources ${JSON.stringify(data['sources'])}`);
}
