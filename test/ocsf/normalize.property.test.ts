import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import { validateOcsf } from '../../lib/ocsf/validate.ts';
import { mutate, pathsOf, sample, sampleSlugs } from '../support/fixtures.ts';

/** The property: never throws; either a schema-valid OCSF event or a non-empty reason. */
function holds(input: unknown): boolean {
  const r = normalizeEnvelope(input);
  if (r.ok) {
    const v = validateOcsf(r.event);
    if (!v.valid) throw new Error(`invalid OCSF for ${JSON.stringify(input).slice(0, 300)}: ${v.errors.join('; ')}`);
    return true;
  }
  return typeof r.reason === 'string' && r.reason.length > 0;
}

describe('normalizer properties (fast-check)', () => {
  it('on any JSON value it never throws and returns a valid event or a reason', () => {
    fc.assert(fc.property(fc.jsonValue(), holds), { numRuns: 500 });
  });

  it('on any envelope-shaped object with a Buildkite source and arbitrary detail', () => {
    const envelope = fc.record({
      version: fc.constant('0'),
      id: fc.string({ minLength: 1 }),
      'detail-type': fc.constantFrom('Agent Connected', 'Audit Event Logged', 'Job Finished', 'Build Started', 'Agent Blocked', 'Mystery Event'),
      source: fc.constant('aws.partner/buildkite.com/my-org/0106'),
      time: fc.constant('2024-08-19T05:18:17Z'),
      detail: fc.dictionary(fc.string(), fc.jsonValue()),
    });
    fc.assert(fc.property(envelope, holds), { numRuns: 500 });
  });

  it('on real samples with one field replaced by an arbitrary JSON value or removed', () => {
    const samples = sampleSlugs().map((s) => sample(s));
    const arb = fc.nat({ max: samples.length - 1 }).chain((i) => {
      const base = samples[i] as Record<string, unknown>;
      const paths = pathsOf(base);
      return fc.tuple(fc.constant(base), fc.constantFrom(...paths), fc.option(fc.jsonValue(), { nil: undefined }));
    });
    fc.assert(
      fc.property(arb, ([base, path, value]) => holds(mutate(base, path, value))),
      { numRuns: 1500 },
    );
  });

  it('on audit events with arbitrary context strings, IPs and types', () => {
    const base = sample('audit-event-logged');
    const arb = fc.record({
      type: fc.oneof(fc.string(), fc.constantFrom('SECRET_READ', 'USER_IMPERSONATED', 'TEAM_MEMBER_CREATED', 'AGENT_TOKEN_REVOKED')),
      context: fc.oneof(
        fc.string(),
        fc.json(),
        fc.record({ request_ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()), request_user_agent: fc.string() }).map((o) => JSON.stringify(o)),
      ),
      subject_uuid: fc.option(fc.string(), { nil: null }),
    });
    fc.assert(
      fc.property(arb, (o) => {
        const input = structuredClone(base);
        Object.assign((input['detail'] as { event: Record<string, unknown> }).event, o);
        expect(holds(input)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
