import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import { redactSecrets } from '../../lib/ocsf/redact.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { redactSecrets as referenceRedact } from './redact-reference.ts';

// The redaction pass takes shortcuts (a substring search before the token regex): on any event it
// must give exactly what the plain pass gives, the same object when nothing is secret.

const planted = (prefix: string, body: string): string => `${prefix}_${body}`;

/** Strings near the token shape: prefixes, case, short bodies, "bk" at the edges, JSON text. */
const tricky = fc.oneof(
  fc.string(),
  fc.constantFrom('bk', 'bkua', 'bkua_', 'xbk', 'bK', 'BKUA_', 'bk_ua', 'bkuA_', 'bkbkua_', '_bk', 'kb', 'b k'),
  fc
    .tuple(
      fc.constantFrom('', 'x', 'token ', 'ab bk', '"', 'bk'),
      fc.constantFrom('bk', 'bkua', 'bkaa', 'bkaj', 'bkzz', 'bkAA', 'bk1a', 'bk'),
      fc.constantFrom('_', '-', '', '__'),
      fc.stringMatching(/^[A-Za-z0-9]{0,24}$/),
      fc.constantFrom('', ' ', '.', 'bk'),
    )
    .map((parts) => parts.join('')),
  fc.jsonValue().map((v) => JSON.stringify({ session_key: v, token: 'x' })),
  fc.stringMatching(/^[a-z0-9_-]{0,12}$/).map((k) => JSON.stringify({ [k]: planted('bkua', 'A'.repeat(20)) })),
);
const key = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('token', 'Token', 'api_key', 'x_token', '_token', 'session_key', 'uid', 'name', 'message', 'tokens', 'cookie'));
const value = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, tricky, fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(key, tie('v'), { maxKeys: 5 })),
})).v;

function event(extra: Record<string, unknown>, audit: boolean, session: string): OcsfEvent {
  return {
    class_uid: 6003,
    time: 0,
    metadata: { uid: 'u', log_name: audit ? 'buildkite-audit' : 'buildkite-builds', product: { name: 'p' }, version: '1.8.0' },
    actor: { session: { uid: session } },
    ...extra,
  } as unknown as OcsfEvent;
}

describe('redaction fast path against the plain pass', () => {
  it('gives the same result on generated events (secrets, token-like strings, JSON text, nesting)', () => {
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 8 }), fc.boolean(), tricky, (extra, audit, session) => {
        const e = event(extra, audit, session);
        const fast = redactSecrets(e);
        const reference = referenceRedact(e);
        expect(fast).toEqual(reference);
        expect(fast === e).toBe(reference === e);
      }),
      { numRuns: 3000 },
    );
  });

  it('gives the same result on every Buildkite sample, with and without a planted token in each string', () => {
    const dir = new URL('../fixtures/buildkite/eventbridge/', import.meta.url);
    const samples = ['agent-connected', 'agent-blocked', 'audit-event-logged', 'build-finished', 'job-finished', 'cluster-token-registration-blocked'];
    const token = planted('bkaa', 'Z9'.repeat(12));
    let checked = 0;
    for (const name of samples) {
      const input = JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8')) as Record<string, unknown>;
      const result = normalizeEnvelope(input);
      if (!result.ok) throw new Error(`${name}: ${result.reason}`);
      const plain = result.event;
      expect(redactSecrets(plain)).toEqual(referenceRedact(plain));
      // Every string of the event in turn ends with a token.
      const paths: (string | number)[][] = [];
      const walk = (v: unknown, path: (string | number)[]): void => {
        if (typeof v === 'string') paths.push(path);
        else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
        else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
      };
      walk(plain, []);
      for (const path of paths) {
        const copy = structuredClone(plain) as unknown as Record<string | number, unknown>;
        let at = copy;
        for (const p of path.slice(0, -1)) at = at[p] as Record<string | number, unknown>;
        const last = path[path.length - 1] as string | number;
        at[last] = `${at[last] as string} ${token}`;
        const fast = redactSecrets(copy as unknown as OcsfEvent);
        expect(fast).toEqual(referenceRedact(copy as unknown as OcsfEvent));
        expect(JSON.stringify(fast)).not.toContain(token);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });
});

describe('redaction of JSON text', () => {
  it('redacts a secret key spelled with a character that lowercases to ASCII (the Kelvin sign)', () => {
    const key = 'to\u212Aen'; // isSecretKey lowercases it to "token"
    const e = event({ unmapped: { context: JSON.stringify({ [key]: 'hunter2', note: 'x' }) } }, false, '');
    const out = JSON.stringify(redactSecrets(e));
    expect(out).not.toContain('hunter2');
    expect(out).toContain('redacted sha256:');
  });
});
