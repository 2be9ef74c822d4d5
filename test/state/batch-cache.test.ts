import { describe, expect, it } from 'vitest';
import { BatchStateCache, StateFlushConflictError } from '../../lib/state/batch-cache.ts';
import { deepFreeze, type StatePort } from '../../lib/state/port.ts';
import { SqliteState } from '../../lib/state/sqlite.ts';
import { describeStateContract } from './contract.ts';
import { FlushEachWrite } from './flush-each.ts';

const T0 = 1_750_000_000;

describeStateContract('BatchStateCache over SqliteState (one batch, unflushed)', (now) => {
  const cache = new BatchStateCache(new SqliteState({ path: ':memory:', nowSeconds: now }), { nowSeconds: now });
  return { state: cache, settle: async () => void (await cache.flush()) };
});

describeStateContract('BatchStateCache over SqliteState (flush after each write)', (now) => {
  const cache = new BatchStateCache(new SqliteState({ path: ':memory:', nowSeconds: now }), { nowSeconds: now });
  return { state: new FlushEachWrite(cache) };
});

interface Rig {
  inner: SqliteState;
  cache: BatchStateCache;
  readonly setNow: (t: number) => void;
}

function rig(): Rig {
  let now = T0;
  const clock = (): number => now;
  const inner = new SqliteState({ path: ':memory:', nowSeconds: clock });
  const cache = new BatchStateCache(inner, { nowSeconds: clock });
  return { inner, cache, setNow: (t) => void (now = t) };
}

/** Counts reads reaching the wrapped store. */
function countingReads(inner: StatePort): { port: StatePort; reads: () => number } {
  let reads = 0;
  const port: StatePort = {
    get: (key) => (reads++, inner.get(key)),
    getMany: (keys) => (reads++, inner.getMany(keys)),
    put: (key, value, options) => inner.put(key, value, options),
    increment: (key, delta, expiresAt) => inner.increment(key, delta, expiresAt),
    delete: (key) => inner.delete(key),
    get writeCount() {
      return inner.writeCount;
    },
    close: () => inner.close(),
  };
  return { port, reads: () => reads };
}

describe('BatchStateCache write reduction', () => {
  it('turns 10,000 increments on one hot key into one write and one read', async () => {
    const inner = new SqliteState({ path: ':memory:', nowSeconds: () => T0 });
    const { port, reads } = countingReads(inner);
    const cache = new BatchStateCache(port, { nowSeconds: () => T0 });
    await inner.increment('token#hot', 5, T0 + 60);
    const before = inner.writeCount;

    for (let i = 1; i <= 10_000; i++) {
      expect(await cache.increment('token#hot', 1, T0 + 60)).toBe(5 + i);
    }
    expect(inner.writeCount).toBe(before);
    const result = await cache.flush();

    expect(result).toEqual({ writes: 1, conflicts: [] });
    expect(inner.writeCount).toBe(before + 1);
    expect(reads()).toBe(1);
    expect(cache.writeCount).toBe(1);
    expect(cache.logicalWriteCount).toBe(10_000);
    expect((await inner.get('token#hot'))?.value).toBe(10_005);
  });

  it('shares one load between concurrent first touches of a key', async () => {
    const inner = new SqliteState({ path: ':memory:', nowSeconds: () => T0 });
    const { port, reads } = countingReads(inner);
    const cache = new BatchStateCache(port, { nowSeconds: () => T0 });
    const totals = await Promise.all(Array.from({ length: 1_000 }, () => cache.increment('k', 1, T0 + 60)));
    expect(new Set(totals).size).toBe(1_000);
    expect(Math.max(...totals)).toBe(1_000);
    expect(reads()).toBe(1);
    await cache.flush();
    expect(inner.writeCount).toBe(1);
    expect((await inner.get('k'))?.value).toBe(1_000);
  });

  it('coalesces puts (last wins) and mixed operations into one write per key', async () => {
    const { inner, cache } = rig();
    for (let i = 0; i < 500; i++) await cache.put('p', { i }, { expiresAt: T0 + 60 });
    await cache.put('mixed', 10, { expiresAt: T0 + 60 });
    await cache.increment('mixed', 5, T0 + 90);
    await cache.increment('counter', 2, T0 + 60);
    await cache.delete('counter');
    await cache.increment('counter', 3, T0 + 60);
    expect(cache.pendingKeys).toBe(3);

    expect((await cache.flush()).writes).toBe(3);
    expect(inner.writeCount).toBe(3);
    expect((await inner.get('p'))?.value).toEqual({ i: 499 });
    expect(await inner.get('mixed')).toMatchObject({ value: 15, expiresAt: T0 + 90 });
    expect((await inner.get('counter'))?.value).toBe(3);
    expect(cache.pendingKeys).toBe(0);
    expect((await cache.flush()).writes).toBe(0);
  });

  it('does not write keys that were only read or whose conditional put failed', async () => {
    const { inner, cache } = rig();
    await inner.put('seen', 'x', { expiresAt: T0 + 60 });
    const before = inner.writeCount;
    await cache.get('seen');
    await cache.getMany(['seen', 'other']);
    expect(await cache.put('seen', 'y', { expiresAt: T0 + 60, expectedVersion: 0 })).toBe(false);
    expect((await cache.flush()).writes).toBe(0);
    expect(inner.writeCount).toBe(before);
  });
});

