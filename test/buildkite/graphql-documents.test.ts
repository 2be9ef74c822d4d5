import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { GRAPHQL_DOCUMENTS } from '../../lib/buildkite/graphql-documents.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const schema = buildSchema(readFileSync(join(ROOT, 'data/buildkite/schema.graphql'), 'utf8'));

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? tsFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('GraphQL documents', () => {
  it.each(Object.entries(GRAPHQL_DOCUMENTS))("%s is valid against Buildkite's schema", (_name, document) => {
    const errors = validate(schema, parse(document));
    expect(errors.map((e) => e.message)).toEqual([]);
  });

  it('every document has a unique operation name', () => {
    const names = Object.values(GRAPHQL_DOCUMENTS).map((d) => /(?:query|mutation)\s+(\w+)/.exec(d)?.[1]);
    expect(names.every((n) => n !== undefined)).toBe(true);
    expect(new Set(names).size).toBe(names.length);
  });

  it('no GraphQL document is written anywhere else (so this test sees them all)', () => {
    const inline = /`\s*(?:query|mutation)\s+\w+\s*[({]/;
    const offenders = [...tsFiles(join(ROOT, 'lib')), ...tsFiles(join(ROOT, 'lambdas'))]
      .filter((f) => !f.endsWith('lib/buildkite/graphql-documents.ts'))
      .filter((f) => inline.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f));
    expect(offenders).toEqual([]);
  });
});
