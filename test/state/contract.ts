/**
 * The StatePort contract (lib/state/port.ts). Every adapter registers it with its own factory.
 * Each test gets a fresh store from the factory and a clock it controls (event time).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StatePort } from '../../lib/state/port.ts';

export interface ContractSubject {
  readonly state: StatePort;
  /** Makes writes visible to writeCount (e.g. flushes a write-behind cache). */
  readonly settle?: () => Promise<void>;
  readonly cleanup?: () => Promise<void>;
}

/** `now` is the clock the store must use for expiry. */
export type ContractFactory = (now: () => number) => Promise<ContractSubject> | ContractSubject;

const T0 = 1_750_000_000;

export interface ContractOptions {
  /**
   * False when the backing store cannot promise atomic updates under concurrent requests: moto's
   * DynamoDB server handles requests in threads without an item lock, so concurrent ADDs can be lost
   * there (never in DynamoDB). The DynamoDB adapter proves its one-ADD-per-increment protocol instead.
   */
  readonly storeIsAtomicUnderConcurrency?: boolean;
}

export function describeStateContract(name: string, factory: ContractFactory, options: ContractOptions = {}): void {
  describe(`StatePort contract: ${name}`, () => {
    let clock = T0;
    let subject: ContractSubject;
    let state: StatePort;
    let run = 0;
    // Unique per test, so stores shared between tests (one DynamoDB table) don't collide.
    let prefix = '';
    const k = (name: string): string => `${prefix}${name}`;

    beforeEach(async () => {
      clock = T0;
      run++;
      prefix = `c${run}-${Math.random().toString(36).slice(2, 8)}#`;
      subject = await factory(() => clock);
      state = subject.state;
    });

    afterEach(async () => {
      await state.close();
      await subject.cleanup?.();
    });

    it('reads a missing key as absent', async () => {
      expect(await state.get(k('missing'))).toBeUndefined();
      expect((await state.getMany([k('missing')])).size).toBe(0);
    });

    it('puts unconditionally, starting at version 1 and bumping it on every write', async () => {
      expect(await state.put(k('a'), { n: 1 }, { expiresAt: T0 + 60 })).toBe(true);
      expect(await state.get(k('a'))).toEqual({ value: { n: 1 }, version: 1, expiresAt: T0 + 60 });
      expect(await state.put(k('a'), { n: 2 }, { expiresAt: T0 + 120 })).toBe(true);
      expect(await state.get(k('a'))).toEqual({ value: { n: 2 }, version: 2, expiresAt: T0 + 120 });
    });

    it('round-trips JSON values', async () => {
      const values: unknown[] = [{ nested: { list: [1, 'two', null, true], empty: {}, s: '' } }, ['a', { b: [] }], 'plain string', '', 'üñíçødé ✓ 🪁', 0, -3, 12.5, true, false, null];
      for (const [i, value] of values.entries()) {
        await state.put(k(`v${i}`), value, { expiresAt: T0 + 60 });
      }
      for (const [i, value] of values.entries()) {
        expect((await state.get(k(`v${i}`)))?.value).toEqual(value);
      }
    });

    it('returns copies: mutating a read value does not change the store', async () => {
      await state.put(k('obj'), { list: [1] }, { expiresAt: T0 + 60 });
      const first = await state.get<{ list: number[] }>(k('obj'));
      first?.value.list.push(2);
      expect((await state.get(k('obj')))?.value).toEqual({ list: [1] });
    });

    it('returns copies of flat records too, equal to their JSON round trip', async () => {
      const written: Record<string, unknown> = { w: 3, c: 1.5, s: 'x', b: true, n: null, z: -0 };
      await state.put(k('flat'), written, { expiresAt: T0 + 60 });
      written['w'] = 99; // the caller's object is not the stored one
      const first = await state.get<Record<string, unknown>>(k('flat'));
      expect(first?.value).toEqual({ w: 3, c: 1.5, s: 'x', b: true, n: null, z: 0 });
      expect(Object.is(first?.value['z'], 0)).toBe(true);
      (first?.value as Record<string, unknown>)['c'] = 7;
      expect((await state.get(k('flat')))?.value).toEqual({ w: 3, c: 1.5, s: 'x', b: true, n: null, z: 0 });
    });

    it('expectedVersion 0 writes only when the key is absent', async () => {
      expect(await state.put(k('once'), 'first', { expiresAt: T0 + 60, expectedVersion: 0 })).toBe(true);
      expect(await state.put(k('once'), 'second', { expiresAt: T0 + 60, expectedVersion: 0 })).toBe(false);
      expect(await state.get(k('once'))).toEqual({ value: 'first', version: 1, expiresAt: T0 + 60 });
    });

    it('expectedVersion 0 takes over an expired item, with a higher version', async () => {
      await state.put(k('old'), 'old', { expiresAt: T0 + 10 });
      await state.put(k('old'), 'old2', { expiresAt: T0 + 10 });
      clock = T0 + 11;
      expect(await state.put(k('old'), 'new', { expiresAt: T0 + 100, expectedVersion: 0 })).toBe(true);
      const item = await state.get(k('old'));
      expect(item?.value).toBe('new');
      expect(item?.expiresAt).toBe(T0 + 100);
      expect(item?.version).toBeGreaterThanOrEqual(1);
      // ...and versions keep working for optimistic concurrency afterwards.
      expect(await state.put(k('old'), 'newer', { expiresAt: T0 + 100, expectedVersion: item?.version })).toBe(true);
    });

    it('expectedVersion n writes only over exactly version n', async () => {
      await state.put(k('cas'), 'v1', { expiresAt: T0 + 60 });
      expect(await state.put(k('cas'), 'x', { expiresAt: T0 + 60, expectedVersion: 2 })).toBe(false);
      expect(await state.put(k('cas'), 'v2', { expiresAt: T0 + 90, expectedVersion: 1 })).toBe(true);
      expect(await state.get(k('cas'))).toEqual({ value: 'v2', version: 2, expiresAt: T0 + 90 });
      expect(await state.put(k('cas'), 'stale', { expiresAt: T0 + 60, expectedVersion: 1 })).toBe(false);
      expect((await state.get(k('cas')))?.value).toBe('v2');
    });

    it('expectedVersion n fails on an absent key and on an expired item', async () => {
      expect(await state.put(k('none'), 'x', { expiresAt: T0 + 60, expectedVersion: 1 })).toBe(false);
      expect(await state.get(k('none'))).toBeUndefined();
      await state.put(k('dying'), 'x', { expiresAt: T0 + 5 });
      clock = T0 + 6;
      expect(await state.put(k('dying'), 'y', { expiresAt: T0 + 60, expectedVersion: 1 })).toBe(false);
      expect(await state.get(k('dying'))).toBeUndefined();
    });

    it('reads items as absent once the clock passes expiresAt (inclusive bound alive)', async () => {
      await state.put(k('ttl'), 'x', { expiresAt: T0 + 30 });
      await state.put(k('keep'), 'y', { expiresAt: T0 + 3_600 });
      clock = T0 + 30;
      expect((await state.get(k('ttl')))?.value).toBe('x');
      clock = T0 + 31;
      expect(await state.get(k('ttl'))).toBeUndefined();
      const many = await state.getMany([k('ttl'), k('keep')]);
      expect([...many.keys()]).toEqual([k('keep')]);
      // Event time may go back (late events): the item is alive again for that time.
      clock = T0;
      expect((await state.get(k('ttl')))?.value).toBe('x');
    });

    it('increments atomically: creates at delta, returns running totals, extends expiry', async () => {
      expect(await state.increment(k('n'), 1, T0 + 60)).toBe(1);
      expect(await state.increment(k('n'), 4, T0 + 90)).toBe(5);
      expect(await state.increment(k('n'), -2, T0 + 120)).toBe(3);
      const item = await state.get(k('n'));
      expect(item?.value).toBe(3);
      expect(item?.expiresAt).toBe(T0 + 120);
      expect(item?.version).toBeGreaterThanOrEqual(1);
    });

    it.runIf(options.storeIsAtomicUnderConcurrency !== false)('runs concurrent increments without losing any', async () => {
      await Promise.all(Array.from({ length: 25 }, () => state.increment(k('race'), 1, T0 + 60)));
      expect((await state.get(k('race')))?.value).toBe(25);
    });

    it('restarts an expired counter at delta', async () => {
      await state.increment(k('win'), 7, T0 + 10);
      clock = T0 + 11;
      expect(await state.increment(k('win'), 2, T0 + 70)).toBe(2);
      expect(await state.get(k('win'))).toMatchObject({ value: 2, expiresAt: T0 + 70 });
    });

    it('increments a number stored by put, and rejects a non-number', async () => {
      await state.put(k('num'), 10, { expiresAt: T0 + 60 });
      expect(await state.increment(k('num'), 5, T0 + 60)).toBe(15);
      await state.put(k('obj'), { a: 1 }, { expiresAt: T0 + 60 });
      await expect(state.increment(k('obj'), 1, T0 + 60)).rejects.toThrow();
      expect((await state.get(k('obj')))?.value).toEqual({ a: 1 });
    });

    it('versions counters so a conditional put can follow an increment', async () => {
      await state.increment(k('cv'), 1, T0 + 60);
      const item = await state.get(k('cv'));
      expect(item).toBeDefined();
      expect(await state.put(k('cv'), 100, { expiresAt: T0 + 60, expectedVersion: item?.version })).toBe(true);
      expect((await state.get(k('cv')))?.value).toBe(100);
    });

    it('deletes, and deleting a missing key is fine', async () => {
      await state.put(k('d'), 'x', { expiresAt: T0 + 60 });
      await state.delete(k('d'));
      expect(await state.get(k('d'))).toBeUndefined();
      await state.delete(k('never-there'));
      expect(await state.put(k('d'), 'again', { expiresAt: T0 + 60, expectedVersion: 0 })).toBe(true);
    });

    it('getMany returns present, unexpired keys only, tolerating duplicates and empty input', async () => {
      expect((await state.getMany([])).size).toBe(0);
      await state.put(k('m1'), 1, { expiresAt: T0 + 60 });
      await state.put(k('m2'), { two: 2 }, { expiresAt: T0 + 60 });
      await state.put(k('m3'), 3, { expiresAt: T0 - 1 });
      const got = await state.getMany([k('m1'), k('m2'), k('m3'), k('m4'), k('m1')]);
      expect(got.size).toBe(2);
      expect(got.get(k('m1'))).toEqual({ value: 1, version: 1, expiresAt: T0 + 60 });
      expect(got.get(k('m2'))?.value).toEqual({ two: 2 });
    });

    it('getMany handles more keys than one DynamoDB batch (100)', async () => {
      const keys = Array.from({ length: 230 }, (_, i) => k(`bulk${i}`));
      for (const [i, key] of keys.entries()) {
        if (i % 3 !== 0) await state.increment(key, i, T0 + 60);
      }
      const got = await state.getMany<number>(keys);
      expect(got.size).toBe(keys.filter((_, i) => i % 3 !== 0).length);
      expect(got.get(k('bulk229'))?.value).toBe(229);
      expect(got.has(k('bulk3'))).toBe(false);
    });

    it('counts one write per put, increment and delete', async () => {
      const before = state.writeCount;
      await state.put(k('w'), 'x', { expiresAt: T0 + 60 });
      await subject.settle?.();
      expect(state.writeCount).toBe(before + 1);
      await state.increment(k('wn'), 1, T0 + 60);
      await subject.settle?.();
      expect(state.writeCount).toBe(before + 2);
      await state.delete(k('w'));
      await subject.settle?.();
      expect(state.writeCount).toBe(before + 3);
      await state.get(k('w'));
      await state.getMany([k('w'), k('wn')]);
      expect(state.writeCount).toBe(before + 3);
    });
  });
}
