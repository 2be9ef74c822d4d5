import { parseArgs } from 'node:util';
import { DEFAULT_API_URL, DEFAULT_GRAPHQL_URL } from '../buildkite/client.ts';
import { TOKEN_ENV } from '../buildkite/token.ts';
import { ConfigError, loadConfig } from '../config/load.ts';
import type { KitewatchConfig } from '../config/schema.ts';
import { MAX_JSON_DEPTH } from '../contracts/limits.ts';
import { expandPaths, readInputs, UsageError, type InputItem } from '../engine/input.ts';
import { DEFAULT_MAX_LINE_BYTES, OVERLONG_PREFIX_BYTES } from '../engine/lines.ts';
import { QUARANTINE_KEPT_BYTES, QUARANTINE_MAX_INPUT_BYTES, QUARANTINE_MAX_REASON_CHARS } from '../engine/quarantine.ts';
import { NdjsonSink } from '../engine/local-sinks.ts';
import { NdjsonWriter } from '../engine/ndjson-writer.ts';
import { LocalPipeline, summaryLine } from '../engine/pipeline.ts';
import { loadRules } from '../engine/rules.ts';
import type { ContainStage, DetectStage, Sink } from '../engine/stages.ts';
import type { StatePort } from '../state/port.ts';
import { Progress } from './progress.ts';
import type { Command, Io } from './command.ts';

export const REPLAY_USAGE = `Usage: kitewatch replay [PATH...] [options]

Runs the Kitewatch pipeline locally: normalize to OCSF 1.8, detect, contain (dry-run by default).
PATH is a file or a directory (every .json, .ndjson, .jsonl file in it, recursively, sorted by
path); none or "-" reads stdin. Output is OCSF NDJSON, one event per line.

Options:
  --out FILE              write OCSF NDJSON to FILE instead of stdout
  --quarantine FILE       rejected inputs with their reason (default .kitewatch/quarantine.ndjson)
  --state PATH            embedded state store (default .kitewatch/state.db); the next run continues
                          from it, so input replayed again raises no finding twice
  --fresh                 empty the state store first: detectors forget baselines, windows and findings
  --config FILE           Kitewatch config (default kitewatch.config.json when present)
  --containment MODE      off | dry-run | enforce (default: config's off or dry-run, else dry-run;
                          replays act only with an explicit --containment enforce, which acts
                          through the Buildkite API and needs ${TOKEN_ENV})
  --buildkite-api-url URL       REST API base (default ${DEFAULT_API_URL})
  --buildkite-graphql-url URL   GraphQL endpoint (default ${DEFAULT_GRAPHQL_URL})
  --sink SPEC             where OCSF events go, repeatable (default stdout): stdout, file:PATH,
                          splunk-hec:URL (token from SPLUNK_HEC_TOKEN), http:URL (see kitewatch
                          resend --help); replaces --out
  --spill PATH            where a remote sink writes the events it could not deliver (default: a new
                          file under .kitewatch/spill/)
  --validate              check every emitted event against the OCSF JSON Schemas; an input
                          that normalizes to an invalid event is quarantined, never an abort
  --max-line-bytes N      longest NDJSON line (default ${DEFAULT_MAX_LINE_BYTES}); a longer line is quarantined
                          with its size, sha256 and first ${OVERLONG_PREFIX_BYTES} bytes, never read whole
  -h, --help              show this help

NDJSON lines end at \\n only (a trailing \\r is dropped); a UTF-8 byte order mark is ignored.
Input nested deeper than ${MAX_JSON_DEPTH} levels is quarantined. A quarantine record keeps the reason (at
most ${QUARANTINE_MAX_REASON_CHARS} characters) and the input whole up to ${QUARANTINE_MAX_INPUT_BYTES} bytes, else its first ${QUARANTINE_KEPT_BYTES} bytes
with the full size and sha256 under "truncated".

A summary goes to stderr at the end:
  events=N normalized=N quarantined=N findings=N actions=N   (and delivered=N spilled=N with a remote sink)
Exit codes: 0 all input read (quarantine is not failure), 1 events could not be delivered, 2 usage error.`;

export interface ReplayOptions {
  readonly paths: string[];
  readonly out?: string;
  readonly quarantine: string;
  readonly state: string;
  readonly config: KitewatchConfig;
  readonly containment: 'off' | 'dry-run' | 'enforce';
  readonly buildkiteApiUrl: string;
  readonly buildkiteGraphqlUrl: string;
  readonly validate: boolean;
  /** @default DEFAULT_MAX_LINE_BYTES */
  readonly maxLineBytes?: number;
  readonly sinks: string[];
  readonly spill?: string;
  /** Set when the config says enforce but no --containment flag was given: replayed as dry-run. */
  readonly enforceNotGiven?: boolean;
  /** Empty the state store before the run. */
  readonly fresh?: boolean;
}

