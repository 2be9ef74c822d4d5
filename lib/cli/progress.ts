import { escapeControls } from '../contracts/terminal.ts';

/**
 * A progress line on stderr for long inputs, only when stderr is a terminal; silent otherwise.
 * It appears after half a second, so short runs print nothing but the summary.
 */
export class Progress {
  readonly #enabled: boolean;
  readonly #started = Date.now();
  #last = 0;
  #shown = false;

  constructor(enabled = process.stderr.isTTY === true) {
    this.#enabled = enabled;
  }

  tick(count: number, detail: () => string): void {
    if (!this.#enabled) return;
    const now = Date.now();
    if (now - this.#started < 500 || now - this.#last < 250) return;
    this.#last = now;
    this.#shown = true;
    process.stderr.write(`\r\x1b[2Kkitewatch: ${count} events ${escapeControls(detail())}`);
  }

  done(): void {
    if (this.#enabled && this.#shown) process.stderr.write('\r\x1b[2K');
  }
}
