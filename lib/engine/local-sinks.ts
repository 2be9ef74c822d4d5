import type { OcsfEvent } from '../ocsf/types.ts';
import { NdjsonWriter } from './ndjson-writer.ts';
import type { Sink, SinkReport } from './stages.ts';

/** OCSF NDJSON on stdout (the default) or into a file (`--out FILE`, `--sink file:PATH`). */
export class NdjsonSink implements Sink {
  readonly name: string;
  readonly #writer: NdjsonWriter;

  constructor(name: string, writer: NdjsonWriter) {
    this.name = name;
    this.#writer = writer;
  }

  static stdout(): NdjsonSink {
    return new NdjsonSink('stdout', new NdjsonWriter(process.stdout, false));
  }

  static file(path: string): NdjsonSink {
    return new NdjsonSink(`file:${path}`, NdjsonWriter.toFile(path, 'w'));
  }

  write(event: OcsfEvent): void | Promise<void> {
    return this.#writer.write(event);
  }

  async close(): Promise<SinkReport> {
    await this.#writer.close();
    return { delivered: this.#writer.count, spilled: 0 };
  }
}
