import { describe, expect, it } from 'vitest';
import { redactedValue } from '../../lib/ocsf/redact.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { parseBuildkiteTime, KNOWN_DETAIL_TYPES } from '../../lib/contracts/buildkite.ts';
import { AUDIT_EVENT_TYPES } from '../../lib/contracts/audit-event-types.ts';
import { auditClassFor } from '../../lib/ocsf/map/audit-classes.ts';
import { clone, sample, sampleSlugs } from '../support/fixtures.ts';
import { expectValidOcsf } from '../support/ocsf-assertions.ts';

function ok(input: unknown): OcsfEvent {
  const r = normalizeEnvelope(input);
  if (!r.ok) throw new Error(`expected normalization, got quarantine: ${r.reason}`);
  expectValidOcsf(r.event);
  return r.event;
}

function rejected(input: unknown): string {
  const r = normalizeEnvelope(input);
  if (r.ok) throw new Error(`expected a quarantine reason, got ${r.event.type_name}`);
  expect(r.reason.length).toBeGreaterThan(10);
  return r.reason;
}

/** The docs' Build Blocked example with the two docs errors fixed (detail-type and elided source). */
function fixedBuildBlocked(): Record<string, unknown> {
  const e = sample('build-blocked');
  e['detail-type'] = 'Build Blocked';
  e['source'] = 'aws.partner/buildkite.com/nithya-bk/0106-187c-12cd4fe';
  return e;
}

