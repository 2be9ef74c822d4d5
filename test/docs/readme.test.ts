import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GENERATED_DOCS, staleDocs } from '../../scripts/gen-docs.ts';

const ROOT = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, ROOT), 'utf8');

describe('generated reference docs', () => {
  it.each(GENERATED_DOCS.map((d) => [d.path, d] as const))('%s matches the code', async (_path, doc) => {
    // On failure run: npx node scripts/gen-docs.ts
    expect(read(doc.path)).toBe(await doc.render());
  });

  it('the check reports a stale file, and only that one', async () => {
    expect(await staleDocs(read)).toEqual([]);
    for (const { path } of GENERATED_DOCS) {
      const edited = (p: string) => (p === path ? `${read(p)}\nhand edit\n` : read(p));
      expect(await staleDocs(edited)).toEqual([path]);
    }
    expect(await staleDocs((p) => (p === 'docs/detectors.md' ? undefined : read(p)))).toEqual(['docs/detectors.md']);
  });
});

describe('README.md', () => {
  const readme = read('README.md');

  it('stays a front door: under 25 KB', () => {
    expect(statSync(new URL('README.md', ROOT)).size).toBeLessThan(25 * 1024);
  });

  it('links every generated reference doc instead of repeating it', () => {
    for (const { path } of GENERATED_DOCS) expect(readme).toContain(`(${path})`);
    expect(readme).not.toContain('BEGIN GENERATED');
  });

  it('every relative link names a file that exists', () => {
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/.test(l));
    expect(links.length).toBeGreaterThan(0);
    for (const link of links) expect(() => statSync(new URL(link, ROOT)), link).not.toThrow();
  });
});
