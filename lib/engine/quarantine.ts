import { createHash } from 'node:crypto';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../contracts/limits.ts';

/**
 * A quarantine record: what was rejected, why, and the original input so that it can be
 * replayed after a fix. The same shape locally (--quarantine FILE) and on AWS (S3 objects).
 *
 * A record is bounded, so hostile input cannot blow up the quarantine: the reason keeps at most
 * QUARANTINE_MAX_REASON_CHARS characters, and the input is kept whole only when its JSON is at
 * most QUARANTINE_MAX_INPUT_BYTES (EventBridge's event limit: every event Buildkite can send
 * fits) and nests at most MAX_JSON_DEPTH levels. Otherwise the record keeps the first
 * QUARANTINE_KEPT_BYTES of the raw text and says so in `truncated` (full size and sha256).
 */
export interface QuarantineRecord {
  /** Human-readable: what was wrong, and where. */
  readonly reason: string;
  /** Where the input came from: `file:line`, `stdin:line`, or an SQS message id. */
  readonly origin?: string;
  /** The original input when it was JSON. */
  readonly input?: unknown;
  /** The raw text when it was not JSON (or was too large or too deep to keep parsed). */
  readonly raw?: string;
  /** Present when `raw` is only the start of the input (or absent): what the whole was. */
  readonly truncated?: { readonly bytes: number; readonly sha256?: string; readonly kept_bytes: number };
}

export const QUARANTINE_MAX_REASON_CHARS = 1000;
export const QUARANTINE_MAX_INPUT_BYTES = 256 * 1024;
export const QUARANTINE_KEPT_BYTES = 4 * 1024;

/** What the caller knows of the rejected input. */
export type QuarantinedInput =
  | { readonly input: unknown; readonly raw?: string | undefined; readonly bytes?: number | undefined }
  /** Raw text, possibly already cut by the reader (then `bytes` and `sha256` describe the whole). */
  | { readonly raw: string; readonly bytes?: number | undefined; readonly sha256?: string | undefined };

function clipReason(reason: string): string {
  return reason.length > QUARANTINE_MAX_REASON_CHARS ? `${reason.slice(0, QUARANTINE_MAX_REASON_CHARS)}... (reason cut at ${QUARANTINE_MAX_REASON_CHARS} characters)` : reason;
}

/** The first `max` bytes of `text` as text (a character cut in half is dropped). */
function headBytes(text: string, max: number): string {
  if (text.length <= max / 3) return text;
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= max) return text;
  return buf
    .subarray(0, max)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

function rawPart(raw: string, bytes: number | undefined, sha256: string | undefined): Pick<QuarantineRecord, 'raw' | 'truncated'> {
  const size = Buffer.byteLength(raw, 'utf8');
  const whole = bytes ?? size;
  if (size <= QUARANTINE_MAX_INPUT_BYTES && whole === size) return { raw };
  const kept = headBytes(raw, QUARANTINE_KEPT_BYTES);
  const digest = sha256 ?? (whole === size ? createHash('sha256').update(raw, 'utf8').digest('hex') : undefined);
  const keptBytes = Buffer.byteLength(kept, 'utf8');
  return { raw: kept, truncated: digest === undefined ? { bytes: whole, kept_bytes: keptBytes } : { bytes: whole, sha256: digest, kept_bytes: keptBytes } };
}

export function quarantineRecord(reason: string, original: QuarantinedInput, origin?: string): QuarantineRecord {
  const head = origin === undefined ? { reason: clipReason(reason) } : { reason: clipReason(reason), origin };
  if ('input' in original) {
    const raw = original.raw;
    if (!nestedDeeperThan(original.input, MAX_JSON_DEPTH)) {
      const bytes = original.bytes ?? Buffer.byteLength(JSON.stringify(original.input) ?? '', 'utf8');
      if (bytes <= QUARANTINE_MAX_INPUT_BYTES) return { ...head, input: original.input };
      return { ...head, ...rawPart(raw ?? JSON.stringify(original.input) ?? '', undefined, undefined) };
    }
    // Too deep to serialize safely: only the raw text, when the caller has it.
    if (raw !== undefined) return { ...head, ...rawPart(raw, undefined, undefined) };
    return { ...head, truncated: { bytes: original.bytes ?? 0, kept_bytes: 0 } };
  }
  return { ...head, ...rawPart(original.raw, original.bytes, original.sha256) };
}
