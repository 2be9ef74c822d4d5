/**
 * The detect stage's memory of the events it has already counted, so a re-sent event (a backfill
 * re-run, an SQS redelivery of a batch, a backfill window overlapping live delivery) reaches no
 * detector twice. Exact by construction: it stores every event uid it marks, losslessly, and answers
 * "seen" only for a uid it holds. No hash or filter that could call a new event seen (that would
 * blind every detector to it, which is worse than counting it twice).
 *
 * Layout: a time trie in the detect partition of the state store, through the StatePort. An event's
 * path is the nodes of its event time, coarse to fine:
 *   `seen:86400:<day>`, `seen:3600:<hour>`, `seen:60:<minute>`, `seen:10:<t>`, `seen:10:<t>.1`, ...
 * each `{u: [uids], d?: 1}`. A uid is stored in the first node of its path that is not full; a full
 * node (about 8 KB) is flagged `d` and later uids go one step finer (the 10-second level continues
 * in numbered parts). `last-event` holds the latest event time (ms) the stage saw and its last
 * pauses, for the backfill after a silence; it is rewritten only when it moves by a minute or more.
 *
 * Cost: an event is marked only when some detector, the roster or the network memory looks at it
 * (the others change no state, so counting them twice is harmless). A flush writes each node that
 * got new uids once, after the detectors' state. Sparse traffic (audit events hours apart) lands in
 * one day or hour node, dense traffic (a registration storm) in the 10-second nodes, so a batch
 * touches one or two nodes either way; nodes stay under 8 KB because DynamoDB bills an update by
 * the item's size. A uuid is kept as 22 base64url characters; any other uid as `~` + itself (no
 * uuid encoding starts with `~`).
 *
 * Commit order: detector state first, then the marks. A flush that fails leaves the events unmarked,
 * so their redelivery is counted (possibly twice, never not at all). Marks merge by set union
 * (conditional writes, re-read and retried on a race), so concurrent batches never lose each other's
 * marks. Not covered: one event in two batches processed at the same instant (both read "new"
 * before either commits): SQS makes that rare, and its cost is one double count.
 */
import type { StateItem, StatePort } from '../state/port.ts';

/** Widths of the trie's levels, seconds of event time, coarse to fine. */
export const SEEN_LEVEL_SECONDS = [86_400, 3_600, 60, 10] as const;
/** JSON characters a node holds before it is full (about 320 uuids; DynamoDB bills an update 1 write unit per KB of the item). */
export const SEEN_NODE_CHARS = 8_192;
/** last-event is rewritten when the latest event time moves by at least this much. */
const LAST_EVENT_STEP_MS = 60_000;
/** An event time further ahead of the store clock than this is not trusted as "last seen". */
const FUTURE_SKEW_MS = 5 * 60_000;
const CONFLICT_ATTEMPTS = 8;

export const LAST_EVENT_KEY = 'last-event';
/** A pause in event time at least this long is kept in last-event's gaps (the shortest silence alarm is 5 minutes). */
const GAP_MS = 5 * 60_000;
const MAX_GAPS = 8;

/**
 * `last-event`: the latest event time (ms) the detect stage saw, and the last pauses in event time
 * (`[last event before, first event after]`), so the backfill after a silence finds where the
 * silence began even when events flow again before it runs.
 */
export interface LastEvent {
  readonly t: number;
  readonly gaps: ReadonlyArray<readonly [number, number]>;
}

/** The parts of `aws.blindness` the seen-set's retention follows (a plain shape: the Lambda bundles no config schema). */
export interface ResentMemorySettings {
  readonly resentEventMemoryDays?: number | undefined;
  readonly backfillSeedDays?: number | undefined;
  readonly backfillMaxReachDays?: number | undefined;
}

/** Days a mark is kept: as configured, or a day beyond the farthest a backfill reaches (defaults 7 and 7). */
export function resentMemoryDays(b: ResentMemorySettings = {}): number {
  return b.resentEventMemoryDays ?? Math.max(b.backfillSeedDays ?? 7, b.backfillMaxReachDays ?? 7) + 1;
}

