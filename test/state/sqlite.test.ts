import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteState } from '../../lib/state/sqlite.ts';
import { describeStateContract } from './contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'kitewatch-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const newPath = (): string => join(dir, `nested${++files}`, 'deeper', 'state.db');

describeStateContract('SqliteState (:memory:)', (now) => ({
  state: new SqliteState({ path: ':memory:', nowSeconds: now }),
}));

describeStateContract('SqliteState (file)', (now) => ({
  state: new SqliteState({ path: newPath(), nowSeconds: now }),
}));

describe('SqliteState', () => {
  it('creates parent directories, uses WAL, and persists across reopen', async () => {
    const path = newPath();
    const a = new SqliteState({ path, nowSeconds: () => 100 });
    expect(existsSync(path)).toBe(true);
    await a.put('k', { kept: true }, { expiresAt: 200 });
    await a.increment('n', 3, 200);
    await a.close();
    await a.close(); // idempotent

    const raw = new DatabaseSync(path);
    expect(raw.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    raw.close();

    const b = new SqliteState({ path, nowSeconds: () => 150 });
    expect(await b.get('k')).toEqual({ value: { kept: true }, version: 1, expiresAt: 200 });
    expect(await b.increment('n', 1, 200)).toBe(4);
    await b.close();
  });

  it('uses the injected clock, not the wall clock, for expiry', async () => {
    let now = 1_000;
    const s = new SqliteState({ path: ':memory:', nowSeconds: () => now });
    // Far in the past by wall clock, alive by event time.
    await s.put('old-event', 'x', { expiresAt: 1_010 });
    expect((await s.get('old-event'))?.value).toBe('x');
    now = 1_011;
    expect(await s.get('old-event')).toBeUndefined();
    await s.close();
  });

  it('defaults to the wall clock', async () => {
    const s = new SqliteState({ path: ':memory:' });
    const wall = Math.floor(Date.now() / 1000);
    await s.put('past', 1, { expiresAt: wall - 10 });
    await s.put('future', 1, { expiresAt: wall + 3_600 });
    expect(await s.get('past')).toBeUndefined();
    expect(await s.get('future')).toBeDefined();
    await s.close();
  });
});
