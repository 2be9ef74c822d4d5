/**
 * A local SIEM for tests: a Splunk HEC-compatible endpoint, a generic NDJSON endpoint and a
 * Firehose HTTP endpoint, on 127.0.0.1 and an ephemeral port. It records what arrives and can
 * fail on demand: an HTTP status (503 for a while), a reset connection, a slow answer, or HEC's
 * "event N is invalid". It closes itself after `lifetimeMs` so a forgotten server cannot hang a run.
 *
 *   POST /services/collector/event  HEC: `Authorization: Splunk <token>`, concatenated event objects
 *   POST /ingest                    NDJSON, X-Kitewatch-Request-Id per batch
 *   POST /firehose                  Firehose HTTP endpoint delivery: {requestId, timestamp, records[{data}]}
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { hecEventProblems } from '../../lib/forward/hec.ts';

export type Fault =
  /** Answer with this status (and body) without reading anything into the record. */
  | { readonly kind: 'status'; readonly status: number; readonly body?: string; readonly retryAfter?: string }
  /** Read the request, then destroy the socket: the client sees a reset, nothing is recorded. */
  | { readonly kind: 'reset' }
  /** Record the request as usual, but answer only after `delayMs`. */
  | { readonly kind: 'slow'; readonly delayMs: number }
  /** HEC: event `eventNumber` of the body is invalid (code 6); the ones before it are indexed. */
  | { readonly kind: 'hec-invalid'; readonly eventNumber: number };

export interface RequestLog {
  readonly path: string;
  /** HTTP status answered, or 'reset'. */
  readonly outcome: number | 'reset';
  readonly bytes: number;
  /** Events in the body (0 when not parsed). */
  readonly events: number;
  readonly requestId?: string | undefined;
  /** Whether the Authorization header was present (its value is never stored). */
  readonly hadAuthorization: boolean;
}

export interface FakeSiemOptions {
  /** @default 'test-hec-token' */
  readonly hecToken?: string;
  /** HEC answers 413 above this many body bytes. @default 1_000_000 */
  readonly maxContentLength?: number;
  /** When set, /ingest requires exactly this Authorization header. */
  readonly httpAuthorization?: string;
  /** The server closes itself after this long. @default 120_000 */
  readonly lifetimeMs?: number;
}

export interface HttpArrival {
  readonly requestId: string | undefined;
  readonly event: Record<string, unknown>;
}

export interface FirehoseArrival {
  readonly requestId: string;
  /** One Firehose record, decoded from base64. */
  readonly data: string;
}

/** Splits HEC's concatenated JSON objects; `bad` is the index of the first unparsable one. */
export function splitConcatenatedJson(text: string): { values: unknown[]; bad?: number } {
  const values: unknown[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
    if (i >= text.length) break;
    if (text[i] !== '{') return { values, bad: values.length };
    let depth = 0;
    let inString = false;
    let j = i;
    for (; j < text.length; j++) {
      const c = text[j];
      if (inString) {
        if (c === '\\') j++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) break;
    }
    try {
      values.push(JSON.parse(text.slice(i, j + 1)));
    } catch {
      return { values, bad: values.length };
    }
    i = j + 1;
  }
  return { values };
}

function hecCode(problem: string): number {
  if (problem.startsWith('Event field is required')) return 12;
  if (problem.startsWith('Event field cannot be blank')) return 13;
  if (problem.startsWith('Incorrect index')) return 7;
  if (problem.startsWith('Error in handling indexed fields')) return 15;
  return 6;
}

export class FakeSiem {
  readonly hecEvents: Record<string, unknown>[] = [];
  readonly httpEvents: HttpArrival[] = [];
  readonly firehose: FirehoseArrival[] = [];
  readonly requests: RequestLog[] = [];
  readonly #server: Server;
  readonly #opts: Required<Omit<FakeSiemOptions, 'httpAuthorization'>> & { httpAuthorization?: string | undefined };
  readonly #queue: { fault: Fault; times: number }[] = [];
  #window: { fault: Fault; until: number } | undefined;
  #always: Fault | undefined;
  #lifetime: NodeJS.Timeout | undefined;
  baseUrl = '';

  private constructor(opts: FakeSiemOptions) {
    this.#opts = {
      hecToken: opts.hecToken ?? 'test-hec-token',
      maxContentLength: opts.maxContentLength ?? 1_000_000,
      lifetimeMs: opts.lifetimeMs ?? 120_000,
      httpAuthorization: opts.httpAuthorization,
    };
    this.#server = createServer((req, res) => {
      void this.#handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  }

