import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import { agentConnected, audit, registrationBlocked, uid, type Envelope } from '../../lib/detections/builders.ts';
import { breakGlassEdit } from '../../lib/detections/break-glass-edit.ts';
import { detectorById } from '../../lib/detections/index.ts';
import { createDetectStage, StateUnavailableError } from '../../lib/detections/stage.ts';
import type { AnyDetector } from '../../lib/detections/types.ts';
import { StaticIpEnricher } from '../../lib/enrich/ip.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import type { StatePort } from '../../lib/state/port.ts';
import { SqliteState } from '../../lib/state/sqlite.ts';
import { evidencesOf, expectValidFinding, info } from './support.ts';

function norm(e: Envelope): OcsfEvent {
  const r = normalizeEnvelope(e);
  if (!r.ok) throw new Error(r.reason);
  return r.event;
}

const jane = { uuid: uid('user', 'jane'), name: 'Jane Doe' };
const pipeline = { type: 'Pipeline', uuid: uid('pipeline', 'deploy'), name: 'deploy' };
const edit = (at: string, seq = 0): OcsfEvent => norm(audit({ at, type: 'PIPELINE_UPDATED', actor: jane, subject: pipeline, ip: '86.1.2.3', seq }));

async function run(events: readonly OcsfEvent[], raw: Record<string, unknown> = {}, options: Parameters<typeof createDetectStage>[2] = {}, flushEvery = 1): Promise<OcsfEvent[]> {
  const state = new SqliteState({ path: ':memory:' });
  const stage = createDetectStage(parseConfig(raw), state, options);
  const out: OcsfEvent[] = [];
  for (const [i, e] of events.entries()) {
    out.push(...(await stage.detect(e)));
    if ((i + 1) % flushEvery === 0) await stage.flush();
  }
  await stage.flush();
  await state.close();
  return out;
}

function throwing(id: 'token-spike' | 'break-glass-edit', error: Error): AnyDetector {
  const base = detectorById(id) as AnyDetector;
  return { meta: base.meta, accepts: () => true, detect: async () => Promise.reject(error) };
}