interface Node {
  u: string[];
  /** Full: uids go one step finer. */
  d?: 1;
}

interface Mark {
  readonly id: string;
  readonly timeMs: number;
}

interface Cached {
  readonly key: string;
  readonly depth: number;
  /** Event second the node's window ends at (its expiry follows it). */
  readonly end: number;
  /** What the store holds (as last read) plus this batch's marks. */
  ids: Set<string>;
  stored: string[];
  full: boolean;
  version: number;
  pending: Mark[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Lossless and injective: a lowercase uuid as its 16 bytes in base64url, anything else behind `~`. */
export function compactUid(uid: string): string {
  return UUID.test(uid) ? Buffer.from(uid.replaceAll('-', ''), 'hex').toString('base64url') : `~${uid}`;
}

const LAST_LEVEL = SEEN_LEVEL_SECONDS.length - 1;

/** The node at `depth` of the path of an event at `timeMs`: its key and the end of its window. */
function nodeAt(timeMs: number, depth: number): { key: string; end: number } {
  const level = Math.min(depth, LAST_LEVEL);
  const width = SEEN_LEVEL_SECONDS[level] as number;
  const start = Math.floor(timeMs / 1000 / width) * width;
  const part = depth - level;
  return { key: part === 0 ? `seen:${width}:${start}` : `seen:${width}:${start}.${part}`, end: start + width };
}

const chars = (ids: readonly string[]): number => ids.reduce((n, u) => n + u.length + 3, 16);

export interface SeenSetOptions {
  /** Seconds a mark is kept after max(end of its node's window, store clock). */
  readonly retentionSeconds: number;
  /** The store's clock, epoch seconds. */
  readonly storeClock: () => number;
}

export class SeenSet {
  private readonly state: StatePort;
  private readonly options: SeenSetOptions;
  private nodes = new Map<string, Cached>();
  private readonly loading = new Map<string, Promise<Cached>>();
  private latest = Number.NEGATIVE_INFINITY;
  private writes = 0;

  /** `state`: the detect partition of the store itself (keys namespaced), not a batch cache. */
  constructor(state: StatePort, options: SeenSetOptions) {
    this.state = state;
    this.options = options;
  }

  /** Writes issued by commits so far. */
  get writeCount(): number {
    return this.writes;
  }

  /** Notes an event time for `last-event` (every event the stage sees, detected or not). */
  noteTime(timeMs: number): void {
    if (timeMs > this.latest) this.latest = timeMs;
  }

  /**
   * True when the event is new: it is then marked (pending until commit). False when it was marked
   * before (committed, or earlier in this batch).
   */
  async markIfNew(uid: string, timeMs: number): Promise<boolean> {
    const id = compactUid(uid);
    for (let depth = 0; ; depth++) {
      const found = this.node(timeMs, depth);
      // Cached nodes answer synchronously: no microtask per level on the hot path.
      const node = found instanceof Promise ? await found : found;
      if (node.ids.has(id)) return false;
      if (!node.full) {
        node.ids.add(id);
        node.pending.push({ id, timeMs });
        return true;
      }
    }
  }

  /** Writes the batch's marks (call after the detectors' state is flushed); returns the writes issued. */
  async commit(): Promise<number> {
    let writes = 0;
    // Coarse nodes first: what overflows them joins finer nodes, committed after.
    for (;;) {
      const next = [...this.nodes.values()].filter((n) => n.pending.length > 0).sort((a, b) => a.depth - b.depth)[0];
      if (next === undefined) break;
      writes += await this.commitNode(next);
    }
    writes += await this.commitLatest();
    // Forgotten once written: the next batch reads what concurrent writers added too.
    this.discard();
    this.writes += writes;
    return writes;
  }

  /** Forgets the batch's marks without writing them (the batch's state was dropped). */
  discard(): void {
    this.nodes = new Map();
    this.latest = Number.NEGATIVE_INFINITY;
  }

  private node(timeMs: number, depth: number): Cached | Promise<Cached> {
    const { key, end } = nodeAt(timeMs, depth);
    const cached = this.nodes.get(key);
    if (cached) return cached;
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.state.get<Node>(key).then((item) => {
        const existing = this.nodes.get(key);
        if (existing) return existing;
        const node: Cached = { key, depth, end, ids: new Set(), stored: [], full: false, version: 0, pending: [] };
        this.refresh(node, item);
        this.nodes.set(key, node);
        return node;
      });
      this.loading.set(key, pending);
      const done = () => this.loading.delete(key);
      pending.then(done, done);
    }
    return pending;
  }

  private refresh(node: Cached, item: StateItem<Node> | undefined): void {
    node.stored = Array.isArray(item?.value?.u) ? item.value.u : [];
    node.full = item?.value?.d === 1;
    node.version = item?.version ?? 0;
    node.ids = new Set([...node.stored, ...node.pending.map((m) => m.id)]);
  }

  /** Appends the node's pending marks; what does not fit (or arrives after another writer filled it) goes one step finer. */
  private async commitNode(node: Cached): Promise<number> {
    let writes = 0;
    for (let attempt = 0; ; attempt++) {
      if (attempt >= CONFLICT_ATTEMPTS) throw new Error(`seen-set node ${node.key} kept changing under concurrent writers; gave up after ${attempt} attempts`);
      const stored = new Set(node.stored);
      const add = node.pending.filter((m) => !stored.has(m.id));
      let overflow: Mark[] = [];
      if (add.length > 0 && node.full) {
        overflow = add;
      } else if (add.length > 0) {
        const ids = [...node.stored];
        let size = chars(ids);
        let i = 0;
        for (; i < add.length; i++) {
          const m = add[i] as Mark;
          if (size + m.id.length + 3 > SEEN_NODE_CHARS && ids.length > 0) break;
          ids.push(m.id);
          size += m.id.length + 3;
        }
        overflow = add.slice(i);
        const value: Node = overflow.length > 0 ? { u: ids, d: 1 } : { u: ids };
        writes++;
        const expiresAt = Math.max(node.end, this.options.storeClock()) + this.options.retentionSeconds;
        if (!(await this.state.put<Node>(node.key, value, { expiresAt, expectedVersion: node.version }))) {
          // Another writer changed it: read it again and merge again.
          this.refresh(node, await this.state.get<Node>(node.key));
          continue;
        }
      }
      node.pending = [];
      for (const m of overflow) {
        const finer = await this.node(m.timeMs, node.depth + 1);
        if (!finer.ids.has(m.id)) {
          finer.ids.add(m.id);
          finer.pending.push(m);
        }
      }
      return writes;
    }
  }

  private async commitLatest(): Promise<number> {
    if (!Number.isFinite(this.latest)) return 0;
    const latest = Math.min(this.latest, this.options.storeClock() * 1000 + FUTURE_SKEW_MS);
    let writes = 0;
    for (let attempt = 0; attempt < CONFLICT_ATTEMPTS; attempt++) {
      const item = await this.state.get<LastEvent>(LAST_EVENT_KEY);
      const prior = item?.value;
      if (prior !== undefined && latest < prior.t + LAST_EVENT_STEP_MS) return writes;
      const gaps = prior?.gaps ?? [];
      const value: LastEvent = { t: latest, gaps: prior !== undefined && latest - prior.t >= GAP_MS ? [...gaps, [prior.t, latest] as const].slice(-MAX_GAPS) : gaps };
      writes++;
      const expiresAt = this.options.storeClock() + this.options.retentionSeconds;
      if (await this.state.put<LastEvent>(LAST_EVENT_KEY, value, { expiresAt, expectedVersion: item?.version ?? 0 })) return writes;
    }
    return writes;
  }
}
