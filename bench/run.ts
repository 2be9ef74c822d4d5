// `npm run bench`: figures, not tests. Prints a table and writes bench/results/bench.json.
// Everything runs in one process on one core (plus child processes for cold starts and RSS),
// on the same machine, in one run, so the ratios compare like with like.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { generateNdjson } from './generate.ts';
import { LocalPipeline } from '../lib/engine/pipeline.ts';
import { loadRules } from '../lib/engine/rules.ts';
import type { ContainStage, DetectStage, Sink } from '../lib/engine/stages.ts';
import type { OcsfEvent } from '../lib/ocsf/types.ts';
import { parseConfig } from '../lib/config/load.ts';
import { benchStages } from './stages.ts';
import { breakdown } from './breakdown.ts';
import { defaultIpEnricher, IpLocationDb } from '../lib/enrich/ip.ts';
import { runMonth } from '../lib/detections/month-run.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const RESULTS = join(ROOT, 'bench', 'results');
const { values: flags } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    'rss-events': { type: 'string', default: '1000000' },
    quick: { type: 'boolean', default: false },
    /** Only the throughput figures (the part that changes with the mapping). */
    'throughput-only': { type: 'boolean', default: false },
  },
});
const EVENTS = flags.quick ? 20_000 : Number(flags.events);
const RSS_EVENTS = flags.quick ? 100_000 : Number(flags['rss-events']);
const ROUNDS = flags.quick ? 1 : 3;

interface Row {
  metric: string;
  value: number;
  unit: string;
  target?: string;
  met?: boolean;
  note?: string;
}
const rows: Row[] = [];
function record(row: Row): void {
  rows.push(row);
  const target = row.target ? `  target ${row.target} ${row.met === undefined ? '' : row.met ? '(met)' : '(NOT met)'}` : '';
  process.stderr.write(`  ${row.metric}: ${row.value.toLocaleString('en-US', { maximumFractionDigits: 2 })} ${row.unit}${target}${row.note ? `  [${row.note}]` : ''}\n`);
}

