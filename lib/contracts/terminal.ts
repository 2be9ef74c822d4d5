/**
 * Text that reaches a terminal carries names and ids from event data: an agent named
 * "x\r\nkitewatch: all clear" or with an ESC sequence would forge log lines or repaint the screen.
 * Everything the CLI prints passes through here. Pure, no imports: domain modules' log lines use it too.
 */

// C0 controls, DEL, C1 controls, and the Unicode format characters that reorder or hide text
// (bidi embeddings, overrides and isolates; line and paragraph separators).
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const CONTROLS_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function visible(c: string): string {
  const code = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * The text with every control character shown as an escape (`\x1b`, `\r`, `\u202e`). With
 * `keepNewlines`, "\n" stays a line break: for multi-line text Kitewatch composed itself.
 */
export function escapeControls(text: string, keepNewlines = false): string {
  const re = keepNewlines ? CONTROLS_BUT_NEWLINE : CONTROLS;
  re.lastIndex = 0;
  return re.test(text) ? text.replace(re, visible) : text;
}

// JSON.stringify already escapes C0; these it leaves raw.
const JSON_RAW = /[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** A JSON text with the characters JSON.stringify leaves raw written as \u escapes: the same JSON value. */
export function terminalSafeJson(json: string): string {
  JSON_RAW.lastIndex = 0;
  return JSON_RAW.test(json) ? json.replace(JSON_RAW, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}
