import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.ts';

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

describe('lib/cli is the top layer', () => {
  it('no other folder of lib/ or lambdas/ imports from lib/cli', () => {
    const offenders = [...tsFiles(join(ROOT, 'lib')), ...tsFiles(join(ROOT, 'lambdas'))]
      .filter((f) => !relative(ROOT, f).startsWith('lib/cli/'))
      .filter((f) => /from\s+['"][./]*(lib\/)?cli\//.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f));
    expect(offenders).toEqual([]);
  });
});