describe('BatchStateCache conditional puts', () => {
  it('keeps conditional semantics inside a batch and writes one conditional put', async () => {
    const { inner, cache } = rig();
    expect(await cache.put('dedupe', 'first', { expiresAt: T0 + 60, expectedVersion: 0 })).toBe(true);
    expect(await cache.put('dedupe', 'second', { expiresAt: T0 + 60, expectedVersion: 0 })).toBe(false);
    const item = await cache.get('dedupe');
    expect(await cache.put('dedupe', 'third', { expiresAt: T0 + 60, expectedVersion: item?.version })).toBe(true);
    expect(await cache.put('dedupe', 'stale', { expiresAt: T0 + 60, expectedVersion: item?.version })).toBe(false);
    await cache.flush();
    expect(inner.writeCount).toBe(1);
    expect(await inner.get('dedupe')).toEqual({ value: 'third', version: 1, expiresAt: T0 + 60 });
  });

  it('reports, not ignores, a conditional put that lost to another writer at flush', async () => {
    const { inner, cache } = rig();
    await inner.put('versioned', 'v1', { expiresAt: T0 + 60 });
    expect(await cache.put('new', 'mine', { expiresAt: T0 + 60, expectedVersion: 0 })).toBe(true);
    expect(await cache.put('versioned', 'mine', { expiresAt: T0 + 60, expectedVersion: 1 })).toBe(true);
    await cache.increment('unrelated', 1, T0 + 60);
    // Another Lambda writes both keys between our read and our flush.
    await inner.put('new', 'theirs', { expiresAt: T0 + 60 });
    await inner.put('versioned', 'theirs', { expiresAt: T0 + 60 });

    const error = await cache.flush().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(StateFlushConflictError);
    const conflict = error as StateFlushConflictError;
    expect([...conflict.conflicts].sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: 'new', expectedVersion: 0 },
      { key: 'versioned', expectedVersion: 1 },
    ]);
    expect(conflict.result.writes).toBe(3);
    // The other writer's values stand; non-conflicting keys were still written.
    expect((await inner.get('new'))?.value).toBe('theirs');
    expect((await inner.get('versioned'))?.value).toBe('theirs');
    expect((await inner.get('unrelated'))?.value).toBe(1);
    // Conflicting changes are dropped, not retried on the next flush.
    expect(cache.pendingKeys).toBe(0);
  });

  it('reports a conflict for a conditional batch that ended in a delete', async () => {
    const { inner, cache } = rig();
    expect(await cache.put('gone', 'mine', { expiresAt: T0 + 60, expectedVersion: 0 })).toBe(true);
    await cache.delete('gone');
    await inner.put('gone', 'theirs', { expiresAt: T0 + 60 });
    await expect(cache.flush()).rejects.toBeInstanceOf(StateFlushConflictError);
    expect((await inner.get('gone'))?.value).toBe('theirs');
  });

  it('lets a conditional batch that ended in a delete through when nobody interfered', async () => {
    const { inner, cache } = rig();
    await inner.put('gone', 'old', { expiresAt: T0 + 60 });
    expect(await cache.put('gone', 'mine', { expiresAt: T0 + 60, expectedVersion: 1 })).toBe(true);
    await cache.delete('gone');
    await cache.flush();
    expect(await inner.get('gone')).toBeUndefined();
    expect(await inner.put('gone', 'fresh', { expiresAt: T0 + 60, expectedVersion: 0 })).toBe(true);
  });
});

describe('BatchStateCache with counters from other writers', () => {
  it('flushes increments as a delta, so concurrent increments elsewhere add up', async () => {
    const { inner, cache } = rig();
    await inner.increment('shared', 10, T0 + 60);
    expect(await cache.increment('shared', 5, T0 + 60)).toBe(15);
    await inner.increment('shared', 100, T0 + 60);
    await cache.flush();
    expect((await inner.get('shared'))?.value).toBe(115);
  });
});