describe('detect stage', () => {
  it('turns a detector that throws into an error finding (fail loud), deduplicated per error', async () => {
    const events = [edit('2026-03-03T10:00:00Z'), edit('2026-03-03T10:01:00Z', 1)];
    const findings = await run(events, {}, { detectors: [throwing('break-glass-edit', new TypeError('boom: cannot read x'))] });
    expect(findings).toHaveLength(1);
    const [f] = findings as [OcsfEvent];
    expectValidFinding(f);
    expect(info(f).types).toEqual(['Kitewatch Detector Error']);
    expect(info(f).analytic.uid).toBe('break-glass-edit');
    expect(info(f).title).toContain('Kitewatch detector break-glass-edit failed (TypeError)');
    expect(evidencesOf(f)[0]?.uid).toBe(events[0]?.metadata.uid);
    expect(f.unmapped).toMatchObject({ kitewatch: { error: { name: 'TypeError', message: 'boom: cannot read x' } } });
  });

  it('keeps running the other detectors when one throws', async () => {
    const findings = await run([edit('2026-03-03T10:00:00Z')], {}, { detectors: [throwing('token-spike', new Error('x')), breakGlassEdit] });
    expect(findings.map((f) => info(f).analytic.uid)).toEqual(['token-spike', 'break-glass-edit']);
  });

  it('reports a failing state store as an error finding, or rethrows it when asked (the Lambda retries)', async () => {
    const broken: StatePort = {
      get: async () => Promise.reject(new Error('ProvisionedThroughputExceededException')),
      getMany: async () => Promise.reject(new Error('down')),
      put: async () => Promise.reject(new Error('down')),
      increment: async () => Promise.reject(new Error('down')),
      delete: async () => Promise.reject(new Error('down')),
      writeCount: 0,
      close: async () => {},
    };
    const event = edit('2026-03-03T10:00:00Z');
    const soft = createDetectStage(parseConfig({}), broken, { detectors: [breakGlassEdit] });
    const findings = await soft.detect(event);
    expect(findings).toHaveLength(1);
    expect(info(findings[0] as OcsfEvent).title).toContain('failed (StateUnavailableError)');
    const strict = createDetectStage(parseConfig({}), broken, { detectors: [breakGlassEdit], stateErrors: 'throw' });
    await expect(strict.detect(event)).rejects.toBeInstanceOf(StateUnavailableError);
  });

  it('raises one finding per incident: it closes after the configured window without new evidence, in event time', async () => {
    const events = [edit('2026-03-03T10:00:00Z'), edit('2026-03-03T10:02:00Z', 1), edit('2026-03-03T10:30:00Z', 2), edit('2026-03-03T11:05:00Z', 3), edit('2026-03-03T12:06:00Z', 4)];
    const dflt = await run(events, {}, { detectors: [breakGlassEdit] });
    // 10:02, 10:30 and 11:05 each extend the open incident (nothing new to act on); 12:06 comes
    // 61 minutes after the last evidence, so the incident had closed and a new one opens.
    expect(dflt.map((f) => f.time)).toEqual([events[0]?.time, events[4]?.time]);
    expect(new Set(dflt.map((f) => info(f).uid)).size).toBe(2);
    expect(dflt.map((f) => f.activity_id)).toEqual([1, 1]);
    const short = await run(events, { detectors: { 'break-glass-edit': { dedupWindowMinutes: 1 } } }, { detectors: [breakGlassEdit] });
    expect(short).toHaveLength(5);
  });

  it('does not run disabled detectors', async () => {
    const findings = await run([edit('2026-03-03T10:00:00Z')], { detectors: { 'break-glass-edit': { enabled: false } } });
    expect(findings).toEqual([]);
  });

  it('is deterministic: same input, same findings, whatever the wall clock, store clock or batch size', async () => {
    const token = { uuid: uid('token', 't'), description: 't' };
    const enrich = new StaticIpEnricher({ '3.80.0.0/12': { asn: 14618, country: 'US' }, '185.220.101.0/24': { asn: 60729, country: 'DE' } });
    const events = [
      norm(agentConnected({ at: '2026-03-01T09:00:00Z', agent: { uuid: uid('agent', '1'), name: 'a1', ip: '3.80.0.1' }, token })),
      norm(agentConnected({ at: '2026-03-03T09:00:00Z', agent: { uuid: uid('agent', '2'), name: 'a2', ip: '185.220.101.9' }, token })),
      norm(registrationBlocked({ at: '2026-03-03T09:01:00Z', blockedIp: '185.220.101.9', clusterToken: { uuid: uid('ct', 'x'), description: 'x', allowedIps: '3.80.0.0/12' } })),
      edit('2026-03-03T10:00:00Z'),
    ];
    const a = await run(events, {}, { enrich }, 1);
    const b = await run(events, {}, { enrich, storeClock: () => 0 }, 100);
    const c = await run(events, {}, { enrich, storeClock: () => 4_000_000_000 }, 2);
    expect(a.map((f) => info(f).analytic.uid)).toEqual(['unusual-ip', 'unusual-ip', 'break-glass-edit']);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(c)).toBe(JSON.stringify(a));
    for (const f of a) {
      expectValidFinding(f);
      // Event time, never wall clock.
      expect(info(f).created_time).toBe(f.time);
      expect(events.map((e) => e.time)).toContain(f.time);
    }
    expect(new Set(a.map((f) => info(f).uid)).size).toBe(3);
  });

  it('wraps a store it is given in one batch cache, and writes once per key per flush', async () => {
    const inner = new SqliteState({ path: ':memory:' });
    const stage = createDetectStage(parseConfig({}), inner, { detectors: [breakGlassEdit] });
    await stage.detect(edit('2026-03-03T10:00:00Z'));
    await stage.detect(edit('2026-03-03T10:01:00Z', 1));
    expect(inner.writeCount).toBe(0);
    await stage.flush();
    // The incident key, the seen-set node holding both events, and last-event.
    expect(inner.writeCount).toBe(3);
    expect(stage.lastFlush?.writes).toBe(3);
    expect(stage.suppressed).toBe(1);
    await inner.close();
  });
});
