import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ocsfMappingDoc, renderReadme } from '../../scripts/gen-docs.ts';

describe('README', () => {
  it('generated sections (config reference, OCSF mapping, catalogs) match the code', () => {
    const current = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    // On failure run: npx node scripts/gen-docs.ts
    expect(renderReadme(current)).toBe(current);
  });

  it('docs/ocsf-mapping.md (classes, severity table, one example event per class) matches the code', async () => {
    const current = readFileSync(new URL('../../docs/ocsf-mapping.md', import.meta.url), 'utf8');
    // On failure run: npx node scripts/gen-docs.ts
    expect(await ocsfMappingDoc()).toBe(current);
  });
});
