import { randomUUID } from 'node:crypto';
import type { Sink } from '../engine/stages.ts';
import type { ForwardingConfig } from './config.ts';
import { SinkSetupError } from './errors.ts';
import { HEC_LIMITS, hecBody, toHecEvent, type HecOptions } from './hec.ts';
import { RemoteSink, type BatchOptions, type Outcome, type Transport } from './remote-sink.ts';
import { resolveRetry, type RetryOptions } from './retry.ts';
import { displayName, isLoopback, parseSinkSpec, type RemoteSinkSpec } from './spec.ts';
import { SpillFile } from './spill.ts';

/** Environment the remote sinks read. Values are secrets: they are sent, never printed. */
export const SinkEnv = {
  /** `Authorization: Splunk <token>` of splunk-hec: sinks. Required for them. */
  splunkHecToken: 'SPLUNK_HEC_TOKEN',
  /** Optional `Authorization` header value of http: sinks, e.g. "Bearer ..." or "ApiKey ...". */
  httpAuthorization: 'KITEWATCH_HTTP_AUTHORIZATION',
} as const;

export interface CreateSinkOptions {
  /** `--spill PATH`; unset: a new file under .kitewatch/spill/ when something spills. */
  readonly spill?: string | undefined;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly fetch?: typeof fetch | undefined;
  readonly retry?: RetryOptions | undefined;
  readonly batch?: BatchOptions | undefined;
  /** `forwarding` of the Kitewatch config: splunk-hec: takes its index and sourcetype prefix. */
  readonly forwarding?: ForwardingConfig | undefined;
  /** Directory of default spill files. @default .kitewatch/spill */
  readonly spillDir?: string | undefined;
}

/** The HEC wire format: concatenated event objects, `Authorization: Splunk <token>`. */
export function hecTransport(endpoint: string, token: string, hec: HecOptions = {}): Transport {
  // One channel per sink: tokens with indexer acknowledgment refuse requests without one.
  const channel = randomUUID();
  return {
    kind: 'splunk-hec',
    endpoint,
    encode: (event) => JSON.stringify(toHecEvent(event, hec)),
    body: hecBody,
    headers: () => ({
      Authorization: `Splunk ${token}`,
      'Content-Type': 'application/json',
      'X-Splunk-Request-Channel': channel,
      'User-Agent': 'kitewatch',
    }),
    interpret: interpretHec,
  };
}

/** HEC status codes that concern one event; the others (token, index, server) concern them all. */
const EVENT_SPECIFIC_HEC_CODES = new Set([6, 12, 13, 15]);

/**
 * HEC answers a bad batch with the index of the first bad event; the events before it were
 * indexed and the ones after it were not (Splunk processes a body in order and stops).
 */
export function interpretHec(status: number, body: string, count: number): Outcome | undefined {
  let doc: { text?: unknown; code?: unknown; 'invalid-event-number'?: unknown };
  try {
    doc = JSON.parse(body) as typeof doc;
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const code = typeof doc.code === 'number' ? doc.code : undefined;
  const text = typeof doc.text === 'string' ? doc.text.slice(0, 200) : undefined;
  const reason = `HTTP ${status}${text !== undefined ? `: ${text}` : ''}${code !== undefined ? ` (HEC code ${code})` : ''}`;
  const n = doc['invalid-event-number'];
  if (status === 400 && typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < count) {
    return code !== undefined && EVENT_SPECIFIC_HEC_CODES.has(code) ? { kind: 'partial', accepted: n, reason } : { kind: 'reject', accepted: n, reason };
  }
  if (status === 413) return { kind: 'too-large', reason };
  if (status === 408 || status === 429 || status >= 500) return { kind: 'retry', reason };
  if (status >= 400) return { kind: 'reject', accepted: 0, reason };
  return undefined;
}

/** NDJSON batches; `X-Kitewatch-Request-Id` is the same on every retry of a batch, for dedup downstream. */
export function httpTransport(endpoint: string, authorization?: string): Transport {
  return {
    kind: 'http',
    endpoint,
    encode: (event) => JSON.stringify(event),
    body: (encoded) => `${encoded.join('\n')}\n`,
    headers: (batchId) => ({
      'Content-Type': 'application/x-ndjson',
      'X-Kitewatch-Request-Id': batchId,
      'User-Agent': 'kitewatch',
      ...(authorization !== undefined ? { Authorization: authorization } : {}),
    }),
  };
}

function secretFrom(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function refusePlaintext(spec: RemoteSinkSpec, what: string): void {
  if (spec.url.protocol === 'http:' && !isLoopback(spec.url)) {
    throw new SinkSetupError(`--sink "${displayName(spec)}": ${what} would travel unencrypted to ${spec.url.host}; use https:// (plain http:// is only for 127.0.0.1/localhost)`);
  }
}

/**
 * A remote sink for `splunk-hec:URL` or `http:URL` (see lib/forward/spec.ts for the syntax), or
 * undefined for any other spec (stdout and file:PATH belong to the caller). Throws a
 * SinkSetupError, whose message is meant for the user, for malformed specs, a missing
 * SPLUNK_HEC_TOKEN, or a spill path that is taken.
 */
export function createSink(spec: string, opts: CreateSinkOptions = {}): Sink | undefined {
  const parsed = parseSinkSpec(spec);
  if (parsed === undefined) return undefined;
  const env = opts.env ?? process.env;
  const retry = resolveRetry(opts.retry, env);
  let transport: Transport;
  let batch: BatchOptions = { maxEvents: HEC_LIMITS.maxEventsPerRequest, maxBytes: HEC_LIMITS.maxContentLength, ...opts.batch };
  if (parsed.kind === 'splunk-hec') {
    const token = secretFrom(env, SinkEnv.splunkHecToken);
    if (token === undefined) {
      throw new SinkSetupError(`--sink "${displayName(parsed)}": set ${SinkEnv.splunkHecToken} to the HEC token (it is read from the environment, never from the command line)`);
    }
    refusePlaintext(parsed, 'the HEC token');
    const hecConfig = opts.forwarding?.destinations.splunkHec;
    transport = hecTransport(parsed.endpoint, token, { index: hecConfig?.index, sourcetypePrefix: hecConfig?.sourcetypePrefix });
  } else {
    const authorization = secretFrom(env, SinkEnv.httpAuthorization);
    if (authorization !== undefined) refusePlaintext(parsed, `${SinkEnv.httpAuthorization}`);
    transport = httpTransport(parsed.endpoint, authorization);
    batch = { maxEvents: 500, maxBytes: 1_000_000, ...opts.batch };
  }
  const spill = new SpillFile({ path: opts.spill, kind: parsed.kind, dir: opts.spillDir });
  return new RemoteSink({ name: displayName(parsed), transport, spill, retry, batch, fetch: opts.fetch });
}
