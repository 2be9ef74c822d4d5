import { randomUUID } from 'node:crypto';
import type { Sink, SinkReport } from '../engine/stages.ts';
import type { OcsfEvent } from '../ocsf/types.ts';
import { backoffMs, isRetryableStatus, retryAfterMs, type ResolvedRetry } from './retry.ts';
import type { SpillFile } from './spill.ts';

/**
 * A batching, retrying sink over HTTP. Events are deduplicated by `metadata.uid` (once per uid
 * per run), batched by count and bytes, and POSTed in order, one request at a time. A batch is
 * retried with backoff on 408, 429, 5xx, timeouts and broken connections; what is still not
 * delivered when the attempts are spent goes to the spill file, exactly those events. After a
 * batch exhausted its attempts the sink counts as down: later batches get one attempt each (no
 * backoff) until one succeeds, so a dead endpoint costs one request per batch, not minutes.
 */

/** The result of one request, as the sink acts on it. */
export type Outcome =
  | { readonly kind: 'ok' }
  /** Transient: try the same events again. */
  | { readonly kind: 'retry'; readonly reason: string; readonly retryAfterMs?: number | undefined }
  /** The body was too large: split the batch. */
  | { readonly kind: 'too-large'; readonly reason: string }
  /** The first `accepted` events were taken; event `accepted` is bad; send the rest again. */
  | { readonly kind: 'partial'; readonly accepted: number; readonly reason: string }
  /** The first `accepted` events were taken; the rest will never be (auth, bad index, 4xx). */
  | { readonly kind: 'reject'; readonly accepted: number; readonly reason: string };

/** The wire format of one destination. */
export interface Transport {
  readonly kind: string;
  readonly endpoint: string;
  /** One event as it appears in a request body. */
  encode(event: OcsfEvent): string;
  /** The request body of encoded events. */
  body(encoded: readonly string[]): string;
  /** Request headers; `batchId` stays the same across retries of the same events. */
  headers(batchId: string): Record<string, string>;
  /** Reads a non-2xx answer when the destination says more than its status; undefined: by status. */
  interpret?(status: number, body: string, count: number): Outcome | undefined;
}

export interface BatchOptions {
  /** @default 500 */
  readonly maxEvents?: number;
  /** Request body bytes. @default 1_000_000 */
  readonly maxBytes?: number;
  /** A partial batch is sent after this long without a full one (streams on stdin). 0: only when full or at close. @default 1000 */
  readonly lingerMs?: number;
}

export interface RemoteSinkOptions {
  readonly name: string;
  readonly transport: Transport;
  readonly spill: SpillFile;
  readonly retry: ResolvedRetry;
  readonly batch?: BatchOptions | undefined;
  readonly fetch?: typeof fetch | undefined;
}

export interface RemoteSinkReport extends SinkReport {
  /** Events skipped because their metadata.uid was already written in this run. */
  readonly duplicates: number;
  /** Why events were spilled, with how many each. */
  readonly failures: readonly { readonly reason: string; readonly events: number }[];
}

interface Item {
  readonly event: OcsfEvent;
  readonly payload: string;
  readonly bytes: number;
}

/** Response bodies are read only this far: enough for an error document, never a flood. */
const MAX_RESPONSE_BYTES = 64 * 1024;

async function readCapped(res: Response): Promise<string> {
  if (res.body === null) return '';
  const reader: ReadableStreamDefaultReader<Uint8Array> = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < MAX_RESPONSE_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, MAX_RESPONSE_BYTES);
}

