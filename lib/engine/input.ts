import { createReadStream, statSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, extname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** One unit of input: a parsed JSON value, or raw text that was not JSON (to be quarantined). */
export type InputItem =
  | { readonly kind: 'json'; readonly origin: string; readonly value: unknown; readonly sizeBytes: number }
  | { readonly kind: 'raw'; readonly origin: string; readonly raw: string; readonly reason: string };

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const INPUT_EXTENSIONS = new Set(['.json', '.ndjson', '.jsonl']);

/**
 * Expands PATH arguments: files as given, directories to every .json/.ndjson/.jsonl file in
 * them, recursively, sorted by path. `-` stands for stdin. A missing path is a usage error.
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
      const found = (readdirSync(p, { recursive: true, encoding: 'utf8' }) as string[])
        .filter((f) => INPUT_EXTENSIONS.has(extname(f).toLowerCase()))
        .map((f) => join(p, f))
        .filter((f) => statSync(f).isFile())
        .sort();
      out.push(...found);
    } else {
      out.push(p);
    }
  }
  return out;
}

function parseLine(line: string, origin: string): InputItem {
  try {
    return { kind: 'json', origin, value: JSON.parse(line), sizeBytes: Buffer.byteLength(line, 'utf8') };
  } catch (error) {
    return { kind: 'raw', origin, raw: line, reason: `${origin}: not valid JSON (${(error as Error).message})` };
  }
}

/** A whole JSON document: one envelope, or an array of them. */
function* documentItems(text: string, origin: string): Generator<InputItem> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    yield { kind: 'raw', origin, raw: text, reason: `${origin}: not valid JSON (${(error as Error).message})` };
    return;
  }
  if (Array.isArray(doc)) {
    for (let i = 0; i < doc.length; i++) {
      const value: unknown = doc[i];
      yield { kind: 'json', origin: `${origin}[${i}]`, value, sizeBytes: Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8') };
    }
  } else {
    yield { kind: 'json', origin, value: doc, sizeBytes: Buffer.byteLength(text.trim(), 'utf8') };
  }
}

/** NDJSON, streamed line by line so memory stays flat on large inputs. Blank lines are skipped. */
async function* lineItems(stream: Readable, name: string): AsyncGenerator<InputItem> {
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() === '') continue;
    yield parseLine(line, `${name}:${n}`);
  }
}

/**
 * stdin is NDJSON, unless it starts with a JSON document that spans lines (a pretty-printed
 * envelope or an array, e.g. `cat sample.json | kitewatch replay`): then it is read whole.
 */
async function* stdinItems(stdin: Readable): AsyncGenerator<InputItem> {
  const rl = createInterface({ input: stdin, crlfDelay: Infinity });
  const it = rl[Symbol.asyncIterator]();
  let n = 0;
  let first: string | undefined;
  for (;;) {
    const r = await it.next();
    if (r.done === true) return;
    n++;
    if (r.value.trim() !== '') {
      first = r.value;
      break;
    }
  }
  const firstItem = parseLine(first, `stdin:${n}`);
  const opener = first.trimStart()[0];
  if (firstItem.kind === 'raw' && (opener === '{' || opener === '[')) {
    const lines = [first];
    for (;;) {
      const r = await it.next();
      if (r.done === true) break;
      lines.push(r.value);
    }
    yield* documentItems(lines.join('\n'), 'stdin');
    return;
  }
  yield firstItem;
  for (;;) {
    const r = await it.next();
    if (r.done === true) return;
    n++;
    if (r.value.trim() === '') continue;
    yield parseLine(r.value, `stdin:${n}`);
  }
}

/** Reads every input in order. */
export async function* readInputs(paths: readonly string[], stdin: Readable = process.stdin): AsyncGenerator<InputItem> {
  for (const p of paths) {
    if (p === '-') {
      yield* stdinItems(stdin);
    } else if (extname(p).toLowerCase() === '.json') {
      yield* documentItems(await readFile(p, 'utf8'), p);
    } else {
      yield* lineItems(createReadStream(p, { encoding: 'utf8' }), p);
    }
  }
}
