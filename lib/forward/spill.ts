import { createReadStream, createWriteStream, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DEFAULT_MAX_LINE_BYTES, splitLines } from '../engine/lines.ts';
import { NdjsonWriter } from '../engine/ndjson-writer.ts';
import type { OcsfEvent } from '../ocsf/types.ts';
import { SpillError } from './errors.ts';
import { parseOcsf, type Extracted } from './ocsf-input.ts';

export { SpillError };

/**
 * The spill file: NDJSON of exactly the OCSF events a remote sink could not deliver, one per line,
 * as they were given to the sink, so `kitewatch resend PATH --sink SPEC` can deliver them later.
 *
 * A spill file is never overwritten or appended to: it holds one run's leftovers and nothing
 * else. The default path is new for every run; an explicit `--spill PATH` must not exist yet.
 * The file is created only when the first event spills.
 */
export const DEFAULT_SPILL_DIR = '.kitewatch/spill';

/** Explicit spill paths held by open sinks in this process: two sinks must not share one file. */
const claimed = new Set<string>();

function stamp(now: Date): string {
  // 20260301T101500123Z: sortable, and free of ':' for every filesystem.
  return now.toISOString().replace(/[-:]/g, '').replace('.', '');
}

export function defaultSpillPath(kind: string, now: Date = new Date(), dir: string = DEFAULT_SPILL_DIR, n = 1): string {
  return join(dir, `${kind}-${stamp(now)}${n > 1 ? `-${n}` : ''}.ndjson`);
}

export interface SpillFileOptions {
  /** `--spill PATH`; unset: a new file under `dir`. */
  readonly path?: string | undefined;
  /** Sink kind, the default file name's prefix (splunk-hec, http). */
  readonly kind: string;
  /** @default .kitewatch/spill */
  readonly dir?: string | undefined;
}

export class SpillFile {
  readonly #explicit: string | undefined;
  readonly #kind: string;
  readonly #dir: string;
  #path: string | undefined;
  #writer: NdjsonWriter | undefined;
  #count = 0;
  #closed = false;

  constructor(opts: SpillFileOptions) {
    this.#kind = opts.kind;
    this.#dir = opts.dir ?? DEFAULT_SPILL_DIR;
    if (opts.path !== undefined) {
      if (opts.path.trim() === '') throw new SpillError('--spill needs a file path');
      const abs = resolve(opts.path);
      if (existsSync(abs)) {
        throw new SpillError(`spill file ${opts.path} already exists; resend or move it first, or choose another --spill path (spill files are never overwritten)`);
      }
      if (claimed.has(abs)) {
        throw new SpillError(`--spill ${opts.path} is already used by another sink; with several remote sinks, leave --spill unset (one file per sink)`);
      }
      claimed.add(abs);
      this.#explicit = opts.path;
    }
  }

  /** Where spilled events are (or will be) written; undefined until the first spill without --spill. */
  get path(): string | undefined {
    return this.#path ?? this.#explicit;
  }

  get count(): number {
    return this.#count;
  }

  #open(): NdjsonWriter {
    if (this.#writer !== undefined) return this.#writer;
    let fd: number | undefined;
    let path = this.#explicit;
    if (path !== undefined) {
      mkdirSync(dirname(path), { recursive: true });
      try {
        fd = openSync(path, 'wx');
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create spill file ${path}`, { cause });
        // Created since the sink started: keep the events, in a new file beside it.
        path = undefined;
      }
    }
    if (fd === undefined) {
      const now = new Date();
      mkdirSync(this.#dir, { recursive: true });
      for (let n = 1; fd === undefined; n++) {
        const candidate = defaultSpillPath(this.#kind, now, this.#dir, n);
        try {
          fd = openSync(candidate, 'wx');
          path = candidate;
        } catch (cause) {
          if ((cause as NodeJS.ErrnoException).code !== 'EEXIST' || n > 1000) {
            throw new Error(`cannot create spill file ${candidate}`, { cause });
          }
        }
      }
    }
    this.#path = path;
    this.#writer = new NdjsonWriter(createWriteStream(path as string, { fd, encoding: 'utf8' }), true);
    return this.#writer;
  }

  async write(event: OcsfEvent): Promise<void> {
    if (this.#closed) throw new Error('spill file is closed');
    await this.#open().write(event);
    this.#count++;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#explicit !== undefined) claimed.delete(resolve(this.#explicit));
    await this.#writer?.close();
  }
}

export interface SpillLine {
  readonly line: number;
  readonly result: Extracted;
}

/**
 * Reads a spill (or any OCSF NDJSON) file line by line; blank lines are skipped. Lines end at
 * `\n` only (U+2028 inside a JSON string is not a line break), and a line over the cap is
 * refused without being held in memory.
 */
export async function* readSpill(path: string, maxLineBytes: number = DEFAULT_MAX_LINE_BYTES): AsyncGenerator<SpillLine> {
  for await (const l of splitLines(createReadStream(path), maxLineBytes)) {
    if (l.kind === 'overlong') {
      yield { line: l.n, result: { ok: false, reason: `line is ${l.bytes} bytes, over the ${maxLineBytes}-byte line limit` } };
    } else if (l.text.trim() !== '') {
      yield { line: l.n, result: parseOcsf(l.text) };
    }
  }
}
