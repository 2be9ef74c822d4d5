import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import { agentConnected, uid, type Envelope } from '../../lib/detections/builders.ts';
import { compactUid, LAST_EVENT_KEY, type LastEvent, resentMemoryDays, SeenSet, SEEN_NODE_CHARS } from '../../lib/detections/seen.ts';
import { createDetectStage } from '../../lib/detections/stage.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import type { PutOptions, StatePort } from '../../lib/state/port.ts';
import { SqliteState } from '../../lib/state/sqlite.ts';
import { info } from './support.ts';

function norm(e: Envelope): OcsfEvent {
  const r = normalizeEnvelope(e);
  if (!r.ok) throw new Error(r.reason);
  return r.event;
}

const T0 = Date.UTC(2026, 2, 10, 10, 0, 0);
const token = { uuid: uid('token', 'seen-test'), description: 'ci-linux' };

/** `count` registrations on one agent token within five minutes from `from`; `tag` makes them distinct events. */
function registrations(tag: string, count: number, from = T0): OcsfEvent[] {
  return Array.from({ length: count }, (_, i) =>
    norm(agentConnected({ at: from + i * 9_000, agent: { uuid: uid('agent', tag, String(i)), name: `${tag}-${i}`, ip: `3.80.${i >> 8}.${i & 255}` }, token })),
  );
}

async function detectAll(stage: ReturnType<typeof createDetectStage>, events: readonly OcsfEvent[], flushEvery = 25): Promise<OcsfEvent[]> {
  const out: OcsfEvent[] = [];
  for (const [i, e] of events.entries()) {
    out.push(...(await stage.detect(e)));
    if ((i + 1) % flushEvery === 0) {
      out.push(...(await stage.drain()));
      await stage.flush();
    }
  }
  out.push(...(await stage.drain()));
  await stage.flush();
  return out;
}

/** The state store's items, seen-set and last-event aside: what the detectors remember. */
function detectorState(path: string): string[] {
  const db = new SqliteState({ path });
  const rows = (db as unknown as { db: { prepare(sql: string): { all(): Array<{ key: string; value: string; version: number }> } } }).db
    .prepare("SELECT key, value, version FROM kw_state WHERE key NOT LIKE 'detect:seen:%' AND key <> 'detect:last-event' ORDER BY key")
    .all()
    .map((r) => `${r.key} v${r.version} ${r.value}`);
  void db.close();
  return rows;
}

const config = parseConfig({}, 'defaults');

