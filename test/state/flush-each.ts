/**
 * Runs a BatchStateCache as if every write were its own batch: each write is followed by
 * flush(), serialised so flushes never overlap. Lets the contract check the flush path.
 */
import type { BatchStateCache } from '../../lib/state/batch-cache.ts';
import type { PutOptions, StateItem, StatePort } from '../../lib/state/port.ts';

export class FlushEachWrite implements StatePort {
  readonly cache: BatchStateCache;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(cache: BatchStateCache) {
    this.cache = cache;
  }

  get writeCount(): number {
    return this.cache.writeCount;
  }

  get<T = unknown>(key: string): Promise<StateItem<T> | undefined> {
    return this.serial(() => this.cache.get<T>(key));
  }

  getMany<T = unknown>(keys: readonly string[]): Promise<Map<string, StateItem<T>>> {
    return this.serial(() => this.cache.getMany<T>(keys));
  }

  put<T = unknown>(key: string, value: T, options: PutOptions): Promise<boolean> {
    return this.serial(() => this.thenFlush(this.cache.put(key, value, options)));
  }

  increment(key: string, delta: number, expiresAt: number): Promise<number> {
    return this.serial(() => this.thenFlush(this.cache.increment(key, delta, expiresAt)));
  }

  delete(key: string): Promise<void> {
    return this.serial(() => this.thenFlush(this.cache.delete(key)));
  }

  close(): Promise<void> {
    return this.serial(() => this.cache.close());
  }

  private async thenFlush<R>(op: Promise<R>): Promise<R> {
    const result = await op;
    await this.cache.flush();
    return result;
  }

  private serial<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
