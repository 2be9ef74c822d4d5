import type { OcsfEvent } from '../ocsf/types.ts';
import { terminalSafeJson } from '../contracts/terminal.ts';
import { NdjsonWriter } from './ndjson-writer.ts';
import type { Sink, SinkReport } from './stages.ts';

/** OCSF NDJSON on stdout (the default) or into a file (`--out FILE`, `--sink file:PATH`). */
export class NdjsonSink implements Sink {
  readonly name: string;
  readonly #writer: NdjsonWriter;
  readonly #terminal: boolean;

  constructor(name: string, writer: NdjsonWriter, terminal = false) {
    this.name = name;
    this.#writer = writer;
    this.#terminal = terminal;
  }

  /** stdout may be a terminal: the bidi and C1 characters JSON leaves raw go out as \u escapes (same JSON). */
  static stdout(): NdjsonSink {
    return new NdjsonSink('stdout', new NdjsonWriter(process.stdout, false), true);
  }

  static file(path: string): NdjsonSink {
    return new NdjsonSink(`file:${path}`, NdjsonWriter.toFile(path, 'w'));
  }

  write(event: OcsfEvent): void | Promise<void> {
    return this.#terminal ? this.#writer.writeLine(terminalSafeJson(JSON.stringify(event))) : this.#writer.write(event);
  }

  async close(): Promise<SinkReport> {
    await this.#writer.close();
    return { delivered: this.#writer.count, spilled: 0 };
  }
}
