import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DETECTOR_ERROR_TYPE, DetectionFindingSchema } from '../../lib/findings/contract.ts';
import { KITEWATCH_VERSION } from '../../lib/version.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && d.name.endsWith('.ts'))
    .map((d) => join(d.parentPath, d.name));
}

describe('the finding contract', () => {
  it('is defined once: the error type and the finding schema live only in lib/findings/contract.ts', () => {
    const code = [...sources('lib'), ...sources('lambdas')];
    const mentions = code.filter((f) => readFileSync(f, 'utf8').includes(`'${DETECTOR_ERROR_TYPE}'`));
    expect(mentions.map((f) => f.slice(ROOT.length))).toEqual(['lib/findings/contract.ts']);
    const zodFindingShapes = code.filter((f) => /z\.literal\(2004\)/.test(readFileSync(f, 'utf8')));
    expect(zodFindingShapes.map((f) => f.slice(ROOT.length))).toEqual(['lib/findings/contract.ts']);
  });

  it('rejects what is not a Detection Finding', () => {
    expect(DetectionFindingSchema.safeParse({ class_uid: 3002 }).success).toBe(false);
    expect(DetectionFindingSchema.safeParse({ class_uid: 2004, activity_id: 1, severity_id: 3, time: 1, metadata: {}, finding_info: { uid: '' } }).success).toBe(false);
  });

  it('Kitewatch reports its own version, the package version', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(KITEWATCH_VERSION).toBe(pkg.version);
  });
});
