import { describe, expect, it } from 'vitest';
import { measureSpikeWrites } from '../../lib/detections/bench.ts';

describe('state writes under a spike', () => {
  it('10,000 registrations on one token cost under 0.05 writes per event, batched like SQS', async () => {
    const r = await measureSpikeWrites({ events: 10_000, batchSize: 100 });
    expect(r.findings).toBe(1);
    expect(r.logicalWrites).toBeGreaterThanOrEqual(r.events);
    expect(r.writesPerEvent).toBeLessThan(0.05);
  });
});
