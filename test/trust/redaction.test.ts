import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentConnected, audit, uid } from '../../lib/detections/builders.ts';
import { redactedValue } from '../../lib/ocsf/redact.ts';
import { expectValidOcsf } from '../support/ocsf-assertions.ts';
import { replayCli } from './support.ts';

// Secrets inside events are not forwarded; the quarantine keeps the raw input.
// Planted fake token values, assembled at run time so no token literal sits in the source.
const planted = (prefix: string, body: string): string => `${prefix}_${body}`;
const AGENT_TOKEN_VALUE = 'a3f1c9e07b5d4e2f8a6c1b0d9e8f7a6b5c4d3e2f1a0b9c8d7e';
const API_TOKEN = planted('bkua', '4f2a9c81d7e3b6a05c9e8d7f6a5b4c3d2e1f0a9b');
const PASTED = planted('bkaj', '9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d');
const jane = { uuid: uid('user', 'jane'), name: 'Jane Doe' };

function events() {
  const connected = agentConnected({
    at: '2026-03-10T10:00:00Z',
    agent: { uuid: uid('agent', 'ci-1'), name: 'ci-1', ip: '3.80.1.1' },
    token: { uuid: uid('token', 'ci'), description: 'ci' },
  }) as unknown as { detail: { token: Record<string, unknown> } };
  connected.detail.token['token'] = AGENT_TOKEN_VALUE;
  const created = audit({
    at: '2026-03-10T10:05:00Z',
    type: 'CLUSTER_TOKEN_CREATED',
    actor: jane,
    subject: { type: 'ClusterToken', uuid: uid('cluster-token', 'new'), name: 'laptop' },
    data: { token: API_TOKEN, description: 'laptop', note: `rotated, old one was ${PASTED}` },
    ip: '86.1.2.3',
  });
  const session = JSON.parse((created as unknown as { detail: { event: { context: string } } }).detail.event.context) as { session_key: string };
  // A broken one: quarantined with its secrets, as it came.
  const broken = JSON.parse(JSON.stringify(created)) as { id: string; detail: { event: { occurred_at: string } } };
  broken.id = 'f0f0f0f0-0000-4000-8000-000000000002';
  broken.detail.event.occurred_at = 'not a time';
  return { input: [connected, created, broken], sessionKey: session.session_key };
}

describe('redaction', () => {
  it('no token value, session key or pasted token reaches the output; a hash stands in for each; the quarantine keeps the raw input', async () => {
    const { input, sessionKey } = events();
    const r = await replayCli({ envelopes: input, args: ['--containment', 'off', '--validate'] });
    expect(r.code).toBe(0);
    const out = readFileSync(join(r.dir, 'out.ndjson'), 'utf8');
    for (const secret of [AGENT_TOKEN_VALUE, API_TOKEN, PASTED, sessionKey]) {
      expect(out).not.toContain(secret);
      expect(r.stderr).not.toContain(secret);
    }
    for (const secret of [AGENT_TOKEN_VALUE, API_TOKEN, PASTED]) expect(out).toContain(redactedValue(secret));
    // The session key sits in the audit context (JSON text): redacted inside it, the rest kept.
    expect(out).toContain(JSON.stringify(redactedValue(sessionKey)).slice(1, -1));
    r.events.forEach(expectValidOcsf);
    // The ids detectors and containment use stay as they are.
    expect(out).toContain(uid('token', 'ci'));
    expect(out).toContain(uid('cluster-token', 'new'));
    // A finding was still raised on the audit event (an unmanaged token change), without the secret.
    expect(r.findings.length).toBeGreaterThan(0);
    expect(r.quarantine).toHaveLength(1);
    expect(r.quarantine[0]?.['input']).toEqual(input[2]);
    expect(JSON.stringify(r.quarantine[0])).toContain(API_TOKEN);
  });
});

describe('the quarantine file', () => {
  it('is created readable by its owner only (it keeps secrets as they came)', async () => {
    const { input } = events();
    const r = await replayCli({ envelopes: [input[2] as Record<string, unknown>], args: ['--containment', 'off'] });
    expect(r.quarantine).toHaveLength(1);
    expect(statSync(join(r.dir, 'q.ndjson')).mode & 0o777).toBe(0o600);
  });
});
