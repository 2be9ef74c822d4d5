import { describe, expect, it } from 'vitest';
import { CASES, runCase } from '../../lib/detections/cases.ts';
import { DETECTORS } from '../../lib/detections/index.ts';
import { expectValidFinding } from './support.ts';

// The detectors' own cases (lib/detections/*.cases.ts), the same ones `kitewatch detections test` runs.
for (const detector of DETECTORS) {
  describe(`${detector.meta.id} cases`, () => {
    const cases = CASES[detector.meta.id];

    it('has positive and negative cases', () => {
      expect(cases.filter((c) => c.kind === 'positive').length).toBeGreaterThan(0);
      expect(cases.filter((c) => c.kind === 'negative').length).toBeGreaterThan(0);
    });

    it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      const result = await runCase(detector, c);
      expect(result.problems).toEqual([]);
      for (const { finding } of result.findings) expectValidFinding(finding);
    });
  });
}
