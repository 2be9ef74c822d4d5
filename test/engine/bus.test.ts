import { beforeAll, describe, expect, it } from 'vitest';
import { chunkForPutEvents, describePublishFailures, ENTRY_TOO_LARGE, publishToBus, PUT_EVENTS_MAX_BYTES, putEventsEntrySize, toPutEventsEntry } from '../../lib/engine/bus.ts';
import { createIngestHarness, type IngestHarness } from '../infra/support/ingest-harness.ts';
import { instrumentedEventBridge } from '../support/moto.ts';

describe('PutEvents chunking (every publisher to the bus)', () => {
  const item = (size: number, id: number) => ({ size, id });

  it('cuts at 10 entries', () => {
    const chunks = chunkForPutEvents(Array.from({ length: 23 }, (_, i) => item(100, i)));
    expect(chunks.map((c) => c.length)).toEqual([10, 10, 3]);
    expect(chunks.flat().map((c) => c.id)).toEqual(Array.from({ length: 23 }, (_, i) => i));
  });

  it('cuts before 256 KB, keeping order, and sends an entry alone when it is the whole budget', () => {
    const big = PUT_EVENTS_MAX_BYTES / 2 - 10;
    const chunks = chunkForPutEvents([item(big, 0), item(big, 1), item(100, 2), item(PUT_EVENTS_MAX_BYTES, 3), item(1, 4)]);
    expect(chunks.map((c) => c.map((x) => x.id))).toEqual([[0, 1], [2], [3], [4]]);
    for (const c of chunks) expect(c.length === 1 || c.reduce((n, x) => n + x.size, 0) <= PUT_EVENTS_MAX_BYTES).toBe(true);
  });

  it('counts an entry as EventBridge does: source, detail-type, detail, resources, 14 bytes for a time', () => {
    const event = { class_uid: 7001, time: 0, note: 'é' };
    const entry = toPutEventsEntry(event, 'bus');
    const expected = 14 + 'kitewatch'.length + 'OCSF Remediation Activity'.length + Buffer.byteLength(JSON.stringify(event));
    expect(putEventsEntrySize(entry)).toBe(expected);
  });
});

describe('publishToBus (every publisher to the bus), against moto', () => {
  let h: IngestHarness;
  beforeAll(async () => {
    h = await createIngestHarness();
  });

  const event = (n: number, extra: Record<string, unknown> = {}) => ({ class_uid: 3002, time: Date.UTC(2026, 11, 4), metadata: { uid: `uid-${n}` }, n, ...extra });
  const items = (count: number, from = 0) => Array.from({ length: count }, (_, i) => ({ entry: toPutEventsEntry(event(from + i), h.eventBusName), n: from + i }));
  const published = (envelopes: Record<string, unknown>[]) => envelopes.map((e) => (e['detail'] as { n: number }).n).sort((a, b) => a - b);

  it('sends 10 entries per call and everything arrives', async () => {
    const { client, calls } = instrumentedEventBridge();
    expect(await publishToBus(client, items(23))).toEqual([]);
    expect(calls()).toBe(3);
    expect(published(await h.drainPublished(23))).toEqual(Array.from({ length: 23 }, (_, i) => i));
  });

  it('never sends an entry over 256 KB (EventBridge would refuse the whole call) and publishes the rest', async () => {
    const { client, calls } = instrumentedEventBridge();
    const big = { entry: toPutEventsEntry(event(100, { padding: 'x'.repeat(PUT_EVENTS_MAX_BYTES) }), h.eventBusName), n: 100 };
    const failures = await publishToBus(client, [...items(2, 101), big, ...items(1, 103)]);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ item: { n: 100 }, errorCode: ENTRY_TOO_LARGE });
    expect(failures[0]?.errorMessage).toMatch(/over the 262144-byte PutEvents limit/);
    expect(calls()).toBe(1);
    expect(published(await h.drainPublished(3))).toEqual([101, 102, 103]);
  });

  it('returns an entry EventBridge rejected with its error code, without sending it again (not retryable)', async () => {
    const { client, calls } = instrumentedEventBridge();
    // moto answers MalformedDetail for a Detail that is not JSON, as EventBridge does.
    const malformed = { entry: { ...toPutEventsEntry(event(200), h.eventBusName), Detail: '{not json' }, n: 200 };
    const failures = await publishToBus(client, [...items(1, 201), malformed, ...items(1, 202)]);
    expect(failures.map((f) => ({ n: f.item.n, code: f.errorCode }))).toEqual([{ n: 200, code: 'MalformedDetail' }]);
    expect(calls()).toBe(1);
    expect(published(await h.drainPublished(2))).toEqual([201, 202]);
  });

  it('sends a throttled entry again, alone, and it arrives once', async () => {
    // The first answer says entry 1 was throttled (moto never throttles); the retry goes to moto for real.
    const { client, calls } = instrumentedEventBridge({
      tamper: (output, call) =>
        call === 1 ? { ...output, FailedEntryCount: 1, Entries: (output.Entries ?? []).map((e, i) => (i === 1 ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' } : e)) } : output,
    });
    expect(await publishToBus(client, items(3, 300), { backoffMs: 1 })).toEqual([]);
    expect(calls()).toBe(2);
    // 300 and 302 went out with the first call; 301 with the retry (the first answer was rewritten, so moto has it twice).
    expect(published(await h.drainPublished(4))).toEqual([300, 301, 301, 302]);
  });

  it('gives up on an entry still failing after maxAttempts, and says why', async () => {
    const { client, calls } = instrumentedEventBridge({
      tamper: (output) => ({
        ...output,
        FailedEntryCount: 1,
        Entries: (output.Entries ?? []).map(() => ({ ErrorCode: 'InternalFailure', ErrorMessage: 'injected' })),
      }),
    });
    const failures = await publishToBus(client, items(1, 400), { maxAttempts: 3, backoffMs: 1 });
    expect(failures.map((f) => [f.item.n, f.errorCode, f.errorMessage])).toEqual([[400, 'InternalFailure', 'injected']]);
    expect(calls()).toBe(3);
    expect(describePublishFailures([...failures, ...failures])).toBe('InternalFailure x2');
    await h.drainPublished(3);
  });

  it('fails the entries of a call that threw, with the error, and still publishes the other chunks', async () => {
    const { client, calls } = instrumentedEventBridge({ throwOnCall: 2 });
    const failures = await publishToBus(client, items(12, 500));
    // The SDK retries a throwing call itself: not again here.
    expect(calls()).toBe(2);
    expect(failures.map((f) => [f.item.n, f.errorCode])).toEqual([
      [510, 'ThrottlingException'],
      [511, 'ThrottlingException'],
    ]);
    expect(failures[0]?.cause).toBeInstanceOf(Error);
    expect(published(await h.drainPublished(10))).toEqual(Array.from({ length: 10 }, (_, i) => 500 + i));
  });
});
