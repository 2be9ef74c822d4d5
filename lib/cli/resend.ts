import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.ts';
import { NdjsonSink } from '../engine/local-sinks.ts';
import type { Sink, SinkReport } from '../engine/stages.ts';
import type { ForwardingConfig } from '../forward/config.ts';
import { SinkSetupError } from '../forward/errors.ts';
import type { RemoteSinkReport } from '../forward/remote-sink.ts';
import { createSink } from '../forward/sinks.ts';
import { readSpill } from '../forward/spill.ts';
import type { Command, Io } from './command.ts';

export const RESEND_USAGE = `Usage: kitewatch resend PATH --sink SPEC [--sink SPEC...] [options]

Delivers the OCSF events of a spill file (NDJSON, as written by a remote sink of kitewatch replay)
through the same sink code: batched, retried with backoff, once per metadata.uid.

SPEC is one of:
  stdout                  OCSF NDJSON on stdout
  file:PATH               OCSF NDJSON into PATH
  splunk-hec:URL          Splunk HEC at URL/services/collector/event; token from SPLUNK_HEC_TOKEN
  http:URL                NDJSON batches POSTed to URL (http:https://siem.example/ingest); an
                          Authorization header from KITEWATCH_HTTP_AUTHORIZATION when set
URL needs its scheme (http:// or https://); plain http:// with a secret only to localhost.

Options:
  --sink SPEC             where to deliver (repeatable, at least one)
  --spill PATH            where events that still cannot be delivered go (must not exist; default:
                          a new file under .kitewatch/spill/)
  --config FILE           Kitewatch config (forwarding.destinations.splunkHec index and sourcetype prefix)
  -h, --help              show this help

Retries: KITEWATCH_SINK_MAX_ATTEMPTS (5), KITEWATCH_SINK_BACKOFF_MS (500),
KITEWATCH_SINK_MAX_BACKOFF_MS (10000), KITEWATCH_SINK_TIMEOUT_MS (15000).

A summary goes to stderr at the end:
  events=N delivered=N spilled=N
Exit codes: 0 all delivered, 1 some events spilled again (how many and where is printed),
2 usage error (bad arguments, unreadable or invalid spill file, bad sink).`;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

interface ResendOptions {
  readonly path: string;
  readonly sinks: readonly string[];
  readonly spill?: string | undefined;
  readonly forwarding: ForwardingConfig;
}

function parseResendArgs(argv: readonly string[]): ResendOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        sink: { type: 'string', multiple: true },
        spill: { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const [path, ...extra] = parsed.positionals;
  if (path === undefined) throw new UsageError('PATH of the spill file is required');
  if (extra.length > 0) throw new UsageError(`one spill file at a time (got also ${extra.join(' ')})`);
  if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(`spill file not found: ${path}`);
  const sinks = v.sink ?? [];
  if (sinks.length === 0) throw new UsageError('--sink SPEC is required');
  if (v.spill !== undefined && resolve(v.spill) === resolve(path)) {
    throw new UsageError('--spill must be a new file, not the one being resent (it is kept until you delete it)');
  }
  for (const s of sinks) {
    if (s === 'file:') throw new UsageError('--sink file: needs a PATH');
    if (s.startsWith('file:') && resolve(s.slice(5)) === resolve(path)) throw new UsageError(`--sink ${s} would overwrite the file being resent`);
  }
  return { path, sinks, spill: v.spill, forwarding: loadConfig(v.config).forwarding };
}

/** Remote sinks first: a bad spec must fail before a file: sink truncates its file. */
async function openSinks(opts: ResendOptions): Promise<Sink[]> {
  const sinks: (Sink | undefined)[] = opts.sinks.map(() => undefined);
  try {
    opts.sinks.forEach((spec, i) => {
      if (spec === 'stdout' || spec.startsWith('file:')) return;
      const sink = createSink(spec, { spill: opts.spill, env: process.env, forwarding: opts.forwarding });
      if (sink === undefined) throw new UsageError(`unknown --sink "${spec}" (expected stdout, file:PATH, splunk-hec:URL or http:URL)`);
      sinks[i] = sink;
    });
  } catch (error) {
    // Nothing was written: closing only releases what the sinks hold.
    for (const s of sinks) await s?.close();
    throw error;
  }
  return opts.sinks.map((spec, i) => {
    const made = sinks[i];
    if (made !== undefined) return made;
    if (spec === 'stdout') return NdjsonSink.stdout();
    if (spec.length > 5) return NdjsonSink.file(spec.slice(5));
    throw new UsageError('--sink file: needs a PATH');
  });
}

function isRemoteReport(r: SinkReport): r is RemoteSinkReport {
  return 'failures' in r;
}

async function resend(opts: ResendOptions, io: Io): Promise<number> {
  // Check every line first: a corrupt file is refused whole, before anything is sent.
  const problems: string[] = [];
  let events = 0;
  for await (const { line, result } of readSpill(opts.path)) {
    if (result.ok) events++;
    else if (problems.push(`${opts.path}:${line}: ${result.reason}`) >= 5) break;
  }
  if (problems.length > 0) {
    io.err(`kitewatch resend: ${opts.path} is not an OCSF NDJSON spill file; nothing was sent:\n  ${problems.join('\n  ')}`);
    return 2;
  }
  const sinks = await openSinks(opts);
  for await (const { result } of readSpill(opts.path)) {
    if (!result.ok) continue;
    for (const sink of sinks) await sink.write(result.event);
  }
  const reports: SinkReport[] = [];
  for (const sink of sinks) reports.push(await sink.close());
  const delivered = reports.reduce((n, r) => n + r.delivered, 0);
  const spilled = reports.reduce((n, r) => n + r.spilled, 0);
  io.err(`events=${events} delivered=${delivered} spilled=${spilled}`);
  reports.forEach((r, i) => {
    if (r.spilled === 0) return;
    const reasons = isRemoteReport(r) ? ` (${r.failures.map((f) => `${f.events}: ${f.reason}`).join('; ')})` : '';
    io.err(`kitewatch: ${r.spilled} event(s) could not be delivered to ${sinks[i]?.name ?? '?'}${reasons}; spilled to ${r.spillPath ?? '(unknown)'} (kitewatch resend PATH --sink SPEC)`);
  });
  return spilled > 0 ? 1 : 0;
}

export const resendCommand: Command = {
  name: 'resend',
  summary: 'deliver the events of a spill file (PATH --sink SPEC)',
  async run(argv: readonly string[], io: Io): Promise<number> {
    try {
      const opts = parseResendArgs(argv);
      if (opts === 'help') {
        io.out(RESEND_USAGE);
        return 0;
      }
      return await resend(opts, io);
    } catch (error) {
      if (error instanceof UsageError || error instanceof ConfigError || error instanceof SinkSetupError) {
        io.err(`kitewatch resend: ${error.message}\n(see kitewatch resend --help)`);
        return 2;
      }
      throw error;
    }
  },
};
