import { fetchAuditEvents, fetchOrganization, describeApiFailure, isOrgSlug, restItemToEnvelope, type OrgRef, type Window } from '../backfill/audit-events.ts';
import { BuildkiteClient, DEFAULT_API_URL } from '../buildkite/client.ts';
import { envTokenProvider, TOKEN_ENV } from '../buildkite/token.ts';
import { ConfigError } from '../config/load.ts';
import { UsageError, type InputItem } from '../engine/input.ts';
import type { Command, Io } from './command.ts';
import { parseReplayArgs, replay, type ReplayOptions, type ReplayPlugins } from './replay.ts';

export const BACKFILL_USAGE = `Usage: kitewatch backfill --org SLUG --since TIME [--until TIME] [--buildkite-api-url URL] [replay's options]

Reads the organization's audit events from Buildkite's REST API (GET /v2/organizations/SLUG/audit_events,
newest first, 100 per page, following links.next or the Link header; a 429 waits for RateLimit-Reset),
turns each into the envelope Buildkite's EventBridge integration sends, and runs it through the same
pipeline as kitewatch replay. An audit event gets the same metadata.uid whether it was delivered live
or backfilled, so the two never count twice downstream; detector state (--state) also remembers
findings already raised.

Needs ${TOKEN_ENV}: an API token with the read_audit_events scope (the audit log is an Enterprise
plan feature, read by organization administrators). With read_organizations too, events carry the
organization's uuid; without it, its slug.

Options:
  --org SLUG              the organization (buildkite.com/SLUG)
  --since TIME            start of the window, inclusive: ISO-8601 (2026-03-01T00:00:00Z, 2026-03-01)
                          or a duration before now (90m, 24h, 7d)
  --until TIME            end of the window, inclusive (default: now)
  --buildkite-api-url URL REST API base (default ${DEFAULT_API_URL})
  and replay's options: --out, --quarantine, --state, --fresh, --config, --containment, --sink,
  --spill, --validate, --buildkite-graphql-url (kitewatch replay --help)

A summary goes to stderr at the end:
  fetched=N events=N normalized=N quarantined=N findings=N actions=N
Exit codes: 0 done; 1 the API refused or failed (the status and what to do are printed; what was
fetched before is still processed), or events could not be delivered; 2 usage error.`;

const DURATION = /^(\d+)(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** ISO-8601 with a zone, a date (UTC midnight), or a duration before `now`; undefined otherwise. */
export function parseTime(value: string, now: number): number | undefined {
  const d = DURATION.exec(value);
  if (d !== null) return now - Number(d[1]) * UNIT_MS[d[2] as keyof typeof UNIT_MS];
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const t = Date.parse(`${value}T00:00:00Z`);
    return Number.isFinite(t) && new Date(t).toISOString().startsWith(value) ? t : undefined;
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) return undefined;
  const t = Date.parse(value);
  return Number.isFinite(t) ? t : undefined;
}

export interface BackfillOptions {
  readonly org: string;
  readonly window: Window;
  readonly replay: ReplayOptions;
}

const OWN = new Set(['--org', '--since', '--until']);