describe('the 18 Buildkite sample payloads', () => {
  it('has exactly one fixture per documented detail-type', () => {
    expect(sampleSlugs()).toHaveLength(18);
    const types = new Set(sampleSlugs().map((s) => sample(s)['detail-type']));
    // build-blocked.json carries "Build Finished" (a docs error), so Build Blocked is covered by the fixed copy.
    for (const t of KNOWN_DETAIL_TYPES) if (t !== 'Build Blocked') expect(types).toContain(t);
  });

  it.each(sampleSlugs().filter((s) => s !== 'build-blocked'))('%s normalizes to a valid OCSF 1.8.0 event', (slug) => {
    const input = sample(slug);
    const event = ok(input);
    expect(event.metadata.product.name).toBe('Buildkite Pipelines');
    expect(event.metadata.product.feature?.name).toBe(input['detail-type']);
    const detail = input['detail'] as { organization: { uuid: string; slug: string } };
    expect(event.metadata.tenant_uid).toBe(detail.organization.uuid);
    expect(event.metadata.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('quarantines the docs Build Blocked example, whose source is elided as "..."', () => {
    expect(rejected(sample('build-blocked'))).toContain('source "..." is not a Buildkite partner event source');
  });

  it('maps Build Blocked (docs example with its errors fixed) to API Activity on the build', () => {
    const e = ok(fixedBuildBlocked());
    expect(e.class_uid).toBe(6003);
    expect(e.status_detail).toBe('blocked');
    expect(e.resources?.map((r) => r.type)).toEqual(['Organization', 'Pipeline', 'Build']);
    expect(e.resources?.[2]?.name).toBe('webhook-test#23');
  });
});

describe('metadata ids', () => {
  it('metadata.uid is deterministic: the same input gives the same uid, a different event another', () => {
    const a = ok(sample('agent-connected'));
    const b = ok(sample('agent-connected'));
    expect(a.metadata.uid).toBe(b.metadata.uid);
    const other = sample('agent-connected');
    other['id'] = '00000000-0000-0000-0000-000000000001';
    expect(ok(other).metadata.uid).not.toBe(a.metadata.uid);
    // Same envelope id, different detail-type (the docs reuse ids): different events.
    expect(ok(sample('agent-lost')).metadata.uid).not.toBe(ok(sample('agent-blocked')).metadata.uid);
  });

  it('original_event_uid is the EventBridge id, or the audit event uuid for audit events', () => {
    expect(ok(sample('job-finished')).metadata.original_event_uid).toBe('e8e9fdf8-d21b-fa2d-04c4-09465919673e');
    expect(ok(sample('audit-event-logged')).metadata.original_event_uid).toBe('da55860c-94f9-4275-91cb-3986590f45b5');
  });

  it('an audit event has the same uid whether delivered twice or with another envelope (REST backfill)', () => {
    const a = sample('audit-event-logged');
    const b = clone(a);
    b['id'] = 'ffffffff-edcc-0936-187c-d466e46575b6';
    b['time'] = '2023-03-26T00:00:00Z';
    expect(ok(a).metadata.uid).toBe(ok(b).metadata.uid);
  });
});

describe('Audit Event Logged', () => {
  it('parses the JSON-string context into src_endpoint, http_request, api.request, actor.session; no copy of it stays', () => {
    const input = sample('audit-event-logged');
    const e = ok(input);
    expect(e.src_endpoint).toEqual({ ip: '127.0.0.0' });
    expect(e['http_request']).toEqual({
      user_agent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/110.0.0.0 Safari/537.36',
    });
    // The session key is a secret (lib/ocsf/redact.ts): its hash stands in wherever it was copied.
    // In Buildkite's sample the request id happens to be the same string, so it goes too.
    const sessionKey = redactedValue('pemF0aW9uLStMDE4NjDAtNzk1YS00YW');
    expect(e['api']).toMatchObject({ request: { uid: sessionKey } });
    expect(e.actor?.session).toEqual({ uid: sessionKey, created_time: Date.UTC(2023, 2, 25, 23, 30, 54, 559) });
    expect(JSON.stringify(e)).not.toContain('pemF0aW9uLStMDE4NjDAtNzk1YS00YW');
    expect(e.actor?.user).toMatchObject({ uid: 'df75860c-94f9-4275-91cb-3986590f45b5', name: 'Buildkite member' });
    const bk = (e.unmapped as { buildkite: Record<string, unknown> }).buildkite;
    expect(bk['context']).toBeUndefined();
    expect(bk['audit_event']).toBeUndefined();
    // The session belongs to someone else than the actor: a fact with no OCSF home.
    expect(bk['session_user_uuid']).toBe('da55860c-94f9-4275-91cb-3986590f45b5');
  });

  it('takes the event time from occurred_at, parsed exactly as UTC', () => {
    expect(ok(sample('audit-event-logged')).time).toBe(Date.UTC(2023, 2, 25, 23, 14, 43));
  });

  it('ORGANIZATION_UPDATED becomes API Activity Update with the organization as resource', () => {
    const e = ok(sample('audit-event-logged'));
    expect(e.class_uid).toBe(6003);
    expect(e.activity_id).toBe(3);
    expect(e['api']).toMatchObject({ operation: 'ORGANIZATION_UPDATED' });
    expect(e.resources?.[0]).toMatchObject({ uid: 'af7e863c-94f9-4275-91sb-3986590f45b5', type: 'Organization', name: 'Buildkite', data: { name: 'Buildkite' } });
  });

  it('still normalizes when the context is not JSON, and says so in unmapped', () => {
    const input = sample('audit-event-logged');
    (input['detail'] as { event: { context: string } }).event.context = '{not json';
    const e = ok(input);
    // API Activity needs a source: without a request IP, Buildkite itself made the call.
    expect(e.src_endpoint).toEqual({ svc_name: 'buildkite' });
    const bk = (e.unmapped as { buildkite: Record<string, unknown> }).buildkite;
    expect(bk['context_problem']).toBe('event.context is not valid JSON');
    expect(bk['context']).toBe('{not json');
  });

  it('maps the three GraphQL AuditContext types in snake_case: API token, agent, web session', () => {
    const withContext = (context: Record<string, string>): OcsfEvent => {
      const input = sample('audit-event-logged');
      (input['detail'] as { event: { context: string } }).event.context = JSON.stringify(context);
      return ok(input);
    };
    const token = '0189f7a2-5c1e-4b7a-9d3e-2f6a1b2c3d4e';
    const api = withContext({ request_api_access_token_uuid: token, request_ip_address: '52.220.1.1', request_user_agent: 'terraform-provider-buildkite/1.17.2' });
    expect(api.src_endpoint).toEqual({ ip: '52.220.1.1' });
    expect(api.actor?.user).toMatchObject({ uid: 'df75860c-94f9-4275-91cb-3986590f45b5', credential_uid: token });
    expect(api.observables).toContainEqual({ name: 'actor.user.credential_uid', type_id: 19, type: 'User Credential ID', value: token });
    expect((api['http_request'] as { user_agent: string }).user_agent).toBe('terraform-provider-buildkite/1.17.2');
    const agentUuid = '0189f7a2-0000-4b7a-9d3e-2f6a1b2c3d4e';
    const agent = withContext({
      agent_uuid: agentUuid,
      authentication_type: 'access_token',
      connection_state: 'connected',
      organization_uuid: 'x',
      request_ip_address: '34.240.1.1',
      session_ip_address: '34.240.1.2',
    });
    expect(agent.src_endpoint).toEqual({ ip: '34.240.1.1', agent_list: [{ uid: agentUuid, type_id: 99, type: 'Buildkite Agent', vendor_name: 'Buildkite' }] });
    expect((agent.unmapped as { buildkite: { context_extra: Record<string, unknown> } }).buildkite.context_extra).toEqual({
      authentication_type: 'access_token',
      connection_state: 'connected',
      organization_uuid: 'x',
      session_ip_address: '34.240.1.2',
    });
    const web = withContext({
      request_ip_address: '86.1.2.3',
      request_user_agent: 'Mozilla/5.0',
      session_created_at: '2023-03-25T23:30:54.559Z',
      session_escalated_at: '2023-03-25T23:40:00Z',
      session_user_uuid: 'u-1',
    });
    expect(web.src_endpoint).toEqual({ ip: '86.1.2.3' });
    expect(web.actor?.session).toEqual({ created_time: Date.UTC(2023, 2, 25, 23, 30, 54, 559) });
    expect((web.unmapped as { buildkite: Record<string, unknown> }).buildkite).toMatchObject({ session_user_uuid: 'u-1', context_extra: { session_escalated_at: '2023-03-25T23:40:00Z' } });
    for (const e of [api, agent, web]) expectValidOcsf(e);
  });

  it('accepts the REST API form where context is an object', () => {
    const input = sample('audit-event-logged');
    const ev = (input['detail'] as { event: Record<string, unknown> }).event;
    ev['context'] = JSON.parse(ev['context'] as string);
    expect(ok(input).src_endpoint).toEqual({ ip: '127.0.0.0' });
  });

  it.each([...AUDIT_EVENT_TYPES])('%s normalizes to its mapped class', (type) => {
    const input = sample('audit-event-logged');
    (input['detail'] as { event: { type: string } }).event.type = type;
    const e = ok(input);
    const expected = auditClassFor(type);
    expect(e.class_uid).toBe(expected.class);
    expect(e.metadata.event_code).toBe(type);
    expect((e.unmapped as { buildkite: Record<string, unknown> }).buildkite['unknown_audit_type']).toBeUndefined();
  });

  it('maps the identity classes to their OCSF places', () => {
    const typed = (type: string, subjectType: string, data?: Record<string, unknown>) => {
      const input = sample('audit-event-logged');
      const ev = (input['detail'] as { event: Record<string, unknown> }).event;
      ev['type'] = type;
      ev['subject_type'] = subjectType;
      ev['subject_name'] = 'the-subject';
      if (data !== undefined) ev['data'] = data;
      return ok(input);
    };
    const subject = 'af7e863c-94f9-4275-91sb-3986590f45b5';
    expect(typed('USER_PASSWORD_RESET', 'User')).toMatchObject({ class_uid: 3001, activity_id: 4, user: { uid: subject, name: 'the-subject', type_id: 1 } });
    expect(typed('AGENT_TOKEN_CREATED', 'AgentToken')).toMatchObject({ class_uid: 3004, activity_id: 1, entity: { type: 'AgentToken', name: 'the-subject' } });
    expect(typed('TEAM_CREATED', 'Team')).toMatchObject({ class_uid: 3006, activity_id: 6, group: { uid: subject, name: 'the-subject', type: 'Team' } });
    expect(typed('ORGANIZATION_MEMBER_UPDATED', 'OrganizationMember')).toMatchObject({ class_uid: 3005, activity_id: 1, privileges: ['organization role'] });
    expect(typed('SECRET_READ', 'Secret')).toMatchObject({ class_uid: 6003, activity_id: 2, resources: [{ type: 'Secret', name: 'the-subject' }, { type: 'Organization' }] });
    const token = typed('CLUSTER_TOKEN_DELETED', 'ClusterToken');
    expect(token.observables).toContainEqual({ name: 'entity.uid', type_id: 99, type: 'Other', value: subject });
  });

  it('Account Change: the account owner is the user, a TOTP factor goes to auth_factors', () => {
    const input = sample('audit-event-logged');
    const ev = (input['detail'] as { event: Record<string, unknown> }).event;
    Object.assign(ev, { type: 'USER_TOTP_ACTIVATED', subject_type: 'TOTP', subject_uuid: 'be880ac7-d75a-820c-8e15-d572ac398c50', subject_name: null, data: null });
    const e = ok(input);
    expect(e).toMatchObject({ class_uid: 3001, activity_id: 10, auth_factors: [{ factor_type: 'TOTP', factor_type_id: 7, is_totp: true }] });
    expect(e.user).toMatchObject({ uid: 'df75860c-94f9-4275-91cb-3986590f45b5', name: 'Buildkite member' });
    // The factor record's id has no OCSF home: kept, not passed off as the user.
    expect((e.unmapped as { buildkite: Record<string, unknown> }).buildkite['subject']).toEqual({ type: 'TOTP', uuid: 'be880ac7-d75a-820c-8e15-d572ac398c50' });
  });

  it('Group Management: the team is the group, the member the user, the access level a privilege, the pipeline the resource', () => {
    const withData = (type: string, subjectType: string, data: Record<string, unknown>) => {
      const input = sample('audit-event-logged');
      const ev = (input['detail'] as { event: Record<string, unknown> }).event;
      Object.assign(ev, { type, subject_type: subjectType, subject_uuid: 'be880ac7-d75a-820c-8e15-d572ac398c50', subject_name: null, data });
      return ok(input);
    };
    const member = withData('TEAM_MEMBER_CREATED', 'TeamMember', { role: 'MEMBER', team_uuid: 't-1', team_name: 'platform', user: { uuid: 'u-1', name: 'Eve' } });
    expect(member).toMatchObject({ class_uid: 3006, activity_id: 3, group: { uid: 't-1', name: 'platform', type: 'Team' }, user: { uid: 'u-1', name: 'Eve', type_id: 1 } });
    expect(member['group']).not.toHaveProperty('type', 'TeamMember');
    const grant = withData('TEAM_PIPELINE_CREATED', 'TeamPipeline', { access_level: 'BUILD_AND_READ', team_uuid: 't-1', pipeline_uuid: 'p-1', pipeline_slug: 'web' });
    expect(grant).toMatchObject({ class_uid: 3006, activity_id: 1, privileges: ['BUILD_AND_READ'], resource: { uid: 'p-1', name: 'web', type: 'Pipeline' } });
  });

  it('a promotion to admin is an Assign of High severity, a demotion a Revoke', () => {
    const role = (r: unknown) => {
      const input = sample('audit-event-logged');
      const ev = (input['detail'] as { event: Record<string, unknown> }).event;
      Object.assign(ev, { type: 'ORGANIZATION_MEMBER_UPDATED', subject_type: 'OrganizationMember', subject_name: 'Eve', data: { role: r } });
      return ok(input);
    };
    expect(role(['member', 'admin'])).toMatchObject({ class_uid: 3005, activity_id: 1, activity_name: 'Assign Privileges', severity_id: 4, privileges: ['admin'] });
    expect(role(['admin', 'member'])).toMatchObject({ class_uid: 3005, activity_id: 2, activity_name: 'Revoke Privileges', severity_id: 2, privileges: ['admin'] });
  });

  it('USER_IMPERSONATED is an account switch of type Impersonate', () => {
    const input = sample('audit-event-logged');
    Object.assign((input['detail'] as { event: Record<string, unknown> }).event, { type: 'USER_IMPERSONATED', subject_type: 'User', subject_name: 'victim' });
    expect(ok(input)).toMatchObject({ class_uid: 3002, activity_id: 7, account_switch_type_id: 2, account_switch_type: 'Impersonate', user: { name: 'victim' } });
  });

  it('NOTIFICATION_SERVICE_DISABLED is Entity Management: Disable', () => {
    const input = sample('audit-event-logged');
    Object.assign((input['detail'] as { event: Record<string, unknown> }).event, {
      type: 'NOTIFICATION_SERVICE_DISABLED',
      subject_type: 'NotificationServiceAmazonEventBridge',
      subject_name: 'EventBridge',
    });
    expect(ok(input)).toMatchObject({ class_uid: 3004, activity_id: 9, activity_name: 'Disable', severity_id: 4, entity: { name: 'EventBridge' } });
  });

  it('SECRET_READ by a job: the pipeline is the actor, not buried in the resource data', () => {
    const input = sample('audit-event-logged');
    const detail = input['detail'] as { event: Record<string, unknown>; actor?: unknown };
    detail.actor = null;
    Object.assign(detail.event, { type: 'SECRET_READ', subject_type: 'Secret', subject_name: 'NPM_TOKEN', data: { pipeline_uuid: 'p-1', pipeline_slug: 'web' } });
    const e = ok(input);
    expect(e.actor).toMatchObject({ app_uid: 'p-1', app_name: 'web' });
    expect(e.resources?.[0]).toEqual({ uid: 'af7e863c-94f9-4275-91sb-3986590f45b5', type: 'Secret', name: 'NPM_TOKEN' });
  });

  it('an audit type Buildkite adds later is normalized generically, flagged in unmapped', () => {
    const input = sample('audit-event-logged');
    (input['detail'] as { event: { type: string } }).event.type = 'WIDGET_FROBNICATED';
    const e = ok(input);
    expect(e.class_uid).toBe(6003);
    expect(e.activity_id).toBe(99);
    expect((e.unmapped as { buildkite: Record<string, unknown> }).buildkite['unknown_audit_type']).toBe(true);
  });
});

describe('agents and tokens land in their OCSF places', () => {
  it('Agent Connected: the agent is the user, its token the credential, the IP the source', () => {
    const e = ok(sample('agent-connected'));
    expect(e).toMatchObject({ class_uid: 3002, activity_id: 1, status_id: 1 });
    expect(e.user).toEqual({
      uid: '288139c5-728d-4c22-88e3-5a926b6c4a51',
      name: 'my-agent-1',
      type_id: 4,
      type: 'Service',
      credential_uid: 'df75860c-94f9-4275-91cb-3986590f45b5',
      org: { uid: 'a98961b7-adc1-41aa-8726-cfb2c46e42e0', name: 'my-org' },
    });
    expect(e.src_endpoint).toEqual({ ip: '3.80.193.183', hostname: 'ip-10-0-2-73.ec2.internal', instance_uid: 'i-0ce2c738afbfc6c83' });
    expect(e.observables).toContainEqual({ name: 'user.credential_uid', type_id: 19, type: 'User Credential ID', value: 'df75860c-94f9-4275-91cb-3986590f45b5' });
  });

  it.each(['agent-disconnected', 'agent-lost', 'agent-stopped', 'agent-stopping'])('%s is a logoff', (slug) => {
    expect(ok(sample(slug))).toMatchObject({ class_uid: 3002, activity_id: 2 });
  });

  it('Agent Blocked and Cluster Token Registration Blocked are failed logons from the blocked IP, with the cluster token', () => {
    for (const slug of ['agent-blocked', 'cluster-token-registration-blocked']) {
      const e = ok(sample(slug));
      expect(e).toMatchObject({ class_uid: 3002, activity_id: 1, status_id: 2, severity_id: 3 });
      expect(e.src_endpoint?.ip).toBe('204.124.80.36');
      expect(e.user?.credential_uid).toBe('c1164b28-bace-436-ac44-4133e1d18ca5');
      expect(e.status_detail).toContain('202.144.160.0/24');
    }
  });

  it('Job Finished carries pipeline, build and job as resources and the agent as source', () => {
    const e = ok(sample('job-finished'));
    expect(e.resources?.map((r) => `${r.type}:${r.uid}`)).toEqual([
      'Organization:a98961b7-adc1-41aa-8726-cfb2c46e42e0',
      'Pipeline:88d73553-5533-4f56-9c16-fb38d7817d8f',
      'Build:8fcaa7b9-e175-4110-9f48-f79949806a31',
      'Job:9e6c3f19-4fdb-4e8e-b925-28cd7504e17f',
    ]);
    expect(e.resources?.[1]?.name).toBe('my-pipeline');
    expect(e.resources?.[2]?.name).toBe('my-pipeline#123456');
    expect(e.resources?.[3]?.name).toBe(':nodejs: Test');
    expect(e.src_endpoint).toEqual({ uid: '0191695c-920d-4644-8be9-a674252ac', svc_name: 'buildkite-agent' });
  });

  it('a failed build or job is a successful report of a failed state, not a failed API call', () => {
    for (const slug of ['build-failing', 'build-finished', 'job-finished']) {
      const input = sample(slug);
      const d = input['detail'] as { build: Record<string, unknown>; job?: Record<string, unknown> };
      d.build['state'] = 'failed';
      if (d.job !== undefined) Object.assign(d.job, { state: 'finished', passed: false, exit_status: 1 });
      const e = ok(input);
      expect(e.status_id).toBe(1);
      expect(e.status_detail).toBe(d.job !== undefined ? 'finished' : 'failed');
    }
  });

  it('Job Activated names the person who unblocked it as the actor', () => {
    expect(ok(sample('job-activated')).actor?.user).toMatchObject({ uid: 'c07c69c6-11d2-4375-9148-9d0338b0a836', name: 'bell' });
  });

  it('keeps unknown fields in unmapped rather than dropping them', () => {
    const input = sample('agent-connected');
    (input['detail'] as Record<string, unknown>)['new_field'] = { x: 1 };
    (input['detail'] as { agent: Record<string, unknown> }).agent['cluster'] = 'c-1';
    const bk = (ok(input).unmapped as { buildkite: Record<string, unknown> }).buildkite;
    expect(bk['new_field']).toEqual({ x: 1 });
    expect((bk['agent'] as Record<string, unknown>)['cluster']).toBe('c-1');
  });
});

describe('forward compatibility', () => {
  it('an unknown detail-type from a Buildkite source is normalized generically, not dropped', () => {
    const input = sample('build-started');
    input['detail-type'] = 'Pipeline Teleported';
    const e = ok(input);
    expect(e).toMatchObject({ class_uid: 6003, activity_id: 99, activity_name: 'Pipeline Teleported' });
    const bk = (e.unmapped as { buildkite: Record<string, unknown> }).buildkite;
    expect(bk['unknown_detail_type']).toBe(true);
    expect((bk['detail'] as Record<string, unknown>)['build']).toBeDefined();
    expect(e.resources?.map((r) => r.type)).toEqual(['Organization', 'Pipeline', 'Build']);
  });
});

describe('quarantine reasons say what was wrong and where', () => {
  it('a missing required field', () => {
    const input = sample('agent-connected');
    delete (input['detail'] as { agent: Record<string, unknown> }).agent['uuid'];
    expect(rejected(input)).toMatch(/"Agent Connected" event .*detail\.agent\.uuid: .*expected string/);
  });

  it('a field of the wrong type', () => {
    const input = sample('build-started');
    (input['detail'] as { build: Record<string, unknown> }).build['number'] = 'one';
    expect(rejected(input)).toContain('detail.build.number');
  });

  it('a malformed Buildkite timestamp', () => {
    const input = sample('audit-event-logged');
    // ISO-8601 is accepted (REST-shaped drift, test/contracts/audit-drift.test.ts); a time without a zone is not.
    (input['detail'] as { event: Record<string, unknown> }).event['occurred_at'] = '2023-03-25T23:14:43';
    expect(rejected(input)).toContain('detail.event.occurred_at: expected a timestamp like "2019-08-11 06:01:16 UTC" or ISO-8601');
  });

  it('not an envelope', () => {
    expect(rejected([1, 2])).toBe('not an EventBridge envelope: expected a JSON object, got an array');
    expect(rejected('x')).toBe('not an EventBridge envelope: expected a JSON object, got a string');
    expect(rejected({ hello: 'world' })).toMatch(/^not an EventBridge envelope: id: /);
    const noDetail = sample('agent-connected');
    delete noDetail['detail'];
    expect(rejected(noDetail)).toContain('detail:');
  });

  it('an event over EventBridge 256 KB limit', () => {
    const input = sample('build-started');
    (input['detail'] as { build: Record<string, unknown> }).build['message'] = 'x'.repeat(262_144);
    expect(rejected(input)).toMatch(/over EventBridge's 256 KB \(262144 bytes\) limit/);
  });

  it('a source that is not Buildkite', () => {
    const input = sample('agent-connected');
    input['source'] = 'aws.s3';
    expect(rejected(input)).toContain('source "aws.s3" is not a Buildkite partner event source');
  });
});

describe('parseBuildkiteTime', () => {
  it('parses the docs format exactly, as UTC', () => {
    expect(parseBuildkiteTime('2019-08-11 06:01:16 UTC')).toBe(Date.UTC(2019, 7, 11, 6, 1, 16));
    expect(parseBuildkiteTime('2019-08-11 06:01:16.250 UTC')).toBe(Date.UTC(2019, 7, 11, 6, 1, 16, 250));
  });
  it.each(['2019-08-11T06:01:16Z', '2019-08-11 06:01:16', '2019-02-30 00:00:00 UTC', '2019-08-11 25:01:16 UTC', '', 'yesterday'])('rejects %j', (v) => expect(parseBuildkiteTime(v)).toBeUndefined());
});

describe('unknown fields survive', () => {
  it('in the audit context and the envelope', () => {
    const input = sample('audit-event-logged');
    input['replay-name'] = 'x';
    const ev = (input['detail'] as { event: Record<string, unknown> }).event;
    ev['context'] = JSON.stringify({ ...JSON.parse(ev['context'] as string), request_geo: 'NZ' });
    const bk = (ok(input).unmapped as { buildkite: Record<string, unknown> }).buildkite;
    expect(bk['context_extra']).toEqual({ request_geo: 'NZ' });
    expect(bk['replay-name']).toBe('x');
  });
});

describe('IP addresses that OCSF cannot carry', () => {
  function auditWithIp(ip: string): OcsfEvent {
    const input = clone(sample('audit-event-logged'));
    const ev = (input['detail'] as { event: Record<string, unknown> }).event;
    ev['context'] = JSON.stringify({ request_ip: ip, request_user_agent: 'curl/8' });
    const e = ok(input);
    expectValidOcsf(e);
    return e;
  }

  it('emits a compact IPv6 address as src_endpoint.ip', () => {
    expect(auditWithIp('2001:db8::1').src_endpoint?.ip).toBe('2001:db8::1');
  });

  it('emits a valid IPv6 notation longer than ip_t allows in its short form, and keeps what was sent', () => {
    const sent = '0000:0000:0000:0000:0000:ffff:100.100.100.100';
    const e = auditWithIp(sent);
    expect(e.src_endpoint?.ip).toBe('::ffff:6464:6464');
    expect(e.observables?.find((o) => o.name === 'src_endpoint.ip')?.value).toBe('::ffff:6464:6464');
    const bk = (e.unmapped as { buildkite: Record<string, unknown> }).buildkite;
    expect(bk['request_ip_as_sent']).toBe(sent);
    expect(bk['invalid_request_ip']).toBeUndefined();
    expect(auditWithIp('::0000:000:0000:0000:0000:100.100.100.100').src_endpoint?.ip).toBe('::6464:6464');
  });

  it.each(['not-an-ip', '10.0.0.256', 'fe80::1%eth0-with-a-zone-id-far-too-long-for-ocsf'])('keeps %s in unmapped, not as an ip_t (not an address it can carry)', (ip) => {
    const e = auditWithIp(ip);
    expect(e.src_endpoint?.ip).toBeUndefined();
    expect((e.unmapped as { buildkite: Record<string, unknown> }).buildkite['invalid_request_ip']).toBe(ip);
    expect(JSON.stringify(e.observables ?? [])).not.toContain(ip);
  });
});
