/**
 * Runs the detect stage over a generated month (lib/detections/month.ts) as the local pipeline
 * would (batches of 500: findings, then the batch's Updates): what `npm run bench` reports as
 * precision and recall, and what test/detections/month.test.ts asserts.
 */
import { parseConfig } from '../config/load.ts';
import { normalizeEnvelope } from '../ocsf/normalize.ts';
import type { OcsfEvent } from '../ocsf/types.ts';
import { SqliteState } from '../state/sqlite.ts';
import { generateMonth, MONTH_CONFIG, type PlantedAttack } from './month.ts';
import { createDetectStage } from './stage.ts';

export interface MonthResult {
  /** Events of the measured month (after the warm-up). */
  readonly monthEvents: number;
  /** New findings (activity Create) raised in the month, and in the warm-up. */
  readonly findings: OcsfEvent[];
  readonly warmupFindings: OcsfEvent[];
  readonly updates: number;
  readonly attacks: ReadonlyArray<{ readonly attack: PlantedAttack; readonly found: OcsfEvent | undefined }>;
  readonly ms: number;
}

const target = (f: OcsfEvent) => (f.resources ?? []).find((r) => (r.data as { role?: string } | undefined)?.role === 'target');

export async function runMonth(options: { attacks: boolean; seed?: number }): Promise<MonthResult> {
  const month = generateMonth(options);
  const state = new SqliteState({ path: ':memory:' });
  const stage = createDetectStage(parseConfig(MONTH_CONFIG), state);
  const raised: Array<{ i: number; f: OcsfEvent }> = [];
  const t0 = performance.now();
  try {
    for (const [i, envelope] of month.events.entries()) {
      const r = normalizeEnvelope(envelope);
      if (!r.ok) throw new Error(`month event ${i} does not normalize: ${r.reason}`);
      for (const f of await stage.detect(r.event)) raised.push({ i, f });
      if ((i + 1) % 500 === 0 || i === month.events.length - 1) {
        for (const f of await stage.drain()) raised.push({ i, f });
        await stage.flush();
      }
    }
  } finally {
    await state.close();
  }
  const ms = performance.now() - t0;
  const created = raised.filter((x) => x.f.activity_id === 1);
  const findings = created.filter((x) => x.i >= month.monthStartIndex).map((x) => x.f);
  const attacks = month.attacks.map((attack) => ({
    attack,
    found: findings.find((f) => {
      const t = target(f);
      const analytic = (f['finding_info'] as { analytic?: { uid?: string } }).analytic?.uid;
      return analytic === attack.detector && t?.type === attack.target.type && t.uid === attack.target.uid && f.time >= attack.start;
    }),
  }));
  return {
    monthEvents: month.events.length - month.monthStartIndex,
    findings,
    warmupFindings: created.filter((x) => x.i < month.monthStartIndex).map((x) => x.f),
    updates: raised.length - created.length,
    attacks,
    ms,
  };
}
