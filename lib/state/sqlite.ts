/**
 * Embedded StatePort adapter on Node's built-in `node:sqlite`, used by `kitewatch replay`
 * and the local demo. Same contract as the DynamoDB adapter (test/state/contract.ts).
 *
 * Layout: one table `kw_state(key TEXT PRIMARY KEY, value TEXT, version INTEGER, expires_at INTEGER)`,
 * `value` being the JSON text of the stored value. Expired rows stay until overwritten
 * (like DynamoDB TTL, which deletes lazily); every read filters them out against `nowSeconds()`.
 *
 * Versions never restart while a row physically exists: a write over an expired row
 * bumps the old version, so a stale reader can't match a recreated item (ABA).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { PutOptions, StateItem, StatePort } from './port.ts';

export interface SqliteStateOptions {
  /** Database file, or ':memory:'. Parent directories are created. */
  readonly path: string;
  /**
   * Clock for expiry, epoch seconds. Defaults to wall clock; the engine injects
   * event time so a replay expires items exactly like the live run.
   */
  readonly nowSeconds?: () => number;
  /** Empty the store on open: a run that must not remember earlier ones. */
  readonly fresh?: boolean;
}

interface Row {
  value: string;
  version: number;
  expires_at: number;
}

const wallClock = (): number => Math.floor(Date.now() / 1000);

/** JSON text of a value; `undefined` is stored as null (JSON has no undefined). */
function encodeJson(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

export class SqliteState implements StatePort {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly now: () => number;
  private writes = 0;
  private closed = false;
  /** Items the store held when opened (0 when fresh): a run continues from them. */
  readonly savedItems: number;

  // Prepared once: these run per event on the hot path.
  private readonly selectOne: StatementSync;
  private readonly selectRaw: StatementSync;
  private readonly upsert: StatementSync;
  private readonly insertIfAbsent: StatementSync;
  private readonly updateIfVersion: StatementSync;
  private readonly deleteOne: StatementSync;
  private readonly begin: StatementSync;
  private readonly commit: StatementSync;
  private readonly rollback: StatementSync;

  constructor(options: SqliteStateOptions) {
    this.path = options.path;
    this.now = options.nowSeconds ?? wallClock;
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new DatabaseSync(options.path);
    // WAL lets `kitewatch` readers run beside a replay; NORMAL sync is safe in WAL mode.
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 5000;
      CREATE TABLE IF NOT EXISTS kw_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        version INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
    `);
    if (options.fresh === true) this.db.exec('DELETE FROM kw_state');
    this.savedItems = Number((this.db.prepare('SELECT count(*) AS n FROM kw_state').get() as { n: number | bigint }).n);
    this.selectOne = this.db.prepare('SELECT value, version, expires_at FROM kw_state WHERE key = ? AND expires_at >= ?');
    this.selectRaw = this.db.prepare('SELECT value, version, expires_at FROM kw_state WHERE key = ?');
    this.upsert = this.db.prepare(
      `INSERT INTO kw_state (key, value, version, expires_at) VALUES (?, ?, 1, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = version + 1,
         expires_at = excluded.expires_at`,
    );
    // expectedVersion 0: insert, or take over a row that has expired.
    this.insertIfAbsent = this.db.prepare(
      `INSERT INTO kw_state (key, value, version, expires_at) VALUES (?, ?, 1, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = version + 1,
         expires_at = excluded.expires_at
       WHERE kw_state.expires_at < ?`,
    );
    this.updateIfVersion = this.db.prepare(
      `UPDATE kw_state SET value = ?, version = version + 1, expires_at = ?
       WHERE key = ? AND version = ? AND expires_at >= ?`,
    );
    this.deleteOne = this.db.prepare('DELETE FROM kw_state WHERE key = ?');
    this.begin = this.db.prepare('BEGIN IMMEDIATE');
    this.commit = this.db.prepare('COMMIT');
    this.rollback = this.db.prepare('ROLLBACK');
  }

  get writeCount(): number {
    return this.writes;
  }

  async get<T = unknown>(key: string): Promise<StateItem<T> | undefined> {
    return this.read<T>(key, this.now());
  }

  async getMany<T = unknown>(keys: readonly string[]): Promise<Map<string, StateItem<T>>> {
    const now = this.now();
    const out = new Map<string, StateItem<T>>();
    for (const key of keys) {
      if (out.has(key)) continue;
      const item = this.read<T>(key, now);
      if (item) out.set(key, item);
    }
    return out;
  }

  async put<T = unknown>(key: string, value: T, options: PutOptions): Promise<boolean> {
    this.writes++;
    const json = encodeJson(value);
    const { expiresAt, expectedVersion } = options;
    if (expectedVersion === undefined) {
      this.upsert.run(key, json, expiresAt);
      return true;
    }
    if (expectedVersion === 0) {
      return Number(this.insertIfAbsent.run(key, json, expiresAt, this.now()).changes) === 1;
    }
    const changes = this.updateIfVersion.run(json, expiresAt, key, expectedVersion, this.now()).changes;
    return Number(changes) === 1;
  }

  async increment(key: string, delta: number, expiresAt: number): Promise<number> {
    this.writes++;
    const now = this.now();
    // Read-check-write in one IMMEDIATE transaction: atomic against other processes on the file.
    this.begin.run();
    try {
      const row = this.selectRaw.get(key) as Row | undefined;
      let total = delta;
      if (row && row.expires_at >= now) {
        const current: unknown = JSON.parse(row.value);
        if (typeof current !== 'number') {
          throw new TypeError(`state key ${JSON.stringify(key)} does not hold a number; cannot increment`);
        }
        total = current + delta;
      }
      this.upsert.run(key, encodeJson(total), expiresAt);
      this.commit.run();
      return total;
    } catch (err) {
      this.rollback.run();
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    this.writes++;
    this.deleteOne.run(key);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private read<T>(key: string, now: number): StateItem<T> | undefined {
    const row = this.selectOne.get(key, now) as Row | undefined;
    if (!row) return undefined;
    return { value: JSON.parse(row.value) as T, version: row.version, expiresAt: row.expires_at };
  }
}