/** A sink that serializes like the real one but keeps nothing, so output cost is counted. */
class CountingSink implements Sink {
  readonly name = 'bench';
  bytes = 0;
  count = 0;
  // Synchronous, as the NDJSON file sink is when its buffer is not full.
  write(event: OcsfEvent): void {
    this.bytes += JSON.stringify(event).length + 1;
    this.count++;
  }
  async close() {
    return { delivered: this.count, spilled: 0 };
  }
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

interface Run {
  readonly rate: number;
  /** Bytes of OCSF NDJSON written per byte of input read (findings and activities included). */
  readonly outPerIn: number;
}

async function runPipeline(lines: string[], stages: { detect?: DetectStage; contain?: ContainStage }, latencies?: number[]): Promise<Run> {
  const sink = new CountingSink();
  const pipeline = new LocalPipeline({
    rules: loadRules(),
    sinks: [sink],
    quarantine: async () => {},
    ...stages,
    ...(latencies
      ? {
          onEmit: (e: OcsfEvent, started: number) => {
            if (e.class_uid === 2004) latencies.push(performance.now() - started);
          },
        }
      : {}),
  });
  const t0 = performance.now();
  let inBytes = 0;
  for (const line of lines) {
    await pipeline.process({ kind: 'json', origin: 'bench', value: JSON.parse(line), sizeBytes: line.length });
    inBytes += line.length + 1;
  }
  await pipeline.finish();
  const seconds = (performance.now() - t0) / 1000;
  if (pipeline.counts.normalized !== lines.length) throw new Error(`bench input did not all normalize: ${JSON.stringify(pipeline.counts)}`);
  return { rate: lines.length / seconds, outPerIn: sink.bytes / inBytes };
}

async function throughput(): Promise<void> {
  const file = join(tmpdir(), `kitewatch-bench-${EVENTS}.ndjson`);
  if (!existsSync(file)) await generateNdjson(file, EVENTS);
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  process.stderr.write(`throughput on ${lines.length.toLocaleString()} events (${(statSync(file).size / 1e6).toFixed(1)} MB), one core:\n`);
  const config = parseConfig({});
  // Warm up the JIT on every path before measuring.
  const warm = await benchStages(config, 'full');
  await runPipeline(lines.slice(0, 5000), warm.stages);
  await warm.close();

  // Rounds interleave the floor and the three configurations, and each figure is the median of its
  // rounds: a burst of load on the machine then hits one sample of each, not one metric.
  const floorRates: number[] = [];
  const rates = { normalize: [] as number[], detect: [] as number[], full: [] as number[] };
  const outPerIn = { normalize: 0, detect: 0, full: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = performance.now();
    let sink = 0;
    for (const line of lines) sink += JSON.stringify(JSON.parse(line)).length;
    floorRates.push(lines.length / ((performance.now() - t0) / 1000));
    if (sink === 0) throw new Error('unreachable');
    const n = await runPipeline(lines, {});
    rates.normalize.push(n.rate);
    outPerIn.normalize = n.outPerIn;
    const withDetect = await benchStages(config, 'detect');
    const d = await runPipeline(lines, withDetect.stages);
    rates.detect.push(d.rate);
    outPerIn.detect = d.outPerIn;
    await withDetect.close();
    const full = await benchStages(config, 'full');
    const f = await runPipeline(lines, full.stages);
    rates.full.push(f.rate);
    outPerIn.full = f.outPerIn;
    await full.close();
  }
  const floor = median(floorRates);
  const spread = (xs: number[]) => `${ROUNDS} rounds, ${Math.round(Math.min(...xs)).toLocaleString('en-US')}-${Math.round(Math.max(...xs)).toLocaleString('en-US')}`;
  record({ metric: 'floor: JSON.parse + JSON.stringify', value: floor, unit: 'events/s', note: spread(floorRates) });
  const normalize = median(rates.normalize);
  record({
    metric: 'normalize only',
    value: normalize,
    unit: 'events/s',
    note: `${(floor / normalize).toFixed(2)}x floor; ${outPerIn.normalize.toFixed(2)} output bytes per input byte; ${spread(rates.normalize)}`,
  });
  const detect = median(rates.detect);
  record({
    metric: 'normalize + detect',
    value: detect,
    unit: 'events/s',
    note: `${(floor / detect).toFixed(2)}x floor; ${outPerIn.detect.toFixed(2)} output bytes per input byte; ${spread(rates.detect)}`,
  });
  const fullRate = median(rates.full);
  const ratio = floor / fullRate;
  record({
    metric: 'full pipeline (dry-run)',
    value: fullRate,
    unit: 'events/s',
    target: 'within 3x of floor',
    met: ratio <= 3,
    note: `${ratio.toFixed(2)}x floor; ${outPerIn.full.toFixed(2)} output bytes per input byte; ${spread(rates.full)}`,
  });
  record({ metric: 'output bytes per input byte, full pipeline', value: outPerIn.full, unit: 'bytes/byte', note: 'OCSF NDJSON out over Buildkite JSON in, findings and activities included' });

  record({ metric: 'one-time: loading the IPv4 enrichment tables', value: defaultIpEnricher().loadMs, unit: 'ms', note: 'once per process, before the timed runs' });

  // What no pipeline with this output can avoid, in the floor's units.
  const floorUs = 1e6 / floor;
  const b = breakdown(lines);
  record({ metric: 'of which: JSON.parse of the input', value: b.parseUs / floorUs, unit: 'x floor', note: `${b.parseUs.toFixed(2)} µs/event` });
  record({
    metric: 'of which: JSON.stringify of the OCSF output',
    value: b.serializeOutputUs / floorUs,
    unit: 'x floor',
    note: `${b.serializeOutputUs.toFixed(2)} µs/event; the output is ${b.outputToInput.toFixed(2)}x the input's bytes`,
  });
  record({ metric: 'of which: normalization (validation + mapping)', value: b.normalizeUs / floorUs, unit: 'x floor', note: `${b.normalizeUs.toFixed(2)} µs/event` });

  const attack = await benchStages(config, 'full');
  const attackLines = readFileSync(join(ROOT, 'test/fixtures/scenarios/attack.ndjson'), 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  const lat: number[] = [];
  await runPipeline(attackLines, attack.stages, lat);
  await attack.close();
  lat.sort((a, b) => a - b);
  record({ metric: 'latency input -> finding p50', value: percentile(lat, 50) * 1000, unit: 'µs', note: `${lat.length} findings (attack scenario)` });
  record({ metric: 'latency input -> finding p99', value: percentile(lat, 99) * 1000, unit: 'µs' });
}

/** What a deployed function finds in its environment (the handlers validate it at cold start). */
const LAMBDA_ENV: NodeJS.ProcessEnv = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  KITEWATCH_EVENT_BUS_NAME: 'kitewatch',
  KITEWATCH_STATE_TABLE: 'kitewatch-state',
  KITEWATCH_QUARANTINE_BUCKET: 'kitewatch-quarantine',
  KITEWATCH_DETECTORS_CONFIG: '{}',
  KITEWATCH_CONTAINMENT_CONFIG: '{}',
  KITEWATCH_FORWARD_ROUTES: '{}',
  KITEWATCH_IP_DATA_DIR: join(ROOT, 'node_modules', '@ip-location-db'),
  KITEWATCH_SECURITYHUB_ACCOUNT_ID: '123456789012',
  KITEWATCH_LAKE_ACCOUNT_ID: '123456789012',
  BUILDKITE_API_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:buildkite-api-token-AbCdEf',
  KITEWATCH_BUILDKITE_ORG: 'acme-inc',
  KITEWATCH_INGEST_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/kitewatch-ingest',
  KITEWATCH_BACKFILL_SEED_DAYS: '7',
  KITEWATCH_SILENCE_MINUTES: '60',
  KITEWATCH_SILENCE_ALARM_NAME: 'kitewatch-silence',
  POWERTOOLS_SERVICE_NAME: 'kitewatch',
  POWERTOOLS_METRICS_NAMESPACE: 'Kitewatch',
};

function nodeInit(script: string): number {
  // Median of several fresh processes; each prints its own import time so process spawn is excluded.
  const samples: number[] = [];
  for (let i = 0; i < 7; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env['PATH'], ...LAMBDA_ENV } });
    if (r.status !== 0) throw new Error(`init probe failed: ${r.stderr}`);
    samples.push(Number(r.stdout.trim()));
  }
  samples.sort((a, b) => a - b);
  return samples[3] as number;
}

