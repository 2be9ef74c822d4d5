/**
 * A quarantine record: what was rejected, why, and the original input so that it can be
 * replayed after a fix. The same shape locally (--quarantine FILE) and on AWS (S3 objects).
 */
export interface QuarantineRecord {
  /** Human-readable: what was wrong, and where. */
  readonly reason: string;
  /** Where the input came from: `file:line`, `stdin:line`, or an SQS message id. */
  readonly origin?: string;
  /** The original input when it was JSON. */
  readonly input?: unknown;
  /** The raw text when it was not JSON (or was too large to keep parsed). */
  readonly raw?: string;
}

export function quarantineRecord(
  reason: string,
  original: { input: unknown } | { raw: string },
  origin?: string,
): QuarantineRecord {
  return origin === undefined ? { reason, ...original } : { reason, origin, ...original };
}
