/**
 * Write-behind cache over another StatePort, scoped to one batch of events.
 *
 * Reads load each key once from the inner store, then every operation runs against the
 * cached view (same semantics as the adapters, using the same injected clock). `flush()`
 * turns each touched key into at most ONE write:
 *   - only increments  -> inner.increment(key, sum of deltas, last expiresAt), so
 *                         concurrent increments from other writers still add up
 *   - any put / delete -> the final view: inner.put(final value) or inner.delete(key)
 * so a 10,000-event spike on one token costs one write per batch instead of 10,000.
 *
 * Conditional puts are checked against the view when called. If any succeeded on a key,
 * its flush write is itself conditional on the inner item being unchanged since it was
 * loaded (its loaded version, or 0 when it was absent or has since expired). When that
 * fails, another writer got there first: the key's batch changes are dropped and flush()
 * throws StateFlushConflictError listing every such key, after writing all other keys.
 *
 * Versions seen inside a batch are view versions (+1 per operation); after a flush the
 * inner store has +1 per key, so don't carry a version across a flush. Cached values are
 * JSON copies, as from the real adapters: mutating a returned value doesn't touch the cache.
 * A value put with `frozen` (deep-frozen by the caller) is kept and returned as it is instead.
 */
import type { PutOptions, StateItem, StatePort } from './port.ts';

export interface BatchStateCacheOptions {
  /** Must be the same clock the inner store uses (the engine injects event time). */
  readonly nowSeconds?: () => number;
  /** Parallel inner writes during flush (default 16). */
  readonly flushConcurrency?: number;
}

export interface FlushConflict {
  readonly key: string;
  /** The inner version the batch was based on (0: the key was absent). */
  readonly expectedVersion: number;
}

export interface FlushResult {
  /** Inner write calls issued by this flush. */
  readonly writes: number;
  readonly conflicts: readonly FlushConflict[];
}

export class StateFlushConflictError extends Error {
  readonly conflicts: readonly FlushConflict[];
  readonly result: FlushResult;

  constructor(result: FlushResult) {
    const keys = result.conflicts.map((c) => c.key);
    super(`state flush lost ${keys.length} conditional write(s) to concurrent writers: ${keys.slice(0, 10).join(', ')}`);
    this.name = 'StateFlushConflictError';
    this.conflicts = result.conflicts;
    this.result = result;
  }
}

interface ViewItem {
  /** The value; undefined for an object put here, which lives in `json` alone until needed. */
  value: unknown;
  version: number;
  expiresAt: number;
  /** JSON text of an object value, kept so each read parses once instead of a full round trip. */
  json?: string;
  /** Deep-frozen by the caller (PutOptions.frozen): handed out as it is. */
  frozen?: boolean;
}

/** The item's value: an object put in this batch is parsed from its JSON text only when needed (flush). */
function valueOf(item: ViewItem): unknown {
  return item.json !== undefined && item.value === undefined ? JSON.parse(item.json) : item.value;
}

interface Entry {
  /** The inner item as loaded (undefined: absent). */
  readonly base: ViewItem | undefined;
  /** Current view, possibly expired relative to the clock. */
  view: ViewItem | undefined;
  /** A put or delete happened: flush writes the final view. */
  overwritten: boolean;
  /** A conditional put succeeded: the flush write must be conditional too. */
  conditional: boolean;
  dirty: boolean;
}

const wallClock = (): number => Math.floor(Date.now() / 1000);

/** Same round trip as the adapters' JSON storage; primitives skip it (counters are hot). */
function jsonCopy<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value === undefined ? (null as T) : value;
  return JSON.parse(JSON.stringify(value)) as T;
}

export class BatchStateCache implements StatePort {
  readonly inner: StatePort;
  private readonly now: () => number;
  private readonly flushConcurrency: number;
  private entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();
  private flushing = false;
  private writes = 0;
  private logicalWrites = 0;

  constructor(inner: StatePort, options: BatchStateCacheOptions = {}) {
    this.inner = inner;
    this.now = options.nowSeconds ?? wallClock;
    this.flushConcurrency = Math.max(1, options.flushConcurrency ?? 16);
  }