  static async start(opts: FakeSiemOptions = {}): Promise<FakeSiem> {
    const siem = new FakeSiem(opts);
    await new Promise<void>((resolve, reject) => {
      siem.#server.once('error', reject);
      siem.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = siem.#server.address() as AddressInfo;
    siem.baseUrl = `http://127.0.0.1:${port}`;
    siem.#lifetime = setTimeout(() => void siem.close(), siem.#opts.lifetimeMs);
    siem.#lifetime.unref();
    return siem;
  }

  get hecToken(): string {
    return this.#opts.hecToken;
  }
  get ingestUrl(): string {
    return `${this.baseUrl}/ingest`;
  }
  get firehoseUrl(): string {
    return `${this.baseUrl}/firehose`;
  }

  /** The next `times` requests get `fault`. */
  failNext(times: number, fault: Fault): void {
    this.#queue.push({ fault, times });
  }
  /** Every request in the next `ms` gets `fault` ("503 for a while"). */
  failFor(ms: number, fault: Fault): void {
    this.#window = { fault, until: Date.now() + ms };
  }
  /** Every request gets `fault` until recover(). */
  failAlways(fault: Fault): void {
    this.#always = fault;
  }
  recover(): void {
    this.#queue.length = 0;
    this.#window = undefined;
    this.#always = undefined;
  }

  async close(): Promise<void> {
    if (this.#lifetime !== undefined) clearTimeout(this.#lifetime);
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  #nextFault(): Fault | undefined {
    const head = this.#queue[0];
    if (head !== undefined) {
      if (--head.times <= 0) this.#queue.shift();
      return head.fault;
    }
    if (this.#window !== undefined) {
      if (Date.now() < this.#window.until) return this.#window.fault;
      this.#window = undefined;
    }
    return this.#always;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    const path = new URL(req.url ?? '/', this.baseUrl).pathname;
    const requestId = (req.headers['x-kitewatch-request-id'] ?? req.headers['x-amz-firehose-request-id']) as string | undefined;
    const log = (outcome: number | 'reset', events = 0): void => {
      this.requests.push({ path, outcome, bytes: body.length, events, requestId, hadAuthorization: req.headers.authorization !== undefined });
    };
    const fault = this.#nextFault();
    if (fault?.kind === 'reset') {
      log('reset');
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      log(fault.status);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
      res.writeHead(fault.status, headers).end(fault.body ?? JSON.stringify({ text: 'Server is busy', code: 9 }));
      return;
    }
    const delay = fault?.kind === 'slow' ? fault.delayMs : 0;
    const invalidAt = fault?.kind === 'hec-invalid' ? fault.eventNumber : undefined;
    let answer: { status: number; doc: unknown };
    if (req.method !== 'POST') answer = { status: 405, doc: { text: 'Method not allowed' } };
    else if (path === '/services/collector/event') answer = this.#hec(req, body, invalidAt, log);
    else if (path === '/ingest') answer = this.#ingest(req, body, requestId, log);
    else if (path === '/firehose') answer = this.#firehose(body, log);
    else answer = { status: 404, doc: { text: 'Not found' } };
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (res.destroyed) return;
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.doc));
  }

  #hec(req: IncomingMessage, body: Buffer, invalidAt: number | undefined, log: (o: number, n?: number) => void): { status: number; doc: unknown } {
    const auth = req.headers.authorization;
    if (auth === undefined) return this.#reply(log, 401, { text: 'Token is required', code: 2 });
    if (auth !== `Splunk ${this.#opts.hecToken}`) return this.#reply(log, 403, { text: 'Invalid token', code: 4 });
    if (body.length > this.#opts.maxContentLength) {
      return this.#reply(log, 413, { text: `Content-Length of ${body.length} too large (maximum is ${this.#opts.maxContentLength})`, code: 6 });
    }
    const text = body.toString('utf8');
    if (text.trim() === '') return this.#reply(log, 400, { text: 'No data', code: 5 });
    const { values, bad } = splitConcatenatedJson(text);
    let firstBad = bad;
    let problem = 'Invalid data format';
    values.forEach((v, i) => {
      if (firstBad !== undefined && i >= firstBad) return;
      const problems = hecEventProblems(v);
      if (problems.length > 0) {
        firstBad = i;
        problem = problems[0] as string;
      } else if (invalidAt === i) {
        firstBad = i;
        problem = 'Invalid data format';
      }
    });
    // Splunk indexes the events before the first bad one and stops there.
    const accepted = firstBad === undefined ? values : values.slice(0, firstBad);
    for (const v of accepted) this.hecEvents.push(v as Record<string, unknown>);
    if (firstBad !== undefined) {
      return this.#reply(log, 400, { text: problem, code: hecCode(problem), 'invalid-event-number': firstBad }, values.length);
    }
    return this.#reply(log, 200, { text: 'Success', code: 0 }, values.length);
  }

  #ingest(req: IncomingMessage, body: Buffer, requestId: string | undefined, log: (o: number, n?: number) => void): { status: number; doc: unknown } {
    if (this.#opts.httpAuthorization !== undefined && req.headers.authorization !== this.#opts.httpAuthorization) {
      return this.#reply(log, 401, { error: 'unauthorized' });
    }
    const lines = body
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    const events: Record<string, unknown>[] = [];
    for (const line of lines) {
      try {
        events.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        return this.#reply(log, 400, { error: 'invalid NDJSON' }, lines.length);
      }
    }
    for (const event of events) this.httpEvents.push({ requestId, event });
    return this.#reply(log, 200, { accepted: events.length }, events.length);
  }

  /** The Firehose HTTP endpoint contract: echo requestId and a timestamp in a 200 JSON answer. */
  #firehose(body: Buffer, log: (o: number, n?: number) => void): { status: number; doc: unknown } {
    let doc: { requestId?: unknown; records?: unknown };
    try {
      doc = JSON.parse(body.toString('utf8')) as typeof doc;
    } catch {
      return this.#reply(log, 400, { errorMessage: 'body is not JSON' });
    }
    if (typeof doc.requestId !== 'string' || !Array.isArray(doc.records)) return this.#reply(log, 400, { errorMessage: 'not a Firehose request' });
    for (const r of doc.records as { data?: unknown }[]) {
      if (typeof r.data !== 'string') return this.#reply(log, 400, { requestId: doc.requestId, errorMessage: 'record without data' });
    }
    for (const r of doc.records as { data: string }[]) {
      this.firehose.push({ requestId: doc.requestId, data: Buffer.from(r.data, 'base64').toString('utf8') });
    }
    return this.#reply(log, 200, { requestId: doc.requestId, timestamp: Date.now() }, doc.records.length);
  }

  #reply(log: (o: number, n?: number) => void, status: number, doc: unknown, events = 0): { status: number; doc: unknown } {
    log(status, events);
    return { status, doc };
  }
}
