import { escapeControls } from '../contracts/terminal.ts';

/**
 * Where the CLI prints: injected so tests can capture it. OCSF output goes through sinks, not here.
 * Control characters are escaped on the way out (lines may quote names from event data); line
 * breaks stay, so a value that could hold one must be escaped where it is put into a line.
 */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

export const processIo: Io = {
  out: (line) => void process.stdout.write(`${escapeControls(line, true)}\n`),
  err: (line) => void process.stderr.write(`${escapeControls(line, true)}\n`),
};