describe('seen-set (lib/detections/seen.ts)', () => {
  it('keeps uids losslessly: a uuid in 22 characters, anything else behind ~, never two uids alike', () => {
    const a = uid('x', '1');
    expect(compactUid(a)).toHaveLength(22);
    expect(Buffer.from(compactUid(a), 'base64url').toString('hex')).toBe(a.replaceAll('-', ''));
    expect(compactUid(a.toUpperCase())).toBe(`~${a.toUpperCase()}`);
    expect(compactUid('not-a-uuid')).toBe('~not-a-uuid');
    const ids = Array.from({ length: 5000 }, (_, i) => uid('y', String(i)));
    expect(new Set(ids.map(compactUid)).size).toBe(ids.length);
  });

  it('is exact: 20,000 new uids in one 10-second window are all new, then all seen; none is wrongly seen', async () => {
    const store = new SqliteState({ path: ':memory:', nowSeconds: () => T0 / 1000 });
    const seen = new SeenSet(store, { retentionSeconds: 86_400, storeClock: () => T0 / 1000 });
    const ids = Array.from({ length: 20_000 }, (_, i) => uid('dense', String(i)));
    for (const [i, id] of ids.entries()) {
      expect(await seen.markIfNew(id, T0 + (i % 10_000))).toBe(true);
      if ((i + 1) % 1000 === 0) await seen.commit();
    }
    await seen.commit();
    const again = new SeenSet(store, { retentionSeconds: 86_400, storeClock: () => T0 / 1000 });
    for (const [i, id] of ids.entries()) expect(await again.markIfNew(id, T0 + (i % 10_000))).toBe(false);
    for (let i = 0; i < 2000; i++) expect(await again.markIfNew(uid('other', String(i)), T0 + (i % 10_000))).toBe(true);
    // Every node is small enough for DynamoDB (400 KB) and bills a few write units.
    const rows = (store as unknown as { db: { prepare(sql: string): { all(): Array<{ value: string }> } } }).db.prepare("SELECT value FROM kw_state WHERE key LIKE 'seen:%'").all();
    expect(rows.length).toBeGreaterThan(10);
    for (const r of rows) expect(r.value.length).toBeLessThanOrEqual(SEEN_NODE_CHARS);
    await store.close();
  });

  it('merges concurrent writers: two batches marking the same window keep both sets of marks', async () => {
    const store = new SqliteState({ path: ':memory:', nowSeconds: () => T0 / 1000 });
    const opts = { retentionSeconds: 86_400, storeClock: () => T0 / 1000 };
    const a = new SeenSet(store, opts);
    const b = new SeenSet(store, opts);
    // Both read the (empty) nodes before either commits.
    for (let i = 0; i < 400; i++) {
      await a.markIfNew(uid('a', String(i)), T0 + i);
      await b.markIfNew(uid('b', String(i)), T0 + i);
    }
    await a.commit();
    await b.commit();
    const check = new SeenSet(store, opts);
    for (let i = 0; i < 400; i++) {
      expect(await check.markIfNew(uid('a', String(i)), T0 + i)).toBe(false);
      expect(await check.markIfNew(uid('b', String(i)), T0 + i)).toBe(false);
    }
    await store.close();
  });

  it('forgets a discarded batch, expires marks after the retention, and keeps last-event no further ahead than the clock allows', async () => {
    let clock = T0 / 1000;
    const store = new SqliteState({ path: ':memory:', nowSeconds: () => clock });
    const seen = new SeenSet(store, { retentionSeconds: 3_600, storeClock: () => clock });
    expect(await seen.markIfNew(uid('e', '1'), T0)).toBe(true);
    seen.discard();
    expect(await seen.markIfNew(uid('e', '1'), T0)).toBe(true);
    seen.noteTime(T0 + 365 * 86_400_000);
    await seen.commit();
    expect((await store.get<LastEvent>(LAST_EVENT_KEY))?.value).toEqual({ t: T0 + 5 * 60_000, gaps: [] });
    expect(await seen.markIfNew(uid('e', '1'), T0)).toBe(false);
    seen.discard();
    clock += 86_400 + 3_601;
    expect(await seen.markIfNew(uid('e', '1'), T0)).toBe(true);
    await store.close();
  });

  it('keeps the last pauses in event time in last-event, so a backfill finds where a silence began', async () => {
    const store = new SqliteState({ path: ':memory:', nowSeconds: () => T0 / 1000 + 86_400 });
    const seen = new SeenSet(store, { retentionSeconds: 86_400, storeClock: () => T0 / 1000 + 86_400 });
    for (const minutes of [0, 1, 3, 40, 41, 48]) {
      seen.noteTime(T0 + minutes * 60_000);
      await seen.commit();
    }
    // 3 -> 40 and 41 -> 48 are pauses of 5 minutes or more; 0 -> 1 -> 3 are not.
    expect((await store.get<LastEvent>(LAST_EVENT_KEY))?.value).toEqual({
      t: T0 + 48 * 60_000,
      gaps: [
        [T0 + 3 * 60_000, T0 + 40 * 60_000],
        [T0 + 41 * 60_000, T0 + 48 * 60_000],
      ],
    });
    await store.close();
  });

  it('remembers a day beyond the farthest backfill by default', () => {
    expect(resentMemoryDays()).toBe(8);
    expect(resentMemoryDays({ backfillSeedDays: 30, backfillMaxReachDays: 7 })).toBe(31);
    expect(resentMemoryDays({ resentEventMemoryDays: 40, backfillSeedDays: 30 })).toBe(40);
  });
});