  /** Writes issued to the inner store by flushes. */
  get writeCount(): number {
    return this.writes;
  }

  /** put/increment/delete calls absorbed by the cache (what writeCount would be without it). */
  get logicalWriteCount(): number {
    return this.logicalWrites;
  }

  /** Keys with changes waiting for flush(). */
  get pendingKeys(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.dirty) n++;
    return n;
  }

  async get<T = unknown>(key: string): Promise<StateItem<T> | undefined> {
    this.assertIdle();
    // Cached keys skip load()'s promise: most reads in a batch hit the cache.
    const entry = this.entries.get(key) ?? (await this.load(key));
    return this.read<T>(entry, this.now());
  }

  async getMany<T = unknown>(keys: readonly string[]): Promise<Map<string, StateItem<T>>> {
    this.assertIdle();
    const missing = [...new Set(keys)].filter((k) => !this.entries.has(k));
    if (missing.length > 0) {
      // install() is first-wins, so a get() racing with this load can't fork the entry.
      const items = await this.inner.getMany(missing);
      for (const key of missing) this.install(key, items.get(key));
    }
    const entries = await Promise.all(keys.map((k) => this.load(k)));
    const now = this.now();
    const out = new Map<string, StateItem<T>>();
    entries.forEach((entry, i) => {
      const item = this.read<T>(entry, now);
      const key = keys[i];
      if (item && key !== undefined) out.set(key, item);
    });
    return out;
  }

  async put<T = unknown>(key: string, value: T, options: PutOptions): Promise<boolean> {
    this.assertIdle();
    const entry = this.entries.get(key) ?? (await this.load(key));
    this.logicalWrites++;
    const current = this.alive(entry.view, this.now());
    const { expectedVersion } = options;
    if (expectedVersion !== undefined) {
      const ok = expectedVersion === 0 ? current === undefined : current?.version === expectedVersion;
      if (!ok) return false;
      entry.conditional = true;
    }
    const version = (entry.view?.version ?? 0) + 1;
    if (options.frozen === true && value !== null && typeof value === 'object') {
      entry.view = { value, version, expiresAt: options.expiresAt, frozen: true };
    } else if (value !== null && typeof value === 'object') {
      // The copy is the JSON text: reads parse it, and most objects put are read again at most once.
      entry.view = { value: undefined, version, expiresAt: options.expiresAt, json: JSON.stringify(value) };
    } else {
      entry.view = { value: jsonCopy(value), version, expiresAt: options.expiresAt };
    }
    entry.overwritten = true;
    entry.dirty = true;
    return true;
  }

  async increment(key: string, delta: number, expiresAt: number): Promise<number> {
    this.assertIdle();
    const entry = this.entries.get(key) ?? (await this.load(key));
    this.logicalWrites++;
    const current = this.alive(entry.view, this.now());
    if (current !== undefined && typeof valueOf(current) !== 'number') {
      throw new TypeError(`state key ${JSON.stringify(key)} does not hold a number; cannot increment`);
    }
    const total = (current === undefined ? 0 : (current.value as number)) + delta;
    entry.view = { value: total, version: (entry.view?.version ?? 0) + 1, expiresAt };
    entry.dirty = true;
    return total;
  }

  async delete(key: string): Promise<void> {
    const entry = await this.load(key);
    this.logicalWrites++;
    entry.view = undefined;
    entry.overwritten = true;
    entry.dirty = true;
  }

  /**
   * Writes every pending change to the inner store, at most one write per key, then
   * empties the cache (the next batch reads fresh). Keys whose inner write threw stay
   * pending so flush() can be retried; the first such error is rethrown.
   * @throws StateFlushConflictError when conditional writes lost to concurrent writers.
   */
  async flush(): Promise<FlushResult> {
    this.assertIdle();
    this.flushing = true;
    const entries = this.entries;
    this.entries = new Map();
    const dirty = [...entries].filter(([, e]) => e.dirty);
    const conflicts: FlushConflict[] = [];
    const failed = new Map<string, Entry>();
    let firstError: unknown;
    let writes = 0;
    try {
      const now = this.now();
      let next = 0;
      const worker = async (): Promise<void> => {
        for (let i = next++; i < dirty.length; i = next++) {
          const [key, entry] = dirty[i] as [string, Entry];
          try {
            writes++;
            const conflict = await this.writeEntry(key, entry, now);
            if (conflict) conflicts.push(conflict);
          } catch (err) {
            failed.set(key, entry);
            firstError ??= err;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.flushConcurrency, dirty.length) }, worker));
    } finally {
      this.writes += writes;
      for (const [key, entry] of failed) this.entries.set(key, entry);
      this.flushing = false;
    }
    const result: FlushResult = { writes, conflicts };
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what the store raised, as it was
    if (firstError !== undefined) throw firstError;
    if (conflicts.length > 0) throw new StateFlushConflictError(result);
    return result;
  }

  /** Drops cached reads and pending changes without writing them. */
  discard(): void {
    this.assertIdle();
    this.entries.clear();
  }

  /** Flushes, then closes the inner store. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.inner.close();
    }
  }

  private async writeEntry(key: string, entry: Entry, now: number): Promise<FlushConflict | undefined> {
    const view = entry.view;
    const base = this.alive(entry.base, now);
    if (!entry.overwritten && view && (base === undefined || typeof base.value === 'number')) {
      // The delta that takes the store from what it holds now to the view. Usually the sum
      // of the batch's deltas; differs when the loaded item expires between the batch's
      // increments and the flush (the store restarts the counter, the view did not).
      const delta = (view.value as number) - (base === undefined ? 0 : (base.value as number));
      await this.inner.increment(key, delta, view.expiresAt);
      return undefined;
    }
    if (!entry.conditional) {
      if (view) await this.inner.put(key, valueOf(view), { expiresAt: view.expiresAt });
      else await this.inner.delete(key);
      return undefined;
    }
    // The batch's view was derived from `base`; write only if the inner store still has it.
    const expectedVersion = base?.version ?? 0;
    // A conditional batch that ended deleted: the port has no conditional delete, so
    // make the item dead through a conditional put that expires it instead.
    const value = view ? valueOf(view) : null;
    const expiresAt = view ? view.expiresAt : now - 1;
    const ok = await this.inner.put(key, value, { expiresAt, expectedVersion });
    return ok ? undefined : { key, expectedVersion };
  }

  private assertIdle(): void {
    if (this.flushing) throw new Error('BatchStateCache used while flush() is running; await flush() first');
  }

  private async load(key: string): Promise<Entry> {
    this.assertIdle();
    const cached = this.entries.get(key);
    if (cached) return cached;
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.inner.get(key).then((item) => this.install(key, item));
      this.loading.set(key, pending);
      pending.then(
        () => this.loading.delete(key),
        () => this.loading.delete(key),
      );
    }
    return pending;
  }

  /** First loader wins, so concurrent loads of one key share a single entry. */
  private install(key: string, item: StateItem | undefined): Entry {
    const existing = this.entries.get(key);
    if (existing) return existing;
    const base = item ? { value: item.value, version: item.version, expiresAt: item.expiresAt } : undefined;
    const entry: Entry = {
      base,
      view: base ? { ...base } : undefined,
      overwritten: false,
      conditional: false,
      dirty: false,
    };
    this.entries.set(key, entry);
    return entry;
  }

  private alive(item: ViewItem | undefined, now: number): ViewItem | undefined {
    return item !== undefined && item.expiresAt >= now ? item : undefined;
  }

  private read<T>(entry: Entry, now: number): StateItem<T> | undefined {
    const item = this.alive(entry.view, now);
    if (!item) return undefined;
    const v = item.value;
    let value: unknown;
    if (item.frozen === true) value = v;
    else if (item.json !== undefined) value = JSON.parse(item.json);
    else if (v !== null && typeof v === 'object') value = JSON.parse((item.json = JSON.stringify(v)));
    else value = v === undefined ? null : v;
    return { value: value as T, version: item.version, expiresAt: item.expiresAt };
  }
}
