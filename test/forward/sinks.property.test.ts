import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RemoteSinkReport } from '../../lib/forward/remote-sink.ts';
import { createSink } from '../../lib/forward/sinks.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { ndjson, tempDir } from '../support/cli.ts';
import { FakeSiem, type Fault } from '../support/fake-siem.ts';
import { manyEvents, uids } from './helpers.ts';

const fault: fc.Arbitrary<Fault> = fc.oneof(
  fc.constantFrom(408, 429, 500, 502, 503, 504, 400, 401, 413).map((status): Fault => ({ kind: 'status', status })),
  fc.constant<Fault>({ kind: 'reset' }),
  fc.nat({ max: 60 }).map((eventNumber): Fault => ({ kind: 'hec-invalid', eventNumber })),
);

/**
 * Conservation, whatever the destination does (short of answering after the client gave up):
 * every event either arrived exactly once or is in the spill file, never both, never neither,
 * and the report's numbers say so.
 */
describe('remote sinks conserve events under any sequence of failures', () => {
  for (const kind of ['splunk-hec', 'http'] as const) {
    it(`${kind}: arrived + spilled = written, disjoint, no duplicates`, async () => {
      const dir = tempDir('kitewatch-prop-');
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 120 }),
          fc.integer({ min: 1, max: 50 }),
          fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), fault), { maxLength: 6 }),
          fc.boolean(),
          async (count, maxEvents, faults, downAtEnd) => {
            const siem = await FakeSiem.start();
            try {
              for (const [times, f] of faults) siem.failNext(times, f);
              if (downAtEnd) siem.failAlways({ kind: 'status', status: 503 });
              const url = kind === 'splunk-hec' ? `splunk-hec:${siem.baseUrl}` : `http:${siem.ingestUrl}`;
              const sink = createSink(url, {
                env: { SPLUNK_HEC_TOKEN: siem.hecToken },
                retry: { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0, timeoutMs: 2_000 },
                batch: { maxEvents, lingerMs: 0 },
                spillDir: join(dir, String(run++)),
              });
              if (sink === undefined) throw new Error('no sink');
              const events: OcsfEvent[] = manyEvents(count);
              for (const e of events) await sink.write(e);
              const report = (await sink.close()) as RemoteSinkReport;
              const arrived = kind === 'splunk-hec' ? uids(siem.hecEvents) : uids(siem.httpEvents);
              const spilled = report.spillPath === undefined ? [] : uids(ndjson(readFileSync(report.spillPath, 'utf8')));
              expect(new Set(arrived).size).toBe(arrived.length);
              expect(new Set(spilled).size).toBe(spilled.length);
              expect(arrived.filter((u) => spilled.includes(u))).toEqual([]);
              expect([...arrived, ...spilled].sort()).toEqual(uids(events).sort());
              expect(report.delivered).toBe(arrived.length);
              expect(report.spilled).toBe(spilled.length);
            } finally {
              await siem.close();
            }
          },
        ),
        { numRuns: 40 },
      );
    });
  }
});
