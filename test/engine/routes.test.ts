import { describe, expect, it } from 'vitest';
import { toBusEnvelope } from '../../lib/engine/bus.ts';
import { compilePattern, validatePattern } from '../../lib/engine/pattern.ts';
import { routeByClass } from '../../lib/engine/pipeline.ts';
import { loadRules, type CompiledRule } from '../../lib/engine/rules.ts';

function rule(eventPattern: Record<string, unknown>): CompiledRule {
  const pattern = validatePattern(eventPattern);
  return { name: 'r', description: 'd', bus: 'kitewatch', target: 'forward', eventPattern: pattern, matches: compilePattern(pattern) };
}

// Events that share a class but differ in everything else a local envelope carries.
const CLASSES = [2004, 3002, 6003, 7001];
function variants(classUid: number): Record<string, unknown>[] {
  return [
    { class_uid: classUid, time: 0 },
    { class_uid: classUid, time: 1_795_392_000_000, severity_id: 5, metadata: { uid: 'a' }, replay: 'x' },
    { class_uid: classUid, time: 1, activity_id: 2, status_id: 2, unmapped: { account: '1' } },
  ];
}

describe('routes memoized per class_uid (LocalPipeline)', () => {
  it('memoizes only rules whose answer is the same for every event of a class', () => {
    const all = [...loadRules().filter((r) => r.bus === 'kitewatch'), rule({ source: ['kitewatch'], account: ['123456789012'] }), rule({ 'replay-name': [{ exists: false }] })];
    for (const r of all) {
      expect(routeByClass(r), r.name).toBe(true);
      for (const c of CLASSES) {
        const answers = new Set(variants(c).map((e) => r.matches(toBusEnvelope(e as { class_uid: number; time: number }))));
        expect(answers.size, `${r.name} on class ${c}`).toBe(1);
      }
    }
  });

  it('matches per event when a rule looks at time, another detail field or $or', () => {
    expect(routeByClass(rule({ time: [{ prefix: '2026' }] }))).toBe(false);
    expect(routeByClass(rule({ detail: { severity_id: [5] } }))).toBe(false);
    expect(routeByClass(rule({ detail: { class_uid: [2004], severity_id: [5] } }))).toBe(false);
    expect(routeByClass(rule({ $or: [{ detail: { severity_id: [5] } }, { source: ['kitewatch'] }] }))).toBe(false);
  });
});
