import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';

/**
 * Buffered NDJSON writer: collects lines and writes them in chunks, honouring backpressure,
 * so a million-event replay neither floods memory nor makes a syscall per line.
 */
export class NdjsonWriter {
  readonly #stream: Writable;
  readonly #ownsStream: boolean;
  #buffer: string[] = [];
  #bytes = 0;
  #count = 0;
  static readonly CHUNK_BYTES = 64 * 1024;

  constructor(stream: Writable, ownsStream: boolean) {
    this.#stream = stream;
    this.#ownsStream = ownsStream;
  }

  /** Opens a file for appending (or truncating), creating its directory. */
  /** `mode` applies when the file is created (the quarantine is created owner-only: it keeps raw input, secrets included). */
  static toFile(path: string, flags: 'a' | 'w' = 'w', mode = 0o666): NdjsonWriter {
    mkdirSync(dirname(path), { recursive: true });
    return new NdjsonWriter(createWriteStream(path, { flags, encoding: 'utf8', mode }), true);
  }

  get count(): number {
    return this.#count;
  }

  /** Buffers the line; returns a promise only when a full chunk is written out (await it then). */
  writeLine(line: string): void | Promise<void> {
    this.#buffer.push(line, '\n');
    this.#bytes += line.length + 1;
    this.#count++;
    if (this.#bytes >= NdjsonWriter.CHUNK_BYTES) return this.flush();
    return undefined;
  }

  write(value: unknown): void | Promise<void> {
    return this.writeLine(JSON.stringify(value));
  }

  async flush(): Promise<void> {
    if (this.#buffer.length === 0) return;
    const chunk = this.#buffer.join('');
    this.#buffer = [];
    this.#bytes = 0;
    if (!this.#stream.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          this.#stream.off('error', onError);
          resolve();
        };
        const onError = (e: Error): void => {
          this.#stream.off('drain', onDrain);
          reject(e);
        };
        this.#stream.once('drain', onDrain);
        this.#stream.once('error', onError);
      });
    }
  }

  async close(): Promise<void> {
    await this.flush();
    if (!this.#ownsStream) return;
    await new Promise<void>((resolve, reject) => {
      this.#stream.end((err?: Error | null) => (err ? reject(err) : resolve()));
    });
  }
}
