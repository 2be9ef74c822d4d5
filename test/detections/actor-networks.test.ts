/**
 * The stage's per-actor network memory (lib/detections/actor-networks.ts): judged against the
 * history before the event, learned from every audit event with an actor and an address, with
 * unusual-ip's allowedCidrs, learning period and memory. Real ip-location-db lookups:
 * 86.1.2.3 is AS5089 (GB), 185.220.101.34 AS60729 (DE).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import { judgeActorNetwork, trackActorNetwork } from '../../lib/detections/actor-networks.ts';
import { audit, uid } from '../../lib/detections/builders.ts';
import { defaultIpEnricher } from '../../lib/enrich/ip.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { SqliteState } from '../../lib/state/sqlite.ts';

const jane = { uuid: uid('user', 'jane'), name: 'Jane Doe' };
const enrich = defaultIpEnricher();
let state: SqliteState;

function event(at: string, ip: string): OcsfEvent {
  const r = normalizeEnvelope(audit({ at, type: 'PIPELINE_UPDATED', actor: jane, subject: { type: 'Pipeline', uuid: uid('pipeline', 'web'), name: 'web' }, ip }));
  if (!r.ok) throw new Error(r.reason);
  return r.event;
}

/** Judges then learns, as the stage does; returns whether the event's network was new. */
async function see(at: string, ip: string, settings = parseConfig({}).detectors['unusual-ip']): Promise<boolean | undefined> {
  const e = event(at, ip);
  const now = Math.floor(e.time / 1000);
  const n = await judgeActorNetwork(e, state, enrich, settings, now);
  // Expiry is garbage collection on the store clock (wall clock here), as the stage computes it.
  await trackActorNetwork(e, state, enrich, settings, now, (s) => Math.max(now, Math.floor(Date.now() / 1000)) + s);
  return n?.isNew;
}

beforeEach(() => {
  state = new SqliteState({ path: ':memory:' });
});
afterEach(async () => {
  await state.close();
});

describe('actor networks', () => {
  it('are quiet while learning, known once seen, new from another ASN and country after learning', async () => {
    expect(await see('2026-03-01T09:00:00Z', '86.1.2.3')).toBe(false);
    // Within the first 24 h: learned silently.
    expect(await see('2026-03-01T12:00:00Z', '185.220.101.34')).toBe(false);
    expect(await see('2026-03-03T09:00:00Z', '86.1.9.9')).toBe(false);
    expect(await see('2026-03-03T10:00:00Z', '185.220.101.34')).toBe(false);
    expect(await see('2026-03-03T11:00:00Z', '8.8.8.8')).toBe(true);
  });

  it('forget a network after networkMemoryDays, and never call allowedCidrs new', async () => {
    const settings = parseConfig({ detectors: { 'unusual-ip': { networkMemoryDays: 7, allowedCidrs: ['8.8.8.0/24'] } } }).detectors['unusual-ip'];
    const seen = [
      await see('2026-03-01T09:00:00Z', '86.1.2.3', settings),
      await see('2026-03-01T20:00:00Z', '185.220.101.34', settings),
      await see('2026-03-05T09:00:00Z', '8.8.8.8', settings),
      // Jane keeps using her ISP; the DE network was last used over 9 days ago.
      await see('2026-03-08T09:00:00Z', '86.1.2.3', settings),
      await see('2026-03-11T10:00:00Z', '185.220.101.34', settings),
    ];
    expect(seen).toEqual([false, false, false, false, true]);
  });

  it('say nothing for an event without an actor or an address', async () => {
    const r = normalizeEnvelope(audit({ at: '2026-03-01T09:00:00Z', type: 'PIPELINE_UPDATED', actor: null, subject: { type: 'Pipeline', uuid: uid('pipeline', 'web') } }));
    if (!r.ok) throw new Error(r.reason);
    expect(await judgeActorNetwork(r.event, state, enrich, parseConfig({}).detectors['unusual-ip'], 0)).toBeUndefined();
  });
});
