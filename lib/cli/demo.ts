import { lstatSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../config/load.ts';
import { LocalPipeline } from '../engine/pipeline.ts';
import { loadRules } from '../engine/rules.ts';
import { NdjsonWriter } from '../engine/ndjson-writer.ts';
import type { Sink } from '../engine/stages.ts';
import type { OcsfEvent } from '../ocsf/types.ts';
import { SqliteState } from '../state/sqlite.ts';
import { createDetectStage } from '../detections/stage.ts';
import { createContainStage } from '../containment/stage.ts';
import { DEMO_CONFIG, DAY, ORG_SLUG, scenarios } from '../demo/scenario.ts';
import { htmlReport, textReport } from '../demo/report.ts';
import { DEFAULT_API_URL, DEFAULT_GRAPHQL_URL } from '../buildkite/client.ts';
import type { Command, Io } from './command.ts';

export const DEMO_USAGE = `Usage: kitewatch demo [--dir DIR]

Generates a realistic day of a Buildkite organization (autoscaling agents, builds and jobs, IaC
edits, routine secret reads, after eight quiet days of history) with an attack woven into it: a
leaked agent token used from a foreign network, a token spike, a manual pipeline edit, a secret
sweep and the EventBridge notification service being disabled. Runs the whole local pipeline
(normalize, detect, contain in dry-run), prints a short report and writes:

  DIR/events.ndjson        every OCSF event emitted (events, findings, remediation activities)
  DIR/quarantine.ndjson    rejected inputs with their reason (none expected)
  DIR/report.html          a self-contained HTML report with a timeline chart

Options:
  --dir DIR   where to write (default .kitewatch/demo): a new or empty folder, or the folder of a
              previous demo, whose files are replaced. Any other folder is refused.
  -h, --help  this text`;

/** Marks a folder as the demo's own, so a later run may replace its files and nothing else. */
const MARKER = '.kitewatch-demo';
const DEFAULT_DIR = '.kitewatch/demo';
/** Everything a demo run writes (SQLite adds its -wal and -shm files beside state.db). */
const DEMO_FILES = new Set([MARKER, 'events.ndjson', 'quarantine.ndjson', 'report.html', 'state.db', 'state.db-wal', 'state.db-shm']);

/**
 * Makes DIR ready for a fresh run and answers why not when it cannot. A tool must never delete what
 * it did not create: a folder is reused only when it is empty or holds nothing but a previous demo's
 * files, and only those files are removed (a fresh state store each run: the demo tells the same
 * story every time).
 */
export function prepareDemoDir(dir: string): string | undefined {
  let stat;
  try {
    stat = statSync(dir, { throwIfNoEntry: false });
  } catch (error) {
    return `cannot use --dir ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  }
  if (stat !== undefined && !stat.isDirectory()) {
    return `--dir ${dir} is a file, not a folder; name a new folder (kitewatch demo --dir NEW_FOLDER)`;
  }
  if (stat !== undefined) {
    const entries = readdirSync(dir);
    const foreign = entries.filter((e) => !DEMO_FILES.has(e));
    // The default folder lives in Kitewatch's own .kitewatch/, where only the demo writes these names.
    const ours = entries.includes(MARKER) || resolve(dir) === resolve(DEFAULT_DIR);
    if (foreign.length > 0 || (entries.length > 0 && !ours)) {
      const shown = (foreign.length > 0 ? foreign : entries).slice(0, 5).join(', ');
      return `--dir ${dir} already holds files the demo did not write (${shown}${entries.length > 5 ? ', ...' : ''}); nothing was changed. Name a new or empty folder (kitewatch demo --dir NEW_FOLDER)`;
    }
    for (const e of entries) {
      if (lstatSync(join(dir, e)).isDirectory()) return `--dir ${dir}: ${e} is a folder, not a file the demo wrote; nothing was changed`;
    }
    for (const e of entries) rmSync(join(dir, e), { force: true });
  }
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, MARKER), 'Written by `kitewatch demo`: the next run replaces the files of this folder.\n');
  } catch (error) {
    return `cannot create --dir ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  }
  return undefined;
}

/** Collects every emitted event for the report while writing NDJSON. */
class RecordingSink implements Sink {
  readonly name = 'demo';
  readonly events: OcsfEvent[] = [];
  readonly #writer: NdjsonWriter;
  constructor(path: string) {
    this.#writer = NdjsonWriter.toFile(path, 'w');
  }
  async write(event: OcsfEvent): Promise<void> {
    this.events.push(event);
    await this.#writer.write(event);
  }
  async close() {
    await this.#writer.close();
    return { delivered: this.events.length, spilled: 0 };
  }
}

export async function runDemo(argv: readonly string[], io: Io): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: { dir: { type: 'string', default: '.kitewatch/demo' }, help: { type: 'boolean', short: 'h', default: false } },
    }).values;
  } catch (error) {
    io.err(`kitewatch demo: ${(error as Error).message}`);
    return 2;
  }
  if (values.help) {
    io.out(DEMO_USAGE);
    return 0;
  }
  const dir = values.dir;
  const refused = prepareDemoDir(dir);
  if (refused !== undefined) {
    io.err(`kitewatch demo: ${refused}`);
    return 2;
  }
  const config = parseConfig(DEMO_CONFIG, 'demo config');
  const state = new SqliteState({ path: join(dir, 'state.db') });
  const sink = new RecordingSink(join(dir, 'events.ndjson'));
  const quarantine = NdjsonWriter.toFile(join(dir, 'quarantine.ndjson'), 'w');
  const pipeline = new LocalPipeline({
    rules: loadRules(),
    sinks: [sink],
    detect: createDetectStage(config, state),
    contain: createContainStage({ config, containment: 'dry-run', buildkiteApiUrl: DEFAULT_API_URL, buildkiteGraphqlUrl: DEFAULT_GRAPHQL_URL }, state, { log: (line) => io.err(`kitewatch: ${line}`) }),
    validate: true,
    quarantine: async (record) => quarantine.write(record),
  });
  const envelopes = scenarios().attack;
  for (const [i, envelope] of envelopes.entries()) {
    const text = JSON.stringify(envelope);
    await pipeline.process({ kind: 'json', origin: `demo:${i + 1}`, value: JSON.parse(text), sizeBytes: Buffer.byteLength(text) });
  }
  await pipeline.finish();
  await quarantine.close();
  await state.close();
  const run = { counts: pipeline.counts, events: sink.events, orgSlug: ORG_SLUG, day: DAY };
  writeFileSync(join(dir, 'report.html'), htmlReport(run));
  io.out(textReport(run));
  io.out('');
  io.out(`Wrote ${join(dir, 'events.ndjson')} (OCSF NDJSON) and ${join(dir, 'report.html')} (open it in a browser).`);
  io.out('Next: `npx kitewatch replay <your EventBridge exports>`, `npx kitewatch detections list`, README "Deploy".');
  io.err(
    `events=${pipeline.counts.events} normalized=${pipeline.counts.normalized} quarantined=${pipeline.counts.quarantined} findings=${pipeline.counts.findings} actions=${pipeline.counts.actions}`,
  );
  return 0;
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'a day of a Buildkite org with an attack in it, through the whole local pipeline',
  run: runDemo,
};
