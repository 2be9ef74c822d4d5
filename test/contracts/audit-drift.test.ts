/**
 * Format drift on the input side: the REST audit-events API's shapes (and the GraphQL context
 * types' fields) normalize to the same OCSF event as the EventBridge payload, each repair is
 * named, and only what is really broken is quarantined.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalAuditType } from '../../lib/contracts/audit-drift.ts';
import { AUDIT_EVENT_TYPES } from '../../lib/contracts/audit-event-types.ts';
import { normalizeEnvelope, type NormalizeResult } from '../../lib/ocsf/normalize.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { ndjson, runCli, summary, tempDir } from '../support/cli.ts';
import { FIXTURES, sample } from '../support/fixtures.ts';
import { expectValidOcsf } from '../support/ocsf-assertions.ts';
import { writeFileSync } from 'node:fs';

type AuditEnvelope = { detail: { event: Record<string, unknown>; actor?: unknown } };
const restItem = (): Record<string, unknown> => JSON.parse(readFileSync(join(FIXTURES, 'buildkite', 'audit', 'rest_get_audit_event__buildkite-docs.json'), 'utf8')) as Record<string, unknown>;

function withEvent(patch: Record<string, unknown>): AuditEnvelope {
  const env = sample('audit-event-logged') as AuditEnvelope;
  Object.assign(env.detail.event, patch);
  return env;
}

function ok(r: NormalizeResult): OcsfEvent & { drift: readonly string[] } {
  if (!r.ok) throw new Error(r.reason);
  expectValidOcsf(r.event);
  return Object.assign(r.event, { drift: r.drift ?? [] });
}

const buildkite = (e: OcsfEvent): Record<string, unknown> => (e.unmapped as { buildkite: Record<string, unknown> }).buildkite;

describe('audit format drift', () => {
  it('the REST API item, dropped into the EventBridge envelope, normalizes with every repair named', () => {
    const env = sample('audit-event-logged') as AuditEnvelope;
    env.detail.event = restItem();
    delete env.detail.actor;
    const e = ok(normalizeEnvelope(env));
    expect(e.drift).toEqual(['occurred_at:iso8601', 'type:class-style', 'context:object', 'subject:object', 'actor:in-event']);
    expect(e.metadata.event_code).toBe('ORGANIZATION_UPDATED');
    expect(e.time).toBe(Date.parse('2024-11-12T09:15:04.000Z'));
    expect(e.actor?.user).toMatchObject({ uid: '01234567-89ab-4cde-8f01-23456789abcd', name: 'Example User' });
    expect(e.src_endpoint).toEqual({ ip: '192.0.2.1' });
    expect(buildkite(e)['type_as_sent']).toBe('OrganizationUpdatedEvent');
    expect(e.resources?.[0]?.uid).toBe('12345678-9abc-4def-8012-3456789abcde');
  });

  it('the EventBridge payload itself has no drift, and the same audit uuid gets the same metadata.uid in either shape', () => {
    const live = ok(normalizeEnvelope(sample('audit-event-logged')));
    expect(live.drift).toEqual([]);
    const drifted = ok(normalizeEnvelope(withEvent({ occurred_at: '2023-03-25T23:14:43Z', type: 'OrganizationUpdatedEvent' })));
    expect(drifted.metadata.uid).toBe(live.metadata.uid);
    expect(drifted.time).toBe(live.time);
  });

  it('accepts both timestamp forms, with fractions and offsets; quarantines dates that do not exist', () => {
    const at = (occurred_at: string) => normalizeEnvelope(withEvent({ occurred_at }));
    expect(ok(at('2023-03-25 23:14:43 UTC')).time).toBe(Date.UTC(2023, 2, 25, 23, 14, 43));
    expect(ok(at('2023-03-25T23:14:43.123Z')).time).toBe(Date.UTC(2023, 2, 25, 23, 14, 43, 123));
    expect(ok(at('2023-03-26T01:14:43+02:00')).time).toBe(Date.UTC(2023, 2, 25, 23, 14, 43));
    expect(ok(at('2023-03-25T23:14:43Z')).drift).toEqual(['occurred_at:iso8601']);
    for (const bad of ['2023-02-30T00:00:00Z', '2023-03-25T24:00:00Z', '2023-03-25T23:14:43', '2023-03-25', 'yesterday', '2023-03-25T23:14:43+25:00']) {
      const r = at(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/occurred_at: expected a timestamp like/);
    }
  });

  it('reads the fields of the three GraphQL context types, camelCase or snake_case, in a string or an object', () => {
    const web = ok(
      normalizeEnvelope(
        withEvent({
          context: JSON.stringify({ requestIpAddress: '198.51.100.7', requestUserAgent: 'curl/8', sessionUserUuid: 'u-1', sessionCreatedAt: '2023-03-25T22:00:00Z', __typename: 'AuditWebContext' }),
        }),
      ),
    );
    expect(web.drift).toEqual(['context:graphql-fields']);
    expect(web.src_endpoint).toEqual({ ip: '198.51.100.7' });
    expect(buildkite(web)['session_user_uuid']).toBe('u-1');
    expect((web.actor as { session?: { created_time?: number } }).session?.created_time).toBe(Date.parse('2023-03-25T22:00:00Z'));

    const api = ok(normalizeEnvelope(withEvent({ context: { requestIpAddress: '198.51.100.8', requestApiAccessTokenUuid: 'tok-1', requestUserAgent: 'terraform' } })));
    expect(api.drift).toEqual(['context:object', 'context:graphql-fields']);
    expect(api.src_endpoint).toEqual({ ip: '198.51.100.8' });
    // The API token and the agent become OCSF fields the detectors read.
    expect((api.actor as { user?: { credential_uid?: string } }).user?.credential_uid).toBe('tok-1');
    expect(buildkite(api)['context_extra']).toBeUndefined();
    expect(buildkite(api)['context_as_sent']).toEqual({ requestIpAddress: '198.51.100.8', requestApiAccessTokenUuid: 'tok-1', requestUserAgent: 'terraform' });

    const agent = ok(
      normalizeEnvelope(
        withEvent({
          context: { request_ip_address: '198.51.100.9', agentUuid: 'a-1', sessionIpAddress: '10.0.0.1', connectionState: 'connected', authenticationType: 'token', organizationUuid: 'o-1' },
        }),
      ),
    );
    expect(agent.src_endpoint).toEqual({ ip: '198.51.100.9', agent_list: [{ uid: 'a-1', type_id: 99, type: 'Buildkite Agent', vendor_name: 'Buildkite' }] });
    expect(buildkite(agent)['context_extra']).toMatchObject({ session_ip_address: '10.0.0.1' });

    const user = ok(normalizeEnvelope(withEvent({ context: { requestIpAddress: '198.51.100.10', sessionUser: { uuid: 'u-2', name: 'Jane' } } })));
    expect(buildkite(user)['session_user_uuid']).toBe('u-2');
  });

  it('maps every one of the 184 AuditEventType values from its class-style and enum-variant spellings', () => {
    expect(AUDIT_EVENT_TYPES).toHaveLength(184);
    for (const t of AUDIT_EVENT_TYPES) {
      const pascal = t
        .split('_')
        .map((w) => w.charAt(0) + w.slice(1).toLowerCase())
        .join('');
      expect(canonicalAuditType(`${pascal}Event`), t).toEqual({ type: t, drift: 'type:class-style' });
      expect(canonicalAuditType(t.toLowerCase().replaceAll('_', '.')), t).toEqual({ type: t, drift: 'type:enum-variant' });
      expect(canonicalAuditType(t), t).toEqual({ type: t });
    }
    expect(canonicalAuditType('OAuthApplicationAuthorizedEvent')).toEqual({ type: 'OAUTH_APPLICATION_AUTHORIZED', drift: 'type:class-style' });
    expect(canonicalAuditType('APIAccessTokenCreatedEvent')).toEqual({ type: 'API_ACCESS_TOKEN_CREATED', drift: 'type:class-style' });
  });

  it('keeps an unknown type as sent, normalized by its verb and flagged, never dropped', () => {
    const e = ok(normalizeEnvelope(withEvent({ type: 'QuantumPipelineTeleportedEvent' })));
    expect(e.drift).toEqual(['type:unknown']);
    expect(e.metadata.event_code).toBe('QuantumPipelineTeleportedEvent');
    expect(buildkite(e)['unknown_audit_type']).toBe(true);
  });

  it('replay says how many inputs drifted and how', async () => {
    const dir = tempDir();
    const drifted = withEvent({ occurred_at: '2023-03-25T23:14:43Z', type: 'OrganizationUpdatedEvent' });
    writeFileSync(join(dir, 'in.ndjson'), [JSON.stringify(drifted), JSON.stringify(sample('audit-event-logged'))].join('\n'));
    const r = await runCli(['replay', 'in.ndjson', '--out', 'out.ndjson', '--containment', 'off', '--state', 'state.db', '--quarantine', 'q.ndjson'], { cwd: dir });
    expect(summary(r.stderr)).toMatchObject({ events: 2, normalized: 2, quarantined: 0 });
    expect(r.stderr).toContain("kitewatch: 1 input(s) differ from Buildkite's EventBridge payload shape and were normalized anyway (format drift: occurred_at:iso8601 x1, type:class-style x1)");
    expect(
      ndjson(readFileSync(join(dir, 'out.ndjson'), 'utf8'))
        .filter((e) => e['class_uid'] !== 2004)
        .map((e) => (e['metadata'] as { event_code: string }).event_code),
    ).toEqual(['ORGANIZATION_UPDATED', 'ORGANIZATION_UPDATED']);
  });
});