/**
 * A replay re-reads old input: acting on it again (tokens revoked, agents stopped) needs an
 * explicit --containment enforce, whatever the config says for the live pipeline.
 */
function replayMode(config: KitewatchConfig): 'off' | 'dry-run' {
  return config.containment.mode === 'off' ? 'off' : 'dry-run';
}

export function parseReplayArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ReplayOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        out: { type: 'string' },
        quarantine: { type: 'string', default: '.kitewatch/quarantine.ndjson' },
        state: { type: 'string', default: '.kitewatch/state.db' },
        config: { type: 'string' },
        containment: { type: 'string' },
        'buildkite-api-url': { type: 'string', default: DEFAULT_API_URL },
        'buildkite-graphql-url': { type: 'string', default: DEFAULT_GRAPHQL_URL },
        sink: { type: 'string', multiple: true },
        spill: { type: 'string' },
        validate: { type: 'boolean', default: false },
        'max-line-bytes': { type: 'string' },
        fresh: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const config = loadConfig(v.config);
  const mode = v.containment ?? replayMode(config);
  if (mode !== 'off' && mode !== 'dry-run' && mode !== 'enforce') {
    throw new UsageError(`--containment must be off, dry-run or enforce (got "${mode}")`);
  }
  if (mode === 'enforce' && (env[TOKEN_ENV]?.trim() ?? '') === '') {
    // Starting would only report every action failed: refuse, and say what is needed.
    throw new UsageError(`--containment enforce acts through the Buildkite API and needs ${TOKEN_ENV}; set it, or run with --containment dry-run`);
  }
  for (const [flag, url] of [
    ['--buildkite-api-url', v['buildkite-api-url']],
    ['--buildkite-graphql-url', v['buildkite-graphql-url']],
  ] as const) {
    if (!URL.canParse(url)) throw new UsageError(`${flag} is not a URL: ${url}`);
  }
  const maxLine = v['max-line-bytes'];
  if (maxLine !== undefined && !(/^[1-9]\d*$/.test(maxLine) && Number.isSafeInteger(Number(maxLine)))) {
    throw new UsageError(`--max-line-bytes must be a positive whole number of bytes (got "${maxLine}")`);
  }
  const paths = expandPaths(parsed.positionals);
  return {
    paths,
    ...(v.out !== undefined ? { out: v.out } : {}),
    quarantine: v.quarantine,
    state: v.state,
    config,
    containment: mode,
    buildkiteApiUrl: v['buildkite-api-url'],
    buildkiteGraphqlUrl: v['buildkite-graphql-url'],
    validate: v.validate,
    ...(maxLine !== undefined ? { maxLineBytes: Number(maxLine) } : {}),
    sinks: v.sink ?? [],
    ...(v.spill !== undefined ? { spill: v.spill } : {}),
    ...(v.containment === undefined && config.containment.mode === 'enforce' ? { enforceNotGiven: true } : {}),
    fresh: v.fresh,
  };
}

/** The stages replay runs, injected: lib/cli/commands.ts wires the real ones, tests their own. */
export interface ReplayPlugins {
  /** `savedItems`: how much the store held when opened, so the run can say it continued from it. */
  createState?(path: string, options: { fresh: boolean }): Promise<StatePort & { readonly savedItems?: number }>;
  createDetect?(config: KitewatchConfig, state: StatePort): DetectStage;
  createContain?(opts: ReplayOptions, state: StatePort): ContainStage;
  createSink?(spec: string, opts: ReplayOptions): Sink | undefined;
}

export function createReplayCommand(plugins: ReplayPlugins): Command {
  return {
    name: 'replay [PATH...] [options]',
    summary: 'run the pipeline locally on EventBridge envelopes',
    run: (argv, io) => runReplay(argv, io, plugins),
  };
}

/** What runReplay reads from the process; injected by tests. */
export interface ReplayEnvironment {
  readonly env: NodeJS.ProcessEnv;
  readonly stdinIsTTY: boolean;
}

export async function runReplay(
  argv: readonly string[],
  io: Io,
  plugins: ReplayPlugins = {},
  environment: ReplayEnvironment = { env: process.env, stdinIsTTY: process.stdin.isTTY === true },
): Promise<number> {
  let opts: ReplayOptions | 'help';
  try {
    opts = parseReplayArgs(argv, environment.env);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      io.err(`kitewatch replay: ${error.message}\n(see kitewatch replay --help)`);
      return 2;
    }
    throw error;
  }
  if (opts === 'help') {
    io.out(REPLAY_USAGE);
    return 0;
  }
  if (opts.enforceNotGiven === true) {
    io.err('kitewatch replay: containment.mode is "enforce" in the config; a replay runs dry-run unless --containment enforce is given');
  }
  if (opts.paths.includes('-') && environment.stdinIsTTY) {
    io.err('kitewatch replay: reading EventBridge envelopes from stdin; end with Ctrl-D (or name files: kitewatch replay --help)');
  }
  return replay(opts, io, plugins);
}

