import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as z from 'zod';
import { compileGuard } from '../../lib/contracts/guard.ts';
import { DETAIL_GUARDS, DETAIL_SCHEMAS, ENVELOPE_GUARD, EventBridgeEnvelope, KNOWN_DETAIL_TYPES, UNKNOWN_DETAIL_GUARD, UnknownDetail } from '../../lib/contracts/buildkite.ts';
import { mutate, pathsOf, sample, sampleSlugs } from '../support/fixtures.ts';

/** Every compiled guard beside the schema it came from. */
type Checkable = { safeParse(v: unknown): { success: boolean } };
const PAIRS: [string, Checkable, (v: unknown) => boolean][] = [
  ['envelope', EventBridgeEnvelope, ENVELOPE_GUARD],
  ['unknown detail', UnknownDetail, UNKNOWN_DETAIL_GUARD],
  ...KNOWN_DETAIL_TYPES.map((t): [string, Checkable, (v: unknown) => boolean] => [t, DETAIL_SCHEMAS[t], DETAIL_GUARDS[t]]),
];

/** The guard must give zod's answer, in both directions: accepting what zod rejects would let bad input through. */
function agrees(value: unknown): void {
  for (const [name, schema, guard] of PAIRS) {
    const expected = schema.safeParse(value).success;
    if (guard(value) !== expected) throw new Error(`${name}: guard says ${!expected}, zod says ${expected} for ${JSON.stringify(value)?.slice(0, 600)}`);
  }
}

describe('compiled guards agree with their zod schemas', () => {
  const samples = sampleSlugs().map((s) => sample(s));

  it('on every real Buildkite sample: envelope and detail accepted by both', () => {
    for (const s of samples) {
      agrees(s);
      agrees(s['detail']);
    }
    // The docs' samples are valid for their own detail-type (all but the known broken one).
    const valid = samples.filter((s) => DETAIL_SCHEMAS[s['detail-type'] as keyof typeof DETAIL_SCHEMAS]?.safeParse(s['detail']).success);
    expect(valid.length).toBeGreaterThanOrEqual(17);
    for (const s of valid) expect(DETAIL_GUARDS[s['detail-type'] as keyof typeof DETAIL_GUARDS](s['detail'])).toBe(true);
  });

  it('on real details and envelopes with one field replaced by any JSON value or removed', () => {
    const arb = fc.nat({ max: samples.length - 1 }).chain((i) => {
      const base = samples[i] as Record<string, unknown>;
      return fc.tuple(fc.constant(base), fc.constantFrom(...pathsOf(base)), fc.option(fc.jsonValue(), { nil: undefined }));
    });
    fc.assert(
      fc.property(arb, ([base, path, value]) => {
        const m = mutate(base, path, value) as Record<string, unknown>;
        agrees(m);
        agrees(m['detail']);
      }),
      { numRuns: 3000 },
    );
  });

  it('on type confusions a JSON producer can make: null, numbers for strings, floats for ints, timestamps off by a char', () => {
    const confusions = fc.constantFrom<unknown>(
      null,
      '',
      'x',
      0,
      1.5,
      -1,
      2 ** 60,
      true,
      [],
      {},
      ['a'],
      [1],
      '2019-08-11 06:01:16 UTC',
      '2019-02-30 06:01:16 UTC',
      '2019-08-11T06:01:16Z',
      '2024-08-19T05:18:17.123+02:00',
      '2024-13-19T05:18:17Z',
    );
    const arb = fc.nat({ max: samples.length - 1 }).chain((i) => {
      const base = samples[i] as Record<string, unknown>;
      return fc.tuple(fc.constant(base), fc.array(fc.tuple(fc.constantFrom(...pathsOf(base)), confusions), { minLength: 1, maxLength: 3 }));
    });
    fc.assert(
      fc.property(arb, ([base, edits]) => {
        let m: unknown = base;
        for (const [p, v] of edits) m = mutate(m, p, v);
        agrees(m);
        agrees((m as Record<string, unknown>)['detail']);
      }),
      { numRuns: 3000 },
    );
  });

  it('on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => agrees(v)),
      { numRuns: 1000 },
    );
  });
});