describe('detect stage: re-sent events are counted once', () => {
  it('a re-sent window inflates no count: 30 registrations sent twice raise no spike, 30 new ones do', async () => {
    const path = `${process.env['TMPDIR'] ?? '/tmp'}/kitewatch-seen-${process.pid}-${Date.now()}.db`;
    const first = registrations('first', 30);
    const open = () => new SqliteState({ path });

    let store = open();
    let stage = createDetectStage(config, store);
    expect(await detectAll(stage, first)).toEqual([]);
    await store.close();
    const once = detectorState(path);

    // The same window again (a backfill re-run), and within one run twice over (an overlap).
    store = open();
    stage = createDetectStage(config, store);
    expect(await detectAll(stage, [...first, ...first])).toEqual([]);
    expect(stage.resent).toBe(60);
    await store.close();
    expect(detectorState(path)).toEqual(once);

    // Genuinely new registrations in the same window: 60 distinct ones are a spike.
    store = open();
    stage = createDetectStage(config, store);
    const found = await detectAll(stage, registrations('second', 30, T0 + 1000));
    expect(found.map((f) => info(f).analytic.uid)).toEqual(['token-spike']);
    expect(stage.resent).toBe(0);
    await store.close();
  });

  it('without the seen-set the same re-send is a false spike (what the test above guards)', async () => {
    const store = new SqliteState({ path: ':memory:' });
    const first = registrations('first', 30);
    // Distinct uids, same content: what a re-sent window looks like to a detector that keeps no ids.
    const resentAsNew = first.map((e) => ({ ...e, metadata: { ...e.metadata, uid: uid('resent', e.metadata.uid) } }));
    const stage = createDetectStage(config, store);
    const found = await detectAll(stage, [...first, ...resentAsNew]);
    expect(found.map((f) => info(f).analytic.uid)).toEqual(['token-spike']);
    await store.close();
  });

  it('marks nothing seen when the detectors state flush fails: the redelivery is counted', async () => {
    const inner = new SqliteState({ path: ':memory:' });
    let fail = true;
    const flaky: StatePort = {
      get: (k) => inner.get(k),
      getMany: (k) => inner.getMany(k),
      put: async <T>(k: string, v: T, o: PutOptions) => {
        if (fail && !k.startsWith('detect:seen:') && k !== `detect:${LAST_EVENT_KEY}`) throw new Error('ProvisionedThroughputExceededException');
        return inner.put(k, v, o);
      },
      increment: async (k, d, e) => {
        if (fail) throw new Error('ProvisionedThroughputExceededException');
        return inner.increment(k, d, e);
      },
      delete: (k) => inner.delete(k),
      get writeCount() {
        return inner.writeCount;
      },
      close: () => inner.close(),
    };
    const events = registrations('flaky', 10);
    const stage = createDetectStage(config, flaky, { stateErrors: 'throw' });
    for (const e of events) await stage.detect(e);
    await expect(stage.flush()).rejects.toThrow('ProvisionedThroughputExceededException');
    expect(await inner.get(`detect:${LAST_EVENT_KEY}`)).toBeUndefined();
    expect(await inner.get(`detect:seen:86400:${Math.floor(T0 / 86_400_000) * 86_400}`)).toBeUndefined();
    fail = false;
    const retry = createDetectStage(config, flaky, { stateErrors: 'throw' });
    for (const e of events) await retry.detect(e);
    await retry.flush();
    expect(retry.resent).toBe(0);
    const third = createDetectStage(config, flaky, { stateErrors: 'throw' });
    for (const e of events) await third.detect(e);
    expect(third.resent).toBe(10);
    await inner.close();
  });
});
