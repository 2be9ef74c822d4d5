// Where a pipeline's time must go whatever it does: parsing its input and serializing its output.
// The floor (JSON.parse + JSON.stringify of the input) counts the input's bytes twice; Kitewatch's
// OCSF output is larger than its input, so serializing it alone costs more than the floor's half.
import { normalizeEnvelope } from '../lib/ocsf/normalize.ts';
import type { OcsfEvent } from '../lib/ocsf/types.ts';

export interface Breakdown {
  /** µs per event of each part, measured in the same process as the floor. */
  readonly parseUs: number;
  readonly serializeOutputUs: number;
  readonly normalizeUs: number;
  /** Output bytes over input bytes. */
  readonly outputToInput: number;
}

const CHUNK = 5_000; // normalized events held at once (bounded memory)

/** Best of `rounds` per part, timing only the part itself. */
export function breakdown(lines: readonly string[], rounds = 3): Breakdown {
  let parse = Number.POSITIVE_INFINITY;
  let serialize = Number.POSITIVE_INFINITY;
  let normalize = Number.POSITIVE_INFINITY;
  let inBytes = 0;
  let outBytes = 0;
  for (let r = 0; r < rounds; r++) {
    let tParse = 0;
    let tNorm = 0;
    let tSer = 0;
    inBytes = 0;
    outBytes = 0;
    for (let from = 0; from < lines.length; from += CHUNK) {
      const chunk = lines.slice(from, from + CHUNK);
      let t = performance.now();
      const values = chunk.map((l) => JSON.parse(l) as unknown);
      tParse += performance.now() - t;
      t = performance.now();
      const events: OcsfEvent[] = [];
      for (let i = 0; i < values.length; i++) {
        const res = normalizeEnvelope(values[i], { sizeBytes: (chunk[i] as string).length });
        if (res.ok) events.push(res.event);
      }
      tNorm += performance.now() - t;
      t = performance.now();
      for (const e of events) outBytes += JSON.stringify(e).length;
      tSer += performance.now() - t;
      for (const l of chunk) inBytes += l.length;
    }
    parse = Math.min(parse, tParse);
    normalize = Math.min(normalize, tNorm);
    serialize = Math.min(serialize, tSer);
  }
  const us = (ms: number) => (ms * 1000) / lines.length;
  return { parseUs: us(parse), serializeOutputUs: us(serialize), normalizeUs: us(normalize), outputToInput: outBytes / inBytes };
}
