import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildSchema, isEnumType } from 'graphql';
import { AUDIT_EVENT_TYPES } from '../../lib/contracts/audit-event-types.ts';

const data = (p: string) => readFileSync(new URL(`../../data/buildkite/${p}`, import.meta.url), 'utf8');

describe('audit event types', () => {
  it('the code knows exactly the 184 types listed in data/buildkite/audit_event_types.txt', () => {
    const listed = data('audit_event_types.txt')
      .split('\n')
      .filter((l) => l.trim() !== '');
    expect(listed).toHaveLength(184);
    expect([...AUDIT_EVENT_TYPES]).toEqual(listed);
  });

  it("...which are the values of AuditEventType in Buildkite's GraphQL schema", () => {
    const schema = buildSchema(data('schema.graphql'), { assumeValidSDL: true });
    const type = schema.getType('AuditEventType');
    if (!isEnumType(type)) throw new Error('AuditEventType is not an enum in the schema');
    expect(
      type
        .getValues()
        .map((v) => v.name)
        .sort(),
    ).toEqual([...AUDIT_EVENT_TYPES].sort());
  });
});