describe('BatchStateCache expiry (injected clock)', () => {
  it('reads expired items as absent and restarts expired counters', async () => {
    const { inner, cache, setNow } = rig();
    await inner.put('short', 'x', { expiresAt: T0 + 10 });
    await inner.increment('count', 7, T0 + 10);
    expect((await cache.get('short'))?.value).toBe('x');
    expect(await cache.increment('count', 1, T0 + 10)).toBe(8);

    setNow(T0 + 11);
    expect(await cache.get('short')).toBeUndefined();
    expect((await cache.getMany(['short', 'count'])).size).toBe(0);
    expect(await cache.increment('count', 2, T0 + 100)).toBe(2);
    expect(await cache.put('short', 'y', { expiresAt: T0 + 100, expectedVersion: 0 })).toBe(true);
    await cache.flush();
    expect((await inner.get('count'))?.value).toBe(2);
    expect((await inner.get('short'))?.value).toBe('y');
  });

  it('keeps a counter whose loaded item expires between its increments and the flush', async () => {
    const { inner, cache, setNow } = rig();
    await inner.increment('window', 5, T0 + 10);
    setNow(T0 + 5);
    expect(await cache.increment('window', 1, T0 + 100)).toBe(6);
    setNow(T0 + 20); // the stored item (expiresAt T0+10) is now dead, the view (T0+100) is not
    expect((await cache.get('window'))?.value).toBe(6);
    await cache.flush();
    expect(await inner.get('window')).toMatchObject({ value: 6, expiresAt: T0 + 100 });
  });
});

describe('BatchStateCache copies', () => {
  it('copies an object on put: mutating it afterwards changes neither reads nor the flushed write', async () => {
    const { inner, cache } = rig();
    const value = { n: 1, list: [{ a: 'x' }] };
    await cache.put('k', value, { expiresAt: T0 + 60 });
    value.n = 2;
    (value.list[0] as { a: string }).a = 'changed';
    const read = (await cache.get<typeof value>('k'))?.value;
    expect(read).toEqual({ n: 1, list: [{ a: 'x' }] });
    read!.n = 3;
    expect((await cache.get('k'))?.value).toEqual({ n: 1, list: [{ a: 'x' }] });
    await cache.flush();
    expect((await inner.get('k'))?.value).toEqual({ n: 1, list: [{ a: 'x' }] });
  });

  it('keeps a deep-frozen value put with `frozen` and hands it back as it is; the flush writes it', async () => {
    const { inner, cache } = rig();
    const value = deepFreeze({ n: 1, list: [{ a: 'x' }] });
    expect(Object.isFrozen(value.list[0])).toBe(true);
    await cache.put('k', value, { expiresAt: T0 + 60, frozen: true });
    expect((await cache.get('k'))?.value).toBe(value);
    await expect(cache.increment('k', 1, T0 + 60)).rejects.toThrow(/does not hold a number/);
    await cache.flush();
    expect(await inner.get('k')).toMatchObject({ value: { n: 1, list: [{ a: 'x' }] }, expiresAt: T0 + 60 });
    // Read back from the store after the flush: a copy again.
    const reread = (await cache.get('k'))?.value;
    expect(reread).toEqual(value);
    expect(reread).not.toBe(value);
  });
});

describe('BatchStateCache lifecycle', () => {
  it('keeps keys whose write failed pending so flush can be retried', async () => {
    const { inner } = rig();
    let failNext = true;
    const flaky: StatePort = {
      get: (key) => inner.get(key),
      getMany: (keys) => inner.getMany(keys),
      put: (key, value, options) => inner.put(key, value, options),
      increment: async (key, delta, expiresAt) => {
        if (failNext) {
          failNext = false;
          throw new Error('throttled');
        }
        return inner.increment(key, delta, expiresAt);
      },
      delete: (key) => inner.delete(key),
      get writeCount() {
        return inner.writeCount;
      },
      close: () => inner.close(),
    };
    const cache = new BatchStateCache(flaky, { nowSeconds: () => T0 });
    await cache.increment('a', 3, T0 + 60);
    await cache.put('b', 'ok', { expiresAt: T0 + 60 });
    await expect(cache.flush()).rejects.toThrow('throttled');
    expect(cache.pendingKeys).toBe(1);
    expect((await inner.get('b'))?.value).toBe('ok');
    expect(await cache.increment('a', 1, T0 + 60)).toBe(4);
    await cache.flush();
    expect((await inner.get('a'))?.value).toBe(4);
  });

  it('refuses use while a flush is running', async () => {
    const { cache } = rig();
    await cache.increment('a', 1, T0 + 60);
    const flushing = cache.flush();
    await expect(cache.get('a')).rejects.toThrow(/while flush/);
    await flushing;
  });

  it('discard() drops pending changes; close() flushes then closes the inner store', async () => {
    const { inner, cache } = rig();
    await cache.put('dropped', 1, { expiresAt: T0 + 60 });
    cache.discard();
    await cache.flush();
    expect(await inner.get('dropped')).toBeUndefined();
    await cache.put('kept', 1, { expiresAt: T0 + 60 });
    await cache.close();
    expect(inner.writeCount).toBe(1);
    await expect(inner.get('kept')).rejects.toThrow();
  });
});