export function parseBackfillArgs(argv: readonly string[], env: NodeJS.ProcessEnv, now: number): BackfillOptions | 'help' {
  const own: Record<string, string> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (OWN.has(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`${name} needs a value`);
      if (own[name] !== undefined) throw new UsageError(`${name} given twice`);
      own[name] = value;
    } else {
      rest.push(arg);
    }
  }
  const replayOpts = parseReplayArgs(rest, env);
  if (replayOpts === 'help') return 'help';
  const file = replayOpts.paths.find((p) => p !== '-');
  if (file !== undefined) throw new UsageError(`backfill reads the Buildkite API, not files (got "${file}"); use kitewatch replay for files`);
  const org = own['--org'];
  if (org === undefined) throw new UsageError('--org SLUG is required');
  if (!isOrgSlug(org)) throw new UsageError(`--org must be an organization slug (lowercase letters, digits, dashes), got "${org}"`);
  const sinceText = own['--since'];
  if (sinceText === undefined) throw new UsageError('--since TIME is required (e.g. 24h, 7d or 2026-03-01T00:00:00Z)');
  const since = parseTime(sinceText, now);
  if (since === undefined) throw new UsageError(`--since must be ISO-8601 with a zone, a date, or a duration like 24h (got "${sinceText}")`);
  const untilText = own['--until'];
  const until = untilText === undefined ? now : parseTime(untilText, now);
  if (until === undefined) throw new UsageError(`--until must be ISO-8601 with a zone, a date, or a duration like 1h (got "${untilText}")`);
  if (since > until) throw new UsageError(`--since (${new Date(since).toISOString()}) is after --until (${new Date(until).toISOString()})`);
  if ((env[TOKEN_ENV]?.trim() ?? '') === '') {
    throw new UsageError(`${TOKEN_ENV} is not set: backfill reads the audit log with an API token that has the read_audit_events scope`);
  }
  return { org, window: { since, until }, replay: replayOpts };
}

export interface BackfillEnvironment {
  readonly env: NodeJS.ProcessEnv;
  readonly now: () => number;
  /** Injected by tests to avoid real waits on a 429. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export async function runBackfill(argv: readonly string[], io: Io, plugins: ReplayPlugins, environment: BackfillEnvironment = { env: process.env, now: Date.now }): Promise<number> {
  let opts: BackfillOptions | 'help';
  try {
    opts = parseBackfillArgs(argv, environment.env, environment.now());
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      io.err(`kitewatch backfill: ${error.message}\n(see kitewatch backfill --help)`);
      return 2;
    }
    throw error;
  }
  if (opts === 'help') {
    io.out(BACKFILL_USAGE);
    return 0;
  }
  const client = new BuildkiteClient({
    apiUrl: opts.replay.buildkiteApiUrl,
    token: envTokenProvider(environment.env),
    ...(environment.sleep !== undefined ? { sleep: environment.sleep } : {}),
    // A backfill is not a Lambda: waiting out a long rate-limit reset is the right thing.
    maxWaitMs: 5 * 60_000,
    maxAttempts: 6,
  });
  let org: OrgRef;
  try {
    const found = await fetchOrganization(client, opts.org);
    org = found.org;
    if (!found.exact) io.err(`kitewatch backfill: the token cannot read organization ${opts.org} (read_organizations); events carry its slug instead of its uuid`);
  } catch (error) {
    io.err(`kitewatch backfill: ${describeApiFailure(error, opts.org)}`);
    return 1;
  }
  const aws = opts.replay.config.aws;
  const envelopeOptions = { source: aws.partnerEventBusName, account: aws.account, region: aws.region };
  let fetched = 0;
  let failure: unknown;
  const { org: slug, window } = opts;
  async function* inputs(): AsyncGenerator<InputItem> {
    try {
      for await (const { item } of fetchAuditEvents(client, slug, window)) {
        fetched++;
        const uuid = typeof (item as { uuid?: unknown } | null)?.uuid === 'string' ? (item as { uuid: string }).uuid : `#${fetched}`;
        yield { kind: 'json', origin: `audit_events:${uuid}`, value: restItemToEnvelope(item, org, envelopeOptions) };
      }
    } catch (error) {
      // Stop reading; what was fetched is still processed and reported, then the run fails.
      failure = error;
    }
  }
  const code = await replay(opts.replay, io, plugins, { inputs: inputs(), summaryPrefix: () => ({ fetched }) });
  if (failure !== undefined) {
    io.err(`kitewatch backfill: ${describeApiFailure(failure, opts.org)}`);
    return 1;
  }
  return code;
}

export function createBackfillCommand(plugins: ReplayPlugins): Command {
  return {
    name: 'backfill --org O --since T',
    summary: 'fetch audit events from the Buildkite API into the pipeline',
    run: (argv, io) => runBackfill(argv, io, plugins),
  };
}