/** AWS SDK packages a bundle imports: statically (evaluated at init) or only through import() (on first use). */
function sdkImports(code: string): { eager: string[]; lazy: string[] } {
  const names = (re: RegExp): string[] => [...new Set([...code.matchAll(re)].map((m) => m[1] as string))].sort();
  // Minified: `import{X as y}from"@aws-sdk/..."` or `import"@aws-sdk/..."`; `import("@aws-sdk/...")` is lazy.
  const eager = names(/(?:from|import)\s*"(@aws-sdk\/[a-z0-9-]+)"/g);
  const lazy = names(/import\(\s*"(@aws-sdk\/[a-z0-9-]+)"\s*\)/g).filter((m) => !eager.includes(m));
  return { eager, lazy };
}

const short = (packages: readonly string[]): string => packages.map((m) => m.replace('@aws-sdk/client-', '')).join('+');
const importAll = (packages: readonly string[]): string => packages.map((m) => `await import(${JSON.stringify(m)});`).join(' ');

async function bundles(): Promise<void> {
  const out = join(RESULTS, 'bundles');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const handlers = readdirSync(join(ROOT, 'lambdas'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('handler.ts'))
    .sort();
  process.stderr.write(`Lambda bundles (esbuild, minified ESM, @aws-sdk/* external as on the nodejs24.x runtime):\n`);
  const empty = join(out, 'empty.mjs');
  writeFileSync(empty, 'export const handler = async () => ({});\n');
  const probe = (file: string) => `const t=performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now()-t)`;
  const baseline = nodeInit(probe(empty));
  record({ metric: 'cold init baseline (empty module)', value: baseline, unit: 'ms' });
  for (const h of handlers) {
    const name = h.replace(/\/handler\.ts$/, '').replaceAll('/', '-');
    const outfile = join(out, `${name}.mjs`);
    await build({
      entryPoints: [join(ROOT, 'lambdas', h)],
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node24',
      format: 'esm',
      outfile,
      external: ['@aws-sdk/*'],
      mainFields: ['module', 'main'],
      banner: { js: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" },
      logLevel: 'silent',
    });
    const kb = statSync(outfile).size / 1024;
    record({ metric: `bundle ${name}`, value: kb, unit: 'KB', target: '< 250 KB', met: kb < 250 });
    const init = nodeInit(probe(outfile)) - baseline;
    // The AWS SDK stays external (the runtime ships it) but what the bundle imports statically is
    // still evaluated at init: measure it apart, and measure our code with those packages already
    // loaded, so the figure says how much is ours.
    const { eager, lazy } = sdkImports(readFileSync(outfile, 'utf8'));
    const sdkInit = eager.length === 0 ? 0 : nodeInit(`const t=performance.now(); ${importAll(eager)} console.log(performance.now()-t)`) - baseline;
    const ours = eager.length === 0 ? init : nodeInit(`${importAll(eager)} const t=performance.now(); await import(${JSON.stringify(outfile)}); console.log(performance.now()-t)`) - baseline;
    const notes = [eager.length === 0 ? 'no AWS SDK client at init' : `of which AWS SDK ${short(eager)}: ${sdkInit.toFixed(0)} ms; Kitewatch code ${ours.toFixed(0)} ms`];
    if (lazy.length > 0) {
      // Not in the init figure: the packages only import() reaches, paid by the first request on a
      // path that needs them. Measured in the same fresh process right after init (what that request
      // pays), and alone over the baseline (what they cost without the eager packages' shared core).
      // Upper bound: every package the bundle can reach, though one path may need only one of them.
      const firstUse = nodeInit(`await import(${JSON.stringify(outfile)}); const t=performance.now(); ${importAll(lazy)} console.log(performance.now()-t)`);
      const alone = nodeInit(`const t=performance.now(); ${importAll(lazy)} console.log(performance.now()-t)`) - baseline;
      notes.push(`lazy on first use: ${short(lazy)} +${firstUse.toFixed(0)} ms after init (${alone.toFixed(0)} ms alone over baseline)`);
    }
    record({ metric: `cold init ${name} (over baseline)`, value: init, unit: 'ms', target: '< 100 ms', met: init < 100, note: notes.join('; ') });
  }
}

async function writesPerEvent(): Promise<void> {
  const { measureSpikeWrites } = await import('../lib/detections/bench.ts');
  const r = await measureSpikeWrites();
  record({
    metric: 'state writes per event, 10,000-event spike on one token',
    value: r.writesPerEvent,
    unit: 'writes/event',
    target: '< 0.05',
    met: r.writesPerEvent < 0.05,
    note: `${r.writes} writes, batch ${r.batchSize}`,
  });
}

function rss(): void {
  const file = join(tmpdir(), `kitewatch-bench-${RSS_EVENTS}.ndjson`);
  const small = join(tmpdir(), `kitewatch-bench-${RSS_EVENTS / 10}.ndjson`);
  const gen = (f: string, n: number) => {
    if (!existsSync(f)) {
      const r = spawnSync(process.execPath, [join(ROOT, 'bench/generate.ts'), f, String(n)], { stdio: 'inherit' });
      if (r.status !== 0) throw new Error('generation failed');
    }
  };
  gen(small, RSS_EVENTS / 10);
  gen(file, RSS_EVENTS);
  const measure = (f: string): { kb: number; seconds: number; summary: string } => {
    const dir = join(tmpdir(), `kitewatch-bench-state-${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    const t0 = performance.now();
    const r = spawnSync(
      '/usr/bin/time',
      ['-f', '%M', process.execPath, join(ROOT, 'bin/kitewatch.ts'), 'replay', f, '--out', '/dev/null', '--state', join(dir, 's.db'), '--quarantine', join(dir, 'q.ndjson')],
      { encoding: 'utf8', maxBuffer: 1 << 26 },
    );
    const seconds = (performance.now() - t0) / 1000;
    const lines = r.stderr.trim().split('\n');
    return { kb: Number(lines[lines.length - 1]), seconds, summary: lines.find((l) => l.startsWith('events=')) ?? r.stderr };
  };
  process.stderr.write(`memory (kitewatch replay, full pipeline, dry-run, --out /dev/null):\n`);
  const a = measure(small);
  record({ metric: `peak RSS replaying ${(RSS_EVENTS / 10).toLocaleString()} events`, value: a.kb / 1024, unit: 'MB', note: `${a.seconds.toFixed(1)} s; ${a.summary}` });
  const b = measure(file);
  record({
    metric: `peak RSS replaying ${RSS_EVENTS.toLocaleString()} events`,
    value: b.kb / 1024,
    unit: 'MB',
    target: 'flat',
    met: b.kb < a.kb * 1.5,
    note: `${b.seconds.toFixed(1)} s (${Math.round(RSS_EVENTS / b.seconds).toLocaleString()} events/s end to end); ${b.summary}`,
  });
}

/**
 * Precision and recall on a realistic month of a larger organization (lib/detections/month.ts):
 * findings per 10,000 benign events, and planted attacks found. Plus the IP data's cost.
 */
async function precision(): Promise<void> {
  process.stderr.write('Detection precision and recall (a generated month of a larger org, after a 14-day warm-up):\n');
  const benign = await runMonth({ attacks: false });
  record({
    metric: 'benign month: findings per 10,000 events',
    value: (benign.findings.length / benign.monthEvents) * 10_000,
    unit: 'findings',
    target: '0',
    met: benign.findings.length === 0,
    note: `${benign.findings.length} findings in ${benign.monthEvents.toLocaleString()} events; ${benign.warmupFindings.length} in the warm-up (first sightings of the morning scale-out); ${(benign.ms / 1000).toFixed(1)} s`,
  });
  const attacked = await runMonth({ attacks: true });
  const found = attacked.attacks.filter((a) => a.found !== undefined).length;
  record({
    metric: 'attacks found of attacks planted',
    value: found,
    unit: `of ${attacked.attacks.length}`,
    target: `${attacked.attacks.length}`,
    met: found === attacked.attacks.length,
    note: `missed: ${
      attacked.attacks
        .filter((a) => a.found === undefined)
        .map((a) => a.attack.name)
        .join(', ') || 'none'
    }; ${attacked.findings.length} findings and ${attacked.updates} updates in the attacked month`,
  });
  const db = new IpLocationDb();
  const m0 = process.memoryUsage().rss;
  db.preload();
  record({
    metric: 'IP data load (ASN + geo country IPv4, cloud ranges)',
    value: db.loadMs,
    unit: 'ms',
    note: `RSS +${((process.memoryUsage().rss - m0) / 2 ** 20).toFixed(0)} MB; cloud ranges as of ${Object.entries(db.cloudRegions.asOf)
      .map(([p, d]) => `${p} ${d}`)
      .join(', ')}`,
  });
}

mkdirSync(RESULTS, { recursive: true });
process.stderr.write(`kitewatch bench: node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB\n`);
await throughput();
if (!flags['throughput-only']) {
  await writesPerEvent();
  await precision();
  await bundles();
  rss();
}
const result = { date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, events: EVENTS, rows };
writeFileSync(join(RESULTS, 'bench.json'), `${JSON.stringify(result, null, 2)}\n`);
const table = [
  '| metric | value | unit | target |',
  '|---|---:|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.metric}${r.note ? ` (${r.note})` : ''} | ${r.value.toLocaleString('en-US', { maximumFractionDigits: 2 })} | ${r.unit} | ${r.target ? `${r.target}${r.met === undefined ? '' : r.met ? ' ✓' : ' ✗'}` : ''} |`,
  ),
];
process.stdout.write(`${table.join('\n')}\n`);
process.stderr.write(`wrote bench/results/bench.json\n`);
