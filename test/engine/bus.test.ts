import { describe, expect, it } from 'vitest';
import { chunkForPutEvents, PUT_EVENTS_MAX_BYTES, putEventsEntrySize, toPutEventsEntry } from '../../lib/engine/bus.ts';

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