describe('compileGuard', () => {
  it('falls back to zod for what it does not compile, and still agrees', () => {
    const schemas: z.ZodType[] = [
      z.email(),
      z.url(),
      z.string().includes('@'),
      z.strictObject({ a: z.string() }),
      z.object({ a: z.number() }).refine((o) => o.a > 1),
      z.number().gt(3),
      z.array(z.string()).min(2),
      z.literal('x'),
      z.enum(['a', 'b']),
      z.coerce.string(),
    ];
    const values: unknown[] = ['a@b.co', 'https://x.example', 'nope', { a: 'x' }, { a: 'x', b: 1 }, { a: 2 }, { a: 0 }, 4, 2, ['a'], ['a', 'b'], 'x', 'a', null];
    for (const s of schemas) {
      const g = compileGuard(s);
      for (const v of values) expect(g(v), `${JSON.stringify(v)}`).toBe(s.safeParse(v).success);
    }
  });

  // Schemas where a compiled guard can easily say yes while zod says no.
  const sym = Symbol('s');
  it.each<[string, z.ZodType, unknown[]]>([
    ['a required unknown field', z.object({ a: z.unknown() }), [{}, { a: undefined }, { a: 1 }]],
    ['a required any field', z.object({ a: z.any() }), [{}, { a: null }]],
    ['a nullable unknown field', z.object({ a: z.unknown().nullable() }), [{}, { a: null }]],
    ['a union with unknown', z.object({ a: z.union([z.string(), z.unknown()]) }), [{}, { a: 3 }]],
    ['an optional field', z.object({ a: z.string().optional() }), [{}, { a: undefined }, { a: 1 }, { a: 'x' }]],
    ['a refinement on unknown', z.unknown().refine(() => false), [1, undefined]],
    [
      'a refinement on optional',
      z
        .string()
        .optional()
        .refine((v) => v !== 'x'),
      ['x', 'y', undefined],
    ],
    [
      'a refinement on nullable',
      z
        .string()
        .nullable()
        .refine((v) => v !== 'x'),
      ['x', null],
    ],
    ['a refinement on a union', z.union([z.string(), z.number()]).refine((v) => v !== 'x'), ['x', 1]],
    ['z.int()', z.int(), [1.5, 2, 2 ** 60]],
    ['z.int32()', z.int32(), [2 ** 40, 5]],
    ['z.xor', z.xor([z.string(), z.string().min(1)]), ['a', '']],
    ['a record against a symbol key', z.record(z.string(), z.unknown()), [{ [sym]: 1 }, { a: 1 }]],
    ['z.exactOptional', z.object({ a: z.string().exactOptional() }), [{ a: undefined }, {}, { a: 'x' }]],
    ['a symbol key in the shape', z.object({ [sym]: z.string() }), [{}, { [sym]: 'x' }]],
    ['z.partialRecord', z.partialRecord(z.string(), z.number()), [{ a: 'x' }, { a: 1 }]],
    ['z.looseRecord', z.looseRecord(z.string().min(2), z.number()), [{ a: 'x' }, { ab: 1 }]],
  ])('agrees on %s', (_name, schema, values) => {
    const g = compileGuard(schema);
    for (const v of values) expect(g(v), String(v)).toBe(schema.safeParse(v).success);
  });

  it('throws on an async refinement, as zod does, instead of passing it', () => {
    const schema = z.string().refine(async () => false);
    expect(() => schema.safeParse('x')).toThrow();
    expect(() => compileGuard(schema)('x')).toThrow(/async refinement/);
  });

  it('counts code points for min lengths, as zod does (an emoji is two UTF-16 units, one character)', () => {
    for (const min of [1, 2, 3]) {
      const s = z.string().min(min);
      const g = compileGuard(s);
      for (const v of ['', 'a', '\u{1F600}', 'a\u{1F600}', '\u{1F600}\u{1F600}', 'ab', '\uD800x', 'abc']) expect(g(v), `min ${min} on ${JSON.stringify(v)}`).toBe(s.safeParse(v).success);
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 6 }), fc.integer({ min: 0, max: 5 }), (v, min) => compileGuard(z.string().min(min))(v) === z.string().min(min).safeParse(v).success),
      { numRuns: 1000 },
    );
  });

  it('compiles the shapes the contracts use without falling back (so the hot path stays allocation-free)', () => {
    // A guard that fell back to zod would still be right; this pins that the contracts stay on the fast path.
    const schema = z.object({
      s: z.string().min(1),
      n: z.number().int().optional(),
      t: z.iso.datetime({ offset: true }),
      u: z.union([z.string(), z.number()]).nullish(),
      a: z.array(z.string()).nullish(),
      r: z.record(z.string(), z.unknown()),
      b: z.boolean().nullish(),
      c: z.string().refine((v) => v.endsWith('!')),
    });
    const g = compileGuard(schema);
    const calls = countZodCalls([schema], () => {
      expect(g({ s: 'a', n: 3, t: '2024-08-19T05:18:17Z', u: 1, a: ['x'], r: {}, b: null, c: 'hi!' })).toBe(true);
      expect(g({ s: 'a', n: 3.5, t: '2024-08-19T05:18:17Z', u: 1, a: ['x'], r: {}, b: null, c: 'hi!' })).toBe(false);
      expect(g({ s: '', t: '2024-08-19T05:18:17Z', r: {}, c: 'hi!' })).toBe(false);
      expect(g({ s: 'a', t: '2024-08-19T05:18:17Z', r: [], c: 'hi!' })).toBe(false);
      expect(g({ s: 'a', t: '2024-08-19T05:18:17Z', r: {}, c: 'hi' })).toBe(false);
    });
    expect(calls).toBe(0);
  });

  it('the Buildkite contracts themselves run without zod on the real samples', () => {
    const samples = sampleSlugs().map((s) => sample(s));
    const calls = countZodCalls(
      PAIRS.map(([, s]) => s),
      () => {
        for (const s of samples) for (const [, , guard] of PAIRS) guard(s['detail']);
        for (const s of samples) ENVELOPE_GUARD(s);
      },
    );
    expect(calls).toBe(0);
  });
});

/** Runs `fn` with every node of the schemas' trees counting its safeParse calls; restores them after. */
function countZodCalls(schemas: readonly unknown[], fn: () => void): number {
  let calls = 0;
  const restore: (() => void)[] = [];
  const walk = (node: unknown): void => {
    const s = node as { safeParse: (v: unknown) => unknown; _zod: { def: Record<string, unknown> } };
    if (restore.some((r) => (r as { node?: unknown }).node === s)) return;
    const orig = s.safeParse;
    s.safeParse = (v: unknown) => {
      calls++;
      return orig.call(s, v);
    };
    restore.push(
      Object.assign(
        () => {
          s.safeParse = orig;
        },
        { node: s },
      ),
    );
    const d = s._zod.def;
    for (const v of Object.values((d['shape'] as Record<string, unknown> | undefined) ?? {})) walk(v);
    for (const k of ['innerType', 'element', 'valueType']) if (d[k] !== undefined) walk(d[k]);
    for (const o of (d['options'] as unknown[] | undefined) ?? []) walk(o);
  };
  schemas.forEach(walk);
  try {
    fn();
  } finally {
    for (const r of restore) r();
  }
  return calls;
}
