/**
 * One full example event per OCSF class Kitewatch emits, built by the production code from the
 * real Buildkite payloads in test/fixtures (the audit ones from the docs' Audit Event Logged
 * example, with its type and subject set). The mapping reference (docs/ocsf-mapping.md) shows
 * them, and test/ocsf/mapping.test.ts checks them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildActivity, OUTCOME } from '../lib/containment/activity.ts';
import { CASES, runCase } from '../lib/detections/cases.ts';
import { detectorById } from '../lib/detections/index.ts';
import type { EntityType } from '../lib/findings/contract.ts';
import { normalizeEnvelope } from '../lib/ocsf/normalize.ts';
import type { ClassUid, OcsfEvent } from '../lib/ocsf/types.ts';

const EVENTBRIDGE = new URL('../test/fixtures/buildkite/eventbridge/', import.meta.url).pathname;

export function fixture(slug: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(EVENTBRIDGE, `${slug}.json`), 'utf8')) as Record<string, unknown>;
}

/** The docs' Audit Event Logged payload with another type, subject and data. */
export function auditFixture(type: string, subject: { type: string; uuid: string; name?: string | null }, data: Record<string, unknown> | null = null): Record<string, unknown> {
  const env = fixture('audit-event-logged');
  const ev = (env['detail'] as { event: Record<string, unknown> }).event;
  Object.assign(ev, { type, subject_type: subject.type, subject_uuid: subject.uuid, subject_name: subject.name ?? null, data });
  return env;
}

export function normalized(envelope: unknown): OcsfEvent {
  const r = normalizeEnvelope(envelope);
  if (!r.ok) throw new Error(`example does not normalize: ${r.reason}`);
  return r.event;
}

export interface OcsfExample {
  readonly classUid: ClassUid;
  /** What the example is made from. */
  readonly from: string;
  readonly event: OcsfEvent;
}

/** The finding unusual-ip raises on its first positive case, and the dry-run revocation that answers it. */
async function findingAndActivity(): Promise<[OcsfExample, OcsfExample]> {
  const detector = detectorById('unusual-ip');
  const c = CASES['unusual-ip'].find((x) => x.kind === 'positive');
  if (detector === undefined || c === undefined) throw new Error('unusual-ip has no positive case');
  const result = await runCase(detector, c);
  const finding = result.findings[0]?.finding;
  if (finding === undefined) throw new Error(`unusual-ip case "${c.name}" raised nothing`);
  const target = (finding.resources ?? []).find((r) => (r.data as { role?: unknown } | undefined)?.role === 'target');
  if (target?.uid === undefined) throw new Error('the finding has no target');
  const info = finding['finding_info'] as { uid: string; title: string };
  const activity = buildActivity(
    'revoke-agent-token',
    { type: target.type as EntityType, uid: target.uid, ...(target.name !== undefined ? { name: target.name } : {}), org: 'acme-inc' },
    OUTCOME.other('dry-run', 'dry-run', `Would revoke agent token ${target.name ?? target.uid} (dry-run)`, { calls: [`DELETE /v2/organizations/acme-inc/clusters/<cluster>/tokens/${target.uid}`] }),
    { correlationUid: info.uid, findingTitle: info.title, detector: 'unusual-ip', severityId: finding.severity_id as 4, origin: 'automatic', mode: 'dry-run', time: finding.time },
  );
  return [
    { classUid: 2004, from: `detector unusual-ip, case "${c.name}"`, event: finding },
    { classUid: 7001, from: 'revoke-agent-token in dry-run, answering that finding', event: activity },
  ];
}

export async function ocsfExamples(): Promise<OcsfExample[]> {
  const member = 'be880ac7-d75a-420c-8e15-d572ac398c50';
  const [finding, activity] = await findingAndActivity();
  return [
    { classUid: 6003, from: 'Job Finished (test/fixtures/buildkite/eventbridge/job-finished.json)', event: normalized(fixture('job-finished')) },
    { classUid: 3002, from: 'Agent Connected (agent-connected.json)', event: normalized(fixture('agent-connected')) },
    { classUid: 3001, from: 'Audit Event Logged: USER_TOTP_ACTIVATED', event: normalized(auditFixture('USER_TOTP_ACTIVATED', { type: 'TOTP', uuid: member })) },
    {
      classUid: 3004,
      from: 'Audit Event Logged: API_ACCESS_TOKEN_CREATED',
      event: normalized(auditFixture('API_ACCESS_TOKEN_CREATED', { type: 'APIAccessToken', uuid: member, name: 'deploy bot' }, { scopes: ['read_builds', 'write_builds'] })),
    },
    {
      classUid: 3005,
      from: 'Audit Event Logged: ORGANIZATION_MEMBER_UPDATED (a promotion to admin)',
      event: normalized(auditFixture('ORGANIZATION_MEMBER_UPDATED', { type: 'OrganizationMember', uuid: member, name: 'Eve' }, { role: ['member', 'admin'] })),
    },
    {
      classUid: 3006,
      from: 'Audit Event Logged: TEAM_MEMBER_CREATED',
      event: normalized(
        auditFixture(
          'TEAM_MEMBER_CREATED',
          { type: 'TeamMember', uuid: member },
          { role: 'MEMBER', team_uuid: '5e1b1a2c-7f3d-4c1e-9a55-0e4f1b2c3d4e', team_name: 'platform', user: { uuid: '6a2c3b4d-8e9f-4a1b-8c2d-3e4f5a6b7c8d', name: 'Eve' } },
        ),
      ),
    },
    finding,
    activity,
  ];
}
