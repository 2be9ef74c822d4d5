import { describe, expect, it } from 'vitest';
import { runMonth } from '../../lib/detections/month-run.ts';
import { info } from './support.ts';

describe('a month of a larger organization (lib/detections/month.ts)', () => {
  it('benign: churn, rotation, a nightly backup, scheduled bursts and a region move raise no finding in the month', { timeout: 300_000 }, async () => {
    const r = await runMonth({ attacks: false });
    expect(r.monthEvents).toBeGreaterThan(25_000);
    expect(r.findings.map((f) => info(f).title)).toEqual([]);
    // The warm-up is where the routine is learned: only the first three mornings' scale-outs are new then.
    expect(r.warmupFindings.map((f) => info(f).analytic.uid)).toEqual(['token-spike', 'token-spike', 'token-spike']);
    // The first morning's agents are named unlike the fleet so far (evidence); from the second on, the
    // scale-out is part of the fleet's shape: every burst agent is a look-alike, none is stopped without approval.
    const agents = (f: (typeof r.warmupFindings)[number], role: string) =>
      (f['resources'] as { type: string; data: Record<string, unknown> }[]).filter((x) => x.type === 'Agent' && x.data['role'] === role && (role !== 'related' || x.data['like_fleet'] === true))
        .length;
    expect(r.warmupFindings.slice(1).map((f) => [agents(f, 'implicated'), agents(f, 'related')])).toEqual([
      [0, 50],
      [0, 50],
    ]);
  });

  it('with attacks woven in: every attack raises its finding about the right entity', { timeout: 300_000 }, async () => {
    const r = await runMonth({ attacks: true });
    for (const { attack, found } of r.attacks) expect(found, attack.name).toBeDefined();
    expect(r.attacks.length).toBe(6);
    // Nothing else than the attacks (an attack may raise a second, related finding).
    const attackTimes = r.attacks.map((a) => a.attack.start);
    for (const f of r.findings)
      expect(
        attackTimes.some((t) => f.time >= t && f.time - t < 3_600_000),
        info(f).title,
      ).toBe(true);
  });
});
