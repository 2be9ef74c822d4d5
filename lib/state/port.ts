/**
 * The state port: the only way detectors and containment keep memory between events.
 * Two adapters implement it (embedded SQLite for `kitewatch replay`, DynamoDB on AWS);
 * both must pass the same contract tests (test/state/contract.ts).
 *
 * Every item expires: `expiresAt` is epoch seconds of *event time* plus a retention,
 * so a replay behaves like the live run. DynamoDB TTL removes items lazily; readers
 * must treat an item whose expiresAt is in the past (relative to `now` they pass) as absent.
 */
/**
 * Each writer's key prefix in the shared state table. On AWS each writer's IAM policy allows only
 * keys under its own prefix (dynamodb:LeadingKeys), so a compromised stage cannot forge another's
 * idempotency records or detector memory.
 */
export const STATE_PARTITIONS = {
  detect: 'detect:',
  containment: 'containment:',
  forward: 'fwd#',
} as const;
export type StatePartition = keyof typeof STATE_PARTITIONS;

export interface StateItem<T = unknown> {
  readonly value: T;
  /** Monotonic version for optimistic concurrency; starts at 1. */
  readonly version: number;
  /** Epoch seconds after which the item is dead. */
  readonly expiresAt: number;
}

export interface PutOptions {
  readonly expiresAt: number;
  /**
   * Conditional write. `undefined`: unconditional. `0`: only if the key does not exist
   * (or has expired). `n > 0`: only if the stored version is exactly n.
   */
  readonly expectedVersion?: number;
  /**
   * The caller deep-froze `value` (deepFreeze): a cache may keep it and hand it back as it is,
   * without copies. Adapters that serialize ignore it.
   */
  readonly frozen?: boolean;
}

/** Freezes `value` all the way down (subtrees already frozen are skipped) and returns it. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const k in value) deepFreeze((value as Record<string, unknown>)[k]);
  }
  return value;
}

export interface StatePort {
  get<T = unknown>(key: string): Promise<StateItem<T> | undefined>;
  getMany<T = unknown>(keys: readonly string[]): Promise<Map<string, StateItem<T>>>;
  /** Returns false (and writes nothing) when the condition fails. */
  put<T = unknown>(key: string, value: T, options: PutOptions): Promise<boolean>;
  /** Atomic counter add; creates the counter at `delta`. Returns the new total. */
  increment(key: string, delta: number, expiresAt: number): Promise<number>;
  delete(key: string): Promise<void>;
  /** Number of write calls issued so far (puts + increments + deletes); benchmarks read it. */
  readonly writeCount: number;
  close(): Promise<void>;
}
