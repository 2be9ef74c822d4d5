/**
 * The mapping as an analyst relies on it: every class built from real fixtures, observables that
 * resolve with the schema's types, nothing said twice, the severity table, findings that join
 * their Remediation Activities.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUDIT_EVENT_TYPES } from '../../lib/contracts/audit-event-types.ts';
import { auditSeverity } from '../../lib/ocsf/map/audit-classes.ts';
import { CLASSES, type OcsfEvent } from '../../lib/ocsf/types.ts';
import { auditFixture, normalized, ocsfExamples } from '../../scripts/ocsf-examples.ts';
import { ndjson, ROOT, runCli, tempDir } from '../support/cli.ts';
import { sample, sampleSlugs } from '../support/fixtures.ts';
import { duplicatePairs, expectValidOcsf, resolveObservable } from '../support/ocsf-assertions.ts';
import { schemaObservable } from '../support/ocsf-observables.ts';

describe('every class, from real fixtures', () => {
  it('builds one valid, lean event per class Kitewatch emits, observables resolving with the schema types', async () => {
    const examples = await ocsfExamples();
    expect(examples.map((e) => e.classUid).sort()).toEqual(Object.keys(CLASSES).map(Number).sort());
    for (const { event } of examples) {
      expectValidOcsf(event);
      expect(event.observables?.length, `${event.class_name} has observables`).toBeGreaterThan(0);
      for (const o of event.observables ?? []) {
        expect(resolveObservable(event, o.name)).toContain(o.value);
        const s = schemaObservable(event.class_uid, o.name);
        if (s.known) expect(o.type_id).toBe(s.typeId ?? 99);
      }
    }
  });

  it('the schema types the observables the issue named: user.uid 31, resources[].uid 10', () => {
    expect(schemaObservable(3002, 'user.uid')).toEqual({ known: true, typeId: 31 });
    expect(schemaObservable(6003, 'actor.user.uid')).toEqual({ known: true, typeId: 31 });
    expect(schemaObservable(6003, 'resources[].uid')).toEqual({ known: true, typeId: 10 });
    expect(schemaObservable(3002, 'src_endpoint.ip')).toEqual({ known: true, typeId: 2 });
    expect(schemaObservable(6003, 'subject.uid')).toEqual({ known: false });
  });

  it('no Buildkite payload, nor any audit type, yields a field that repeats another', () => {
    const events: OcsfEvent[] = sampleSlugs()
      .filter((s) => s !== 'build-blocked')
      .map((s) => normalized(sample(s)));
    for (const type of AUDIT_EVENT_TYPES) events.push(normalized(auditFixture(type, { type: 'Thing', uuid: 'be880ac7-d75a-420c-8e15-d572ac398c50', name: 'x' })));
    for (const e of events) expect(duplicatePairs(e), `${e.metadata.event_code}`).toEqual([]);
  });
});

describe('audit severity', () => {
  it('rates by security impact, from the one table', () => {
    const sev = (type: string, data?: Record<string, unknown>) => normalized(auditFixture(type, { type: 'Thing', uuid: 'be880ac7-d75a-420c-8e15-d572ac398c50', name: 'x' }, data ?? null)).severity_id;
    for (const type of ['USER_TOTP_DELETED', 'SSO_PROVIDER_DISABLED', 'NOTIFICATION_SERVICE_DISABLED', 'USER_IMPERSONATED']) expect(sev(type), type).toBe(4);
    expect(sev('API_ACCESS_TOKEN_CREATED')).toBe(3);
    expect(sev('ORGANIZATION_MEMBER_UPDATED', { role: ['member', 'admin'] })).toBe(4);
    expect(sev('ORGANIZATION_MEMBER_UPDATED', { role: ['admin', 'member'] })).toBe(2);
    expect(sev('SECRET_READ')).toBe(1);
    expect(sev('BUILD_PAGE_SETTING_UPDATED')).toBe(1);
    // Every emitted severity is the table's.
    for (const type of AUDIT_EVENT_TYPES) expect(sev(type), type).toBe(auditSeverity(type));
    const counts = new Map<number, number>();
    for (const type of AUDIT_EVENT_TYPES) counts.set(auditSeverity(type), (counts.get(auditSeverity(type)) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual([1, 2, 3, 4]);
  });
});

describe('correlation', () => {
  it('every Remediation Activity of the attack scenario joins its finding on metadata.correlation_uid = finding_info.uid', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const out = join(dir, 'out.ndjson');
    const scenarios = join(ROOT, 'test', 'fixtures', 'scenarios');
    const r = await runCli([
      'replay',
      join(scenarios, 'attack.ndjson'),
      '--config',
      join(scenarios, 'kitewatch.config.json'),
      '--state',
      join(dir, 's.db'),
      '--quarantine',
      join(dir, 'q.ndjson'),
      '--out',
      out,
      '--fresh',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const events = ndjson((await import('node:fs')).readFileSync(out, 'utf8')) as unknown as OcsfEvent[];
    const findings = events.filter((e) => e.class_uid === 2004);
    const activities = events.filter((e) => e.class_uid === 7001);
    expect(findings.length).toBeGreaterThan(0);
    expect(activities.length).toBeGreaterThan(0);
    for (const f of findings) expect(f.metadata.correlation_uid).toBe((f['finding_info'] as { uid: string }).uid);
    const byCorrelation = new Set(findings.map((f) => f.metadata.correlation_uid));
    expect(activities.filter((a) => !byCorrelation.has(a.metadata.correlation_uid))).toEqual([]);
  });
});
