import { createReadStream, statSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, extname } from 'node:path';
import type { Readable } from 'node:stream';
import { nestedDeeperThan } from '../contracts/limits.ts';
import { DEFAULT_MAX_LINE_BYTES, splitLines, stripBom, type Line } from './lines.ts';

/** One unit of input: a parsed JSON value, or raw text that was not JSON (to be quarantined). */
export type InputItem =
  /** sizeBytes: of the JSON text, when known without re-serializing. */
  | { readonly kind: 'json'; readonly origin: string; readonly value: unknown; readonly sizeBytes?: number | undefined; readonly text?: string }
  /** raw: the text, or only its start when `bytes` (the whole size) is larger; sha256 then identifies the whole. */
  | { readonly kind: 'raw'; readonly origin: string; readonly raw: string; readonly reason: string; readonly bytes?: number; readonly sha256?: string };

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const INPUT_EXTENSIONS = new Set(['.json', '.ndjson', '.jsonl']);

/**
 * Expands PATH arguments: files as given, directories to every .json/.ndjson/.jsonl file in
 * them, recursively, sorted by path. `-` stands for stdin. A missing path, or a directory with
 * no input file in it, is a usage error: reading nothing and exiting 0 would look like success.
 */
export function expandPaths(paths: readonly string[]): string[] {
  if (paths.length === 0) return ['-'];
  const out: string[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push(p);
      continue;
    }
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new UsageError(`no such file or directory: ${p}`);
    }
    if (st.isDirectory()) {
      const found = readdirSync(p, { recursive: true, encoding: 'utf8' })
        .filter((f) => INPUT_EXTENSIONS.has(extname(f).toLowerCase()))
        .map((f) => join(p, f))
        .filter((f) => statSync(f).isFile())
        .sort();
      if (found.length === 0) throw new UsageError(`no .json, .ndjson or .jsonl file in directory ${p}`);
      out.push(...found);
    } else {
      out.push(p);
    }
  }
  return out;
}

function parseLine(line: string, origin: string, bytes: number): InputItem {
  try {
    // The text rides along for the quarantine: an input too deep to serialize is kept as sent.
    return { kind: 'json', origin, value: JSON.parse(line), sizeBytes: bytes, text: line };
  } catch (error) {
    return { kind: 'raw', origin, raw: line, reason: `${origin}: not valid JSON (${(error as Error).message})` };
  }
}

function lineItem(line: Line, name: string, maxLineBytes: number): InputItem | undefined {
  const origin = `${name}:${line.n}`;
  if (line.kind === 'overlong') {
    return {
      kind: 'raw',
      origin,
      raw: line.prefix,
      bytes: line.bytes,
      sha256: line.sha256,
      reason: `${origin}: line is ${line.bytes} bytes, over the ${maxLineBytes}-byte line limit (--max-line-bytes)`,
    };
  }
  if (line.text.trim() === '') return undefined;
  return parseLine(line.text, origin, line.bytes);
}

/** A whole JSON document: one envelope, or an array of them. */
function* documentItems(text: string, origin: string): Generator<InputItem> {
  let doc: unknown;
  try {
    doc = JSON.parse(stripBom(text));
  } catch (error) {
    yield { kind: 'raw', origin, raw: text, reason: `${origin}: not valid JSON (${(error as Error).message})` };
    return;
  }
  if (Array.isArray(doc)) {
    for (let i = 0; i < doc.length; i++) {
      const value: unknown = doc[i];
      // Sized by serializing, which a hostile nesting depth would overflow: the normalizer sizes
      // (and rejects) it after its depth check instead.
      const sizeBytes = nestedDeeperThan(value) ? undefined : Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
      yield { kind: 'json', origin: `${origin}[${i}]`, value, sizeBytes };
    }
  } else {
    yield { kind: 'json', origin, value: doc, sizeBytes: Buffer.byteLength(text.trim(), 'utf8') };
  }
}

/** NDJSON, streamed line by line so memory stays flat on large inputs. Blank lines are skipped. */
async function* lineItems(stream: Readable, name: string, maxLineBytes: number): AsyncGenerator<InputItem> {
  for await (const line of splitLines(stream, maxLineBytes)) {
    const item = lineItem(line, name, maxLineBytes);
    if (item !== undefined) yield item;
  }
}

/**
 * stdin is NDJSON, unless it starts with a JSON document that spans lines (a pretty-printed
 * envelope or an array, e.g. `cat sample.json | kitewatch replay`): then it is read whole
 * (up to MAX_DOCUMENT_BYTES).
 */
async function* stdinItems(stdin: Readable, maxLineBytes: number): AsyncGenerator<InputItem> {
  const it = splitLines(stdin, maxLineBytes)[Symbol.asyncIterator]();
  let first: InputItem | undefined;
  let firstLine: Line | undefined;
  for (;;) {
    const r = await it.next();
    if (r.done === true) return;
    first = lineItem(r.value, 'stdin', maxLineBytes);
    if (first !== undefined) {
      firstLine = r.value;
      break;
    }
  }
  const opener = firstLine.kind === 'line' ? firstLine.text.trimStart()[0] : undefined;
  if (first.kind === 'raw' && firstLine.kind === 'line' && (opener === '{' || opener === '[')) {
    const lines = [firstLine.text];
    let bytes = firstLine.bytes;
    for (;;) {
      const r = await it.next();
      if (r.done === true) break;
      bytes += r.value.bytes + 1;
      if (r.value.kind === 'overlong' || bytes > MAX_DOCUMENT_BYTES) {
        yield { kind: 'raw', origin: 'stdin', raw: lines.join('\n'), bytes, reason: `stdin: the JSON document is over the ${MAX_DOCUMENT_BYTES}-byte document limit; split it into NDJSON` };
        for (;;) if ((await it.next()).done === true) return;
      }
      lines.push(r.value.kind === 'line' ? r.value.text : '');
    }
    yield* documentItems(lines.join('\n'), 'stdin');
    return;
  }
  yield first;
  for (;;) {
    const r = await it.next();
    if (r.done === true) return;
    const item = lineItem(r.value, 'stdin', maxLineBytes);
    if (item !== undefined) yield item;
  }
}

/** Largest whole JSON document read (a `.json` file, or a multi-line document on stdin). */
export const MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;

export interface ReadOptions {
  /** Longest NDJSON line; longer lines are quarantined without being held in memory. @default 1 MiB */
  readonly maxLineBytes?: number;
}

/** NDJSON from any byte stream (origins `name:line`). */
export function readInputsFrom(stream: Readable, name: string, options: ReadOptions = {}): AsyncGenerator<InputItem> {
  return lineItems(stream, name, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
}

/** Reads every input in order. */
export async function* readInputs(paths: readonly string[], stdin: Readable = process.stdin, options: ReadOptions = {}): AsyncGenerator<InputItem> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  for (const p of paths) {
    if (p === '-') {
      yield* stdinItems(stdin, maxLineBytes);
    } else if (extname(p).toLowerCase() === '.json') {
      const size = statSync(p).size;
      if (size > MAX_DOCUMENT_BYTES) {
        yield { kind: 'raw', origin: p, raw: '', bytes: size, reason: `${p}: the JSON document is ${size} bytes, over the ${MAX_DOCUMENT_BYTES}-byte document limit; split it into NDJSON` };
        continue;
      }
      yield* documentItems(await readFile(p, 'utf8'), p);
    } else {
      yield* lineItems(createReadStream(p), p, maxLineBytes);
    }
  }
}