/** Where replay's input comes from when it is not PATHs (backfill reads the REST API). */
export interface ReplaySource {
  readonly inputs: AsyncIterable<InputItem>;
  /** Counters printed before replay's own in the summary line (e.g. `fetched=N`). */
  readonly summaryPrefix?: () => Record<string, number>;
}

export async function replay(opts: ReplayOptions, io: Io, plugins: ReplayPlugins = {}, source?: ReplaySource): Promise<number> {
  const sinks: Sink[] = [];
  const specs = opts.sinks.length > 0 ? opts.sinks : [opts.out !== undefined ? `file:${opts.out}` : 'stdout'];
  for (const spec of specs) {
    if (spec === 'stdout') sinks.push(NdjsonSink.stdout());
    else if (spec.startsWith('file:') && spec.length > 5) sinks.push(NdjsonSink.file(spec.slice(5)));
    else {
      let sink: Sink | undefined;
      try {
        sink = plugins.createSink?.(spec, opts);
      } catch (error) {
        // A malformed spec or a missing token is a usage problem, not a crash.
        io.err(`kitewatch replay: --sink ${spec}: ${(error as Error).message}`);
        return 2;
      }
      if (sink === undefined) {
        io.err(`kitewatch replay: unknown --sink "${spec}" (expected stdout, file:PATH, splunk-hec:URL or http:URL)`);
        return 2;
      }
      sinks.push(sink);
    }
  }
  let quarantine: NdjsonWriter | undefined;
  const state = plugins.createState ? await plugins.createState(opts.state, { fresh: opts.fresh === true }) : undefined;
  const saved = state?.savedItems ?? 0;
  if (saved > 0) {
    io.err(`kitewatch: continued from the saved state in ${opts.state} (${saved} items: baselines, windows, findings already raised); --fresh to start from empty state`);
  }
  const detect = state && plugins.createDetect ? plugins.createDetect(opts.config, state) : undefined;
  const contain = state && plugins.createContain && opts.containment !== 'off' ? plugins.createContain(opts, state) : undefined;
  const pipeline = new LocalPipeline({
    rules: loadRules(),
    sinks,
    validate: opts.validate,
    // Once a partner event source is configured, input from any other source is quarantined.
    expectedSource: opts.config.aws.partnerEventBusName,
    ...(detect ? { detect } : {}),
    ...(contain ? { contain } : {}),
    quarantine: async (record) => {
      // Appended, never truncated: quarantined input is data we must not lose.
      // Owner-only: it keeps the raw input, secrets included (the output is redacted, this is not).
      quarantine ??= NdjsonWriter.toFile(opts.quarantine, 'a', 0o600);
      await quarantine.write(record);
    },
  });
  const progress = new Progress();
  try {
    const inputs = source?.inputs ?? readInputs(opts.paths, process.stdin, opts.maxLineBytes === undefined ? {} : { maxLineBytes: opts.maxLineBytes });
    for await (const item of inputs) {
      await pipeline.process(item);
      progress.tick(pipeline.counts.events, () => `(${pipeline.counts.quarantined} quarantined, ${pipeline.counts.findings} findings)`);
    }
  } finally {
    progress.done();
  }
  const reports = await pipeline.finish();
  await quarantine?.close();
  await state?.close();
  const delivered = reports.reduce((n, r) => n + r.delivered, 0);
  const spilled = reports.reduce((n, r) => n + r.spilled, 0);
  const remote = opts.sinks.some((s) => s.startsWith('splunk-hec:') || s.startsWith('http:') || s.startsWith('https:'));
  const prefix = Object.entries(source?.summaryPrefix?.() ?? {})
    .map(([k, n]) => `${k}=${n} `)
    .join('');
  const resent = detect?.resent ?? 0;
  io.err(prefix + summaryLine(pipeline.counts, { ...(resent > 0 ? { resent } : {}), ...(remote ? { delivered, spilled } : {}) }));
  if (resent > 0) {
    io.err(`kitewatch: ${resent} event(s) were already counted by the detectors in ${opts.state} and were not counted again (re-sent); --fresh to start from empty state`);
  }
  if (pipeline.counts.quarantined > 0) io.err(`kitewatch: ${pipeline.counts.quarantined} input(s) quarantined with reasons in ${opts.quarantine}`);
  if (pipeline.driftedEvents > 0) {
    const kinds = [...pipeline.drift].map(([k, n]) => `${k} x${n}`).join(', ');
    io.err(`kitewatch: ${pipeline.driftedEvents} input(s) differ from Buildkite's EventBridge payload shape and were normalized anyway (format drift: ${kinds})`);
  }
  if (spilled > 0) {
    for (const r of reports) {
      if (r.spilled > 0) io.err(`kitewatch: ${r.spilled} event(s) could not be delivered; spilled to ${r.spillPath ?? '(unknown)'} (kitewatch resend PATH --sink SPEC)`);
    }
    return 1;
  }
  return 0;
}
