import type { Io } from './io.ts';

export type { Io };

/** A `kitewatch` subcommand: parses its own argv, prints through `io`, answers an exit code. */
export interface Command {
  /** The word that selects it, then what follows in the usage line (e.g. `runbook <runbook>`). */
  readonly name: string;
  readonly summary: string;
  run(argv: readonly string[], io: Io): Promise<number>;
}
