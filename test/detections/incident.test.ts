import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import { entitiesFor, parseFinding } from '../../lib/containment/policy.ts';
import { ms, secretRead, uid } from '../../lib/detections/builders.ts';
import { secretAccess } from '../../lib/detections/secret-access.ts';
import { createDetectStage } from '../../lib/detections/stage.ts';
import type { AnyDetector, FindingDraft } from '../../lib/detections/types.ts';
import { mergeIncident, SINCE_UPDATE, type Incident } from '../../lib/detections/incident.ts';
import type { FindingResource } from '../../lib/findings/contract.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { SqliteState } from '../../lib/state/sqlite.ts';
import { expectValidFinding, info, resourcesOf } from './support.ts';

const jane = { uuid: uid('user', 'jane'), name: 'Jane Doe' };
const keys = Array.from({ length: 20 }, (_, i) => `SERVICE_${i + 1}_KEY`);
const secret = (key: string) => ({ uuid: uid('secret', key), key });

function norm(e: Parameters<typeof normalizeEnvelope>[0]): OcsfEvent {
  const r = normalizeEnvelope(e);
  if (!r.ok) throw new Error(r.reason);
  return r.event;
}

/** A low-and-slow sweep: one new secret every 6 minutes for two hours, after a first read two days before. */
const events = [
  norm(secretRead({ at: '2026-03-01T09:00:00Z', secret: secret('STAGING_KEY'), actor: jane, ip: '86.1.2.3' })),
  ...keys.map((k, i) => norm(secretRead({ at: ms('2026-03-03T10:00:00Z') + i * 360_000, secret: secret(k), actor: jane, ip: '86.1.2.3' }))),
];

/** Runs the stage over `list` in batches of `batch` events (drain, then flush, after each). */
async function detect(list: readonly OcsfEvent[], batch = 1): Promise<OcsfEvent[]> {
  const state = new SqliteState({ path: ':memory:' });
  const stage = createDetectStage(parseConfig({}), state, { detectors: [secretAccess as AnyDetector] });
  const out: OcsfEvent[] = [];
  for (const [i, e] of list.entries()) {
    out.push(...(await stage.detect(e)));
    if ((i + 1) % batch === 0 || i === list.length - 1) {
      out.push(...(await stage.drain()));
      await stage.flush();
    }
  }
  await state.close();
  return out;
}

describe('incidents: one finding per incident, updated', () => {
  it('updates the same finding (uid, activity Update, counts, last seen, every secret) while the incident is open', async () => {
    const findings = await detect(events);
    expect(findings).toHaveLength(20);
    findings.forEach(expectValidFinding);
    const [created, ...updates] = findings as [OcsfEvent, ...OcsfEvent[]];
    expect(created.activity_id).toBe(1);
    expect(updates.every((u) => u.activity_id === 2 && u.activity_name === 'Update')).toBe(true);
    expect(new Set(findings.map((f) => info(f).uid))).toEqual(new Set([info(created).uid]));
    // Each update is its own event (a new metadata.uid) about the same finding.
    expect(new Set(findings.map((f) => f.metadata.uid)).size).toBe(20);
    const last = updates.at(-1) as OcsfEvent;
    expect(info(last).created_time).toBe(created.time);
    expect(info(last).first_seen_time).toBe(events[1]?.time);
    expect(info(last).last_seen_time).toBe(events[20]?.time);
    expect((last['finding_info'] as { related_events_count: number }).related_events_count).toBe(20);
    const secrets = resourcesOf(last)
      .filter((r) => r.type === 'Secret' && r.data.role !== 'related')
      .map((r) => r.name);
    expect(new Set(secrets)).toEqual(new Set(keys));
    expect(last.unmapped).toMatchObject({ kitewatch: { incident: { update: 19, events: 20 } } });
  });

  it('containment acts on the new targets each update names, each secret once, so every swept secret is rotated', async () => {
    const findings = await detect(events);
    const rotated: string[] = [];
    for (const f of findings) {
      const parsed = parseFinding(f);
      if (!parsed.ok) throw new Error(parsed.reason);
      rotated.push(
        ...entitiesFor('rotate-secret', parsed.finding)
          .targets.filter((t) => t.type === 'Secret')
          .map((t) => t.name ?? t.uid),
      );
    }
    expect(rotated.sort()).toEqual([...keys].sort());
  });

  it('raises one Update per incident per batch, holding everything the batch added; containment still reaches every secret', async () => {
    const findings = await detect(events, 8);
    // Events 1-7 in the first batch (the finding, then an Update with 6 more), 8-15, 16-20.
    expect(findings.map((f) => f.activity_id)).toEqual([1, 2, 2, 2]);
    expect(findings.map((f) => (f.unmapped as { kitewatch: { incident?: { update: number } } }).kitewatch.incident?.update)).toEqual([undefined, 1, 2, 3]);
    const rotated = findings.flatMap((f) => {
      const parsed = parseFinding(f);
      if (!parsed.ok) throw new Error(parsed.reason);
      return entitiesFor('rotate-secret', parsed.finding).targets.map((t) => t.name ?? t.uid);
    });
    expect(rotated.sort()).toEqual([...keys].sort());
  });

  it("closes after the detector's window without new evidence: the next read opens a new finding", async () => {
    const late = norm(secretRead({ at: ms('2026-03-03T10:00:00Z') + 19 * 360_000 + 61 * 60_000, secret: secret('LATE_KEY'), actor: jane, ip: '86.1.2.3' }));
    const findings = await detect([...events, late]);
    const f = findings.at(-1) as OcsfEvent;
    expect(f.activity_id).toBe(1);
    expect(info(f).uid).not.toBe(info(findings[0] as OcsfEvent).uid);
    expect(
      resourcesOf(f)
        .filter((r) => r.type === 'Secret')
        .map((r) => r.name),
    ).toEqual(['LATE_KEY']);
  });

  it('an Update marks the look-alike agents it adds (like_fleet), so containment asks about each once', () => {
    const agent = (u: string, role: 'implicated' | 'related', data: Record<string, unknown> = {}): FindingResource => ({ uid: u, type: 'Agent', data: { role, ...data } });
    const token: FindingResource = { uid: 't', type: 'AgentToken', data: { role: 'target' } };
    const prior: Incident = { u: 'f', c: 0, f: 0, l: 0, n: 1, s: 4, v: 1, r: [token, agent('old', 'related', { like_fleet: true, [SINCE_UPDATE]: 1 })], e: [] };
    const draft: FindingDraft = {
      dedupKey: 'k',
      confidence: 3,
      title: 't',
      desc: 'd',
      severity: 4,
      resources: [token, agent('old', 'related', { like_fleet: true }), agent('new', 'related', { like_fleet: true }), agent('plain', 'related'), agent('bad', 'implicated')],
      evidences: [{ uid: 'e2', time: 1, typeUid: 300201 }],
      firstSeen: 1,
      lastSeen: 1,
    };
    const { update } = mergeIncident(prior, draft, 1);
    const byUid = new Map((update?.resources ?? []).map((r) => [r.uid, r.data[SINCE_UPDATE]]));
    expect(Object.fromEntries(byUid)).toEqual({ t: undefined, old: 1, new: 2, plain: undefined, bad: 2 });
  });
});
