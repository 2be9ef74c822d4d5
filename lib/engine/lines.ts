import { createHash, type Hash } from 'node:crypto';

/**
 * NDJSON line splitting shared by every reader of NDJSON (replay input, spill files).
 *
 * Lines end at `\n` only, and one trailing `\r` is stripped (CRLF files). JSON allows U+2028,
 * U+2029 and a lone CR inside strings, so readline's line breaks would cut events in half.
 * A line longer than the cap is not held in memory: its first bytes are kept for the
 * quarantine record, the rest is only counted and hashed.
 */

/** Default longest NDJSON line: 4x EventBridge's 256 KB event limit, so no real event comes near it. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/** How much of an over-long line is kept, as text, in its quarantine record. */
export const OVERLONG_PREFIX_BYTES = 4 * 1024;

export type Line =
  | { readonly kind: 'line'; readonly n: number; readonly text: string; readonly bytes: number }
  | {
      readonly kind: 'overlong';
      readonly n: number;
      /** Total bytes of the line (without its line break). */
      readonly bytes: number;
      /** The first OVERLONG_PREFIX_BYTES bytes, decoded (a split character becomes U+FFFD). */
      readonly prefix: string;
      /** sha256 of the whole line, hex: identifies it without keeping it. */
      readonly sha256: string;
    };

const LF = 0x0a;
const CR = 0x0d;

/** Strips a UTF-8 byte order mark (U+FEFF) at the very start of a text. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Splits a byte stream into lines. Line numbers count every line, blank ones included, so
 * `file:N` origins match an editor's. A UTF-8 BOM at the start of the stream is dropped.
 */
export async function* splitLines(stream: AsyncIterable<Buffer | string>, maxLineBytes: number = DEFAULT_MAX_LINE_BYTES): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let n = 0;
  let first = true;
  // Over-long mode: the line is past the cap; only its prefix, length and hash are kept.
  let hash: Hash | undefined;
  let prefix: Buffer | undefined;

  const finish = (): Line => {
    n++;
    if (hash !== undefined) {
      const line: Line = { kind: 'overlong', n, bytes: partBytes, prefix: (prefix as Buffer).toString('utf8'), sha256: hash.digest('hex') };
      hash = undefined;
      prefix = undefined;
      parts = [];
      partBytes = 0;
      return line;
    }
    let buf = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, partBytes);
    if (buf.length > 0 && buf[buf.length - 1] === CR) buf = buf.subarray(0, buf.length - 1);
    parts = [];
    const bytes = partBytes;
    partBytes = 0;
    return { kind: 'line', n, text: buf.toString('utf8'), bytes };
  };

  const append = (piece: Buffer): void => {
    if (piece.length === 0) return;
    if (hash === undefined && partBytes + piece.length > maxLineBytes) {
      // Over the cap: switch to counting, keeping only the prefix.
      hash = createHash('sha256');
      const held = Buffer.concat(parts, partBytes);
      hash.update(held);
      prefix = Buffer.concat([held, piece]).subarray(0, OVERLONG_PREFIX_BYTES);
      prefix = Buffer.from(prefix);
      parts = [];
    }
    if (hash !== undefined) {
      hash.update(piece);
      partBytes += piece.length;
      return;
    }
    parts.push(piece);
    partBytes += piece.length;
  };

  for await (const raw of stream) {
    let chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
    if (first) {
      first = false;
      if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
    }
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(LF, start);
      if (nl === -1) break;
      append(chunk.subarray(start, nl));
      yield finish();
      start = nl + 1;
    }
    if (start < chunk.length) append(chunk.subarray(start));
  }
  if (partBytes > 0 || hash !== undefined) yield finish();
}
