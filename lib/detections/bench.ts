/**
 * State writes per event for a spike on one hot token: 10,000 Agent Connected events with one
 * agent token, every detector on, through the detect stage's BatchStateCache over an in-memory
 * SqliteState, flushed every `batchSize` events like one SQS batch. Called by bench/run.ts.
 */
import { parseConfig } from '../config/load.ts';
import { normalizeEnvelope } from '../ocsf/normalize.ts';
import type { OcsfEvent } from '../ocsf/types.ts';
import { SqliteState } from '../state/sqlite.ts';
import { agentConnected, uid } from './builders.ts';
import { createDetectStage } from './stage.ts';

export interface SpikeWrites {
  readonly events: number;
  readonly batchSize: number;
  /** Writes that reached the store (after per-batch aggregation). */
  readonly writes: number;
  /** put/increment/delete calls the detectors made (what the store would see without the cache). */
  readonly logicalWrites: number;
  readonly writesPerEvent: number;
  readonly findings: number;
  readonly seconds: number;
}

/** The spike's events, normalized up front so only detection is measured. */
export function spikeEvents(count: number): OcsfEvent[] {
  const token = { uuid: uid('token', 'bench-hot'), description: 'bench hot token' };
  const start = Date.UTC(2026, 2, 10, 10, 0, 0);
  const out: OcsfEvent[] = [];
  for (let i = 0; i < count; i++) {
    const r = normalizeEnvelope(
      agentConnected({
        at: start + i * 60, // 10,000 registrations in 10 minutes
        agent: { uuid: uid('agent', 'bench', String(i)), name: `bench-${i}`, ip: `3.${80 + (i % 16)}.${(i >> 8) & 255}.${i & 255}` },
        token,
      }),
    );
    if (!r.ok) throw new Error(`bench event ${i} does not normalize: ${r.reason}`);
    out.push(r.event);
  }
  return out;
}

export async function measureSpikeWrites(options: { events?: number; batchSize?: number } = {}): Promise<SpikeWrites> {
  const count = options.events ?? 10_000;
  const batchSize = options.batchSize ?? 100;
  const events = spikeEvents(count);
  const inner = new SqliteState({ path: ':memory:' });
  const stage = createDetectStage(parseConfig({}, 'defaults'), inner);
  let findings = 0;
  const t0 = performance.now();
  try {
    for (const [i, event] of events.entries()) {
      findings += (await stage.detect(event)).length;
      if ((i + 1) % batchSize === 0) await stage.flush();
    }
    await stage.flush();
  } finally {
    await inner.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const writes = inner.writeCount;
  return { events: count, batchSize, writes, logicalWrites: stage.cache.logicalWriteCount, writesPerEvent: writes / count, findings, seconds };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await measureSpikeWrites(), null, 2)}\n`);
}
