import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';

const SAMPLES = new URL('../test/fixtures/buildkite/eventbridge/', import.meta.url).pathname;

/** The Buildkite samples that normalize (the docs' build-blocked example has an elided source). */
function templates(): Record<string, unknown>[] {
  return readdirSync(SAMPLES)
    .filter((f) => f.endsWith('.json') && f !== 'build-blocked.json')
    .sort()
    .map((f) => JSON.parse(readFileSync(join(SAMPLES, f), 'utf8')) as Record<string, unknown>);
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0').slice(-width);
}

/**
 * Writes `count` distinct EventBridge envelopes as NDJSON, cycling through the real samples
 * with unique ids, uuids and advancing times (deterministic: same count, same bytes).
 */
export async function generateNdjson(path: string, count: number): Promise<number> {
  const base = templates();
  const out = createWriteStream(path, { encoding: 'utf8' });
  const start = Date.UTC(2026, 10, 23, 0, 0, 0);
  let bytes = 0;
  let chunk: string[] = [];
  for (let i = 0; i < count; i++) {
    const t = base[i % base.length] as Record<string, unknown>;
    const e = structuredClone(t);
    e['id'] = `${hex(i, 8)}-0000-4000-8000-${hex(i * 7919, 12)}`;
    e['time'] = new Date(start + i * 50).toISOString().replace('.000Z', 'Z');
    const detail = e['detail'] as Record<string, Record<string, unknown>>;
    if (detail['event'] !== undefined) {
      detail['event']['uuid'] = `${hex(i, 8)}-aaaa-4000-8000-${hex(i, 12)}`;
      detail['event']['occurred_at'] = new Date(start + i * 50)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC');
    }
    if (detail['agent'] !== undefined) detail['agent']['ip_address'] = `3.${80 + (i % 16)}.${(i >> 8) & 255}.${i & 255}`;
    const line = `${JSON.stringify(e)}\n`;
    bytes += Buffer.byteLength(line);
    chunk.push(line);
    if (chunk.length >= 1000) {
      if (!out.write(chunk.join(''))) await once(out, 'drain');
      chunk = [];
    }
  }
  out.write(chunk.join(''));
  out.end();
  await once(out, 'finish');
  return bytes;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, count] = process.argv.slice(2);
  if (path === undefined) {
    process.stderr.write('usage: node bench/generate.ts OUT.ndjson [COUNT]\n');
    process.exit(2);
  }
  const bytes = await generateNdjson(path, Number(count ?? 100_000));
  process.stderr.write(`wrote ${count ?? 100_000} events (${bytes} bytes) to ${path}\n`);
}