/** A transport error as a short reason: its code, never its message (which may quote a URL). */
function networkReason(error: unknown): string {
  const e = error as { name?: string; code?: string; cause?: { code?: string; name?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'request timed out';
  const code = e.cause?.code ?? e.code ?? e.cause?.name ?? e.name ?? 'error';
  return `network error (${code})`;
}

export class RemoteSink implements Sink {
  readonly name: string;
  readonly #t: Transport;
  readonly #spill: SpillFile;
  readonly #retry: ResolvedRetry;
  readonly #fetch: typeof fetch;
  readonly #maxEvents: number;
  readonly #maxBytes: number;
  readonly #lingerMs: number;
  readonly #seen = new Set<string>();
  readonly #failures = new Map<string, number>();
  #batch: Item[] = [];
  #batchBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #error: unknown;
  #healthy = true;
  #delivered = 0;
  #duplicates = 0;
  #closed = false;

  constructor(opts: RemoteSinkOptions) {
    this.name = opts.name;
    this.#t = opts.transport;
    this.#spill = opts.spill;
    this.#retry = opts.retry;
    this.#fetch = opts.fetch ?? fetch;
    this.#maxEvents = opts.batch?.maxEvents ?? 500;
    this.#maxBytes = opts.batch?.maxBytes ?? 1_000_000;
    this.#lingerMs = opts.batch?.lingerMs ?? 1000;
    if (!(this.#maxEvents >= 1) || !(this.#maxBytes >= 1)) throw new RangeError('batch limits must be at least 1');
  }

  async write(event: OcsfEvent): Promise<void> {
    if (this.#closed) throw new Error(`${this.name}: write after close`);
    this.#rethrow();
    const uid = (event.metadata as { uid?: unknown } | undefined)?.uid;
    if (typeof uid === 'string') {
      if (this.#seen.has(uid)) {
        this.#duplicates++;
        return;
      }
      this.#seen.add(uid);
    }
    const payload = this.#t.encode(event);
    const bytes = Buffer.byteLength(payload, 'utf8') + 1;
    if (this.#batch.length > 0 && (this.#batch.length >= this.#maxEvents || this.#batchBytes + bytes > this.#maxBytes)) {
      await this.#flush();
    }
    this.#batch.push({ event, payload, bytes });
    this.#batchBytes += bytes;
    if (this.#batch.length >= this.#maxEvents) await this.#flush();
    else this.#arm();
  }

  async close(): Promise<RemoteSinkReport> {
    if (!this.#closed) {
      this.#closed = true;
      await this.#flush().catch(() => undefined);
      await this.#chain;
      await this.#spill.close();
    }
    this.#rethrow();
    return this.report();
  }

  report(): RemoteSinkReport {
    const path = this.#spill.path;
    return {
      delivered: this.#delivered,
      spilled: this.#spill.count,
      ...(this.#spill.count > 0 && path !== undefined ? { spillPath: path } : {}),
      duplicates: this.#duplicates,
      failures: [...this.#failures].map(([reason, events]) => ({ reason, events })),
    };
  }

  #rethrow(): void {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what a write raised, as it was
    if (this.#error !== undefined) throw this.#error;
  }

  #arm(): void {
    if (this.#lingerMs <= 0 || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // A failure is recorded by the chain and raised by the next write or close.
      this.#flush().catch(() => undefined);
    }, this.#lingerMs);
    this.#timer.unref();
  }

  #flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#batch.length === 0) return this.#chain;
    const items = this.#batch;
    this.#batch = [];
    this.#batchBytes = 0;
    const sent = this.#chain.then(() => this.#deliver(items));
    this.#chain = sent.catch((error: unknown) => {
      this.#error ??= error;
    });
    return sent;
  }

  async #post(items: readonly Item[], batchId: string): Promise<Outcome> {
    let res: Response;
    let text: string;
    try {
      res = await this.#fetch(this.#t.endpoint, {
        method: 'POST',
        headers: this.#t.headers(batchId),
        body: this.#t.body(items.map((i) => i.payload)),
        // A followed 301/302 turns the POST into a GET that may "succeed" having delivered nothing.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#retry.timeoutMs),
      });
      text = await readCapped(res);
    } catch (error) {
      return { kind: 'retry', reason: networkReason(error) };
    }
    if (res.ok) return { kind: 'ok' };
    if (res.status >= 300 && res.status < 400) {
      return { kind: 'reject', accepted: 0, reason: `HTTP ${res.status} redirect (not followed; give the final URL)` };
    }
    const special = this.#t.interpret?.(res.status, text, items.length);
    if (special !== undefined) {
      return special.kind === 'retry' ? { ...special, retryAfterMs: special.retryAfterMs ?? retryAfterMs(res.headers.get('retry-after')) } : special;
    }
    const reason = `HTTP ${res.status}`;
    if (res.status === 413) return { kind: 'too-large', reason };
    if (isRetryableStatus(res.status)) return { kind: 'retry', reason, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) };
    return { kind: 'reject', accepted: 0, reason };
  }

  async #spillAll(items: readonly Item[], reason: string): Promise<void> {
    if (items.length === 0) return;
    this.#failures.set(reason, (this.#failures.get(reason) ?? 0) + items.length);
    for (const item of items) await this.#spill.write(item.event);
  }

  async #deliver(items: readonly Item[]): Promise<void> {
    let pending = items;
    let batchId = randomUUID();
    let attempts = 0;
    while (pending.length > 0) {
      const out = await this.#post(pending, batchId);
      attempts++;
      switch (out.kind) {
        case 'ok':
          this.#delivered += pending.length;
          this.#healthy = true;
          return;
        case 'partial': {
          const accepted = Math.min(Math.max(0, out.accepted), pending.length - 1);
          this.#delivered += accepted;
          this.#healthy = true;
          await this.#spillAll(pending.slice(accepted, accepted + 1), out.reason);
          pending = pending.slice(accepted + 1);
          // New events, new request id; the bad one does not use up the others' attempts.
          batchId = randomUUID();
          attempts = 0;
          break;
        }
        case 'reject': {
          const accepted = Math.min(Math.max(0, out.accepted), pending.length);
          this.#delivered += accepted;
          await this.#spillAll(pending.slice(accepted), out.reason);
          return;
        }
        case 'too-large': {
          if (pending.length === 1) {
            await this.#spillAll(pending, `${out.reason} (a single event is over the destination's size limit)`);
            return;
          }
          const half = Math.ceil(pending.length / 2);
          await this.#deliver(pending.slice(0, half));
          await this.#deliver(pending.slice(half));
          return;
        }
        case 'retry': {
          const budget = this.#healthy ? this.#retry.maxAttempts : 1;
          if (attempts >= budget) {
            this.#healthy = false;
            await this.#spillAll(pending, `${out.reason} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`);
            return;
          }
          await this.#retry.sleep(backoffMs(attempts, this.#retry, out.retryAfterMs));
          break;
        }
      }
    }
  }
}
