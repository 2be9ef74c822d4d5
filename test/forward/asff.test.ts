import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ASFF_LIMITS, AsffMappingError, asffId, asffProblems, chunk, productArn, severityLabel, toAsff, truncate } from '../../lib/forward/asff.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { validateOcsf } from '../../lib/ocsf/validate.ts';
import { finding, normalizedEvents } from './helpers.ts';

const CTX = { accountId: '123456789012', region: 'eu-west-1' };

function withActivity(f: OcsfEvent, activityId: number, name: string, time: number): OcsfEvent {
  return { ...f, activity_id: activityId, activity_name: name, type_uid: 200400 + activityId, type_name: `Detection Finding: ${name}`, time };
}

describe('OCSF Detection Finding -> ASFF', () => {
  it('the fixture is a valid OCSF 1.8 Detection Finding', () => {
    expect(validateOcsf(finding()).errors).toEqual([]);
  });

  it('maps every required attribute', () => {
    const asff = toAsff(finding(), CTX);
    expect(asffProblems(asff)).toEqual([]);
    expect(asff).toMatchObject({
      SchemaVersion: '2018-10-08',
      Id: 'kitewatch/5c0ffee0-1234-8abc-9def-0123456789ab',
      ProductArn: 'arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default',
      GeneratorId: 'unusual-ip',
      AwsAccountId: '123456789012',
      Types: ['TTPs/Initial Access/T1078 Valid Accounts', 'TTPs/Credential Access/T1528 Steal Application Access Token'],
      CreatedAt: '2024-08-19T05:18:17.000Z',
      UpdatedAt: '2024-08-19T05:18:17.000Z',
      FirstObservedAt: '2024-08-19T05:18:17.000Z',
      Severity: { Label: 'HIGH', Original: 'High' },
      Title: 'Agent token "Default agent token" used from AS60729 for the first time',
      RecordState: 'ACTIVE',
      Workflow: { Status: 'NEW' },
      FindingProviderFields: { Severity: { Label: 'HIGH', Original: 'High' } },
    });
    expect(asff.Resources?.map((r) => [r.Type, r.Id, r.Details?.Other?.['role']])).toEqual([
      ['Other', 'df75860c-94f9-4275-91cb-3986590f45b5', 'target'],
      ['Other', '288139c5-728d-4c22-88e3-5a926b6c4a51', 'implicated'],
      ['Other', 'a98961b7-adc1-41aa-8726-cfb2c46e42e0', 'related'],
    ]);
    expect(asff.ProductFields).toMatchObject({
      'kitewatch/FindingUid': '5c0ffee0-1234-8abc-9def-0123456789ab',
      'kitewatch/EventUid': '7d1f3f0e-5a1b-8c6d-9e2f-0a1b2c3d4e5f',
      'kitewatch/AnalyticUid': 'unusual-ip',
      'kitewatch/OrgSlug': 'my-org',
      'kitewatch/MitreTechniques': 'T1078,T1528',
    });
  });

  it('Update and Close map onto the same finding; Close archives it; Workflow only on Create', () => {
    const create = toAsff(finding(), CTX);
    const update = toAsff(withActivity(finding(), 2, 'Update', 1724048297000), CTX);
    const close = toAsff(withActivity(finding(), 3, 'Close', 1724051897000), CTX);
    expect(new Set([create.Id, update.Id, close.Id]).size).toBe(1);
    expect(update).toMatchObject({ RecordState: 'ACTIVE', CreatedAt: create.CreatedAt, UpdatedAt: '2024-08-19T06:18:17.000Z' });
    expect(close).toMatchObject({ RecordState: 'ARCHIVED', CreatedAt: create.CreatedAt, UpdatedAt: '2024-08-19T07:18:17.000Z' });
    expect(update.Workflow).toBeUndefined();
    expect(close.Workflow).toBeUndefined();
    const resolved = toAsff({ ...withActivity(finding(), 2, 'Update', 1724048297000), status_id: 4, status: 'Resolved' }, CTX);
    expect(resolved.RecordState).toBe('ARCHIVED');
  });

  it('severity_id -> Label', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 99, 7].map(severityLabel)).toEqual(['INFORMATIONAL', 'INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL', 'CRITICAL', 'INFORMATIONAL', 'INFORMATIONAL']);
  });

  it('without ATT&CK tactics ASFF knows, the type is Unusual Behaviors by the target entity', () => {
    const f = finding();
    (f['finding_info'] as { attacks: unknown[] }).attacks = [{ tactic: { uid: 'TA0040', name: 'Impact' }, technique: { uid: 'T1485', name: 'Data Destruction' } }];
    expect(toAsff(f, CTX).Types).toEqual(['Unusual Behaviors/User/Token used from an unusual network']);
    f.resources = [{ uid: 'p1', type: 'Pipeline', data: { role: 'target' } }];
    expect(toAsff(f, CTX).Types).toEqual(['Unusual Behaviors/Application/Token used from an unusual network']);
    (f['finding_info'] as { attacks: unknown[] }).attacks = [{ tactic: { uid: 'TA0010', name: 'Exfiltration' }, technique: { uid: 'T1567', name: 'Exfiltration Over Web Service' } }];
    expect(toAsff(f, CTX).Types).toEqual(['Effects/Data Exfiltration/T1567 Exfiltration Over Web Service']);
  });

  it('enforces the limits: Title 256, Description 1024, 32 resources (targets kept), Id 512', () => {
    const f = finding();
    const info = f['finding_info'] as Record<string, unknown>;
    info['title'] = 'T'.repeat(1000);
    info['desc'] = 'd'.repeat(5000);
    f.resources = [...Array.from({ length: 45 }, (_, i) => ({ uid: `related-${i}`, type: 'Agent', data: { role: 'related' } })), { uid: 'the-target', type: 'ApiToken', data: { role: 'target' } }];
    const asff = toAsff(f, CTX);
    expect(asffProblems(asff)).toEqual([]);
    expect(Array.from(asff.Title ?? '')).toHaveLength(256);
    expect(asff.Title?.endsWith('…')).toBe(true);
    expect(Array.from(asff.Description ?? '')).toHaveLength(1024);
    expect(asff.Resources).toHaveLength(32);
    expect(asff.Resources?.[0]?.Id).toBe('the-target');
    expect(asff.ProductFields?.['kitewatch/ResourcesOmitted']).toBe('14');
    const longUid = 'x'.repeat(600);
    expect(asffId(longUid)).toMatch(/^kitewatch\/sha256:[0-9a-f]{64}$/);
    expect(asffId(longUid)).toBe(asffId(longUid));
  });

  it('a finding without resources names its organization (ASFF needs one)', () => {
    const f = finding();
    f.resources = [];
    const asff = toAsff(f, CTX);
    expect(asff.Resources).toEqual([expect.objectContaining({ Type: 'Other', Id: 'a98961b7-adc1-41aa-8726-cfb2c46e42e0', Details: { Other: { type: 'Organization' } } })]);
  });

  it('refuses what is not a Detection Finding, or one without a finding_info.uid', () => {
    const blank = finding();
    (blank['finding_info'] as { uid: string }).uid = '  ';
    expect(() => toAsff(blank, CTX)).toThrow(/finding_info.uid/);
    expect(() => toAsff(normalizedEvents()[0] as OcsfEvent, CTX)).toThrow(AsffMappingError);
    const f = finding();
    delete f['finding_info'];
    expect(() => toAsff(f, CTX)).toThrow(/finding_info.uid/);
  });

  it('any text, any resources: the result is valid ASFF and its Id depends on finding_info.uid only', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 2000 }),
        fc.string({ maxLength: 3000 }),
        fc.array(
          fc.record({ uid: fc.string({ minLength: 1, maxLength: 80 }), type: fc.constantFrom('Agent', 'ApiToken', 'Pipeline', 'Secret'), role: fc.constantFrom('target', 'implicated', 'related') }),
          { maxLength: 60 },
        ),
        fc.integer({ min: 0, max: 6 }),
        fc.string({ minLength: 1, maxLength: 700 }).filter((u) => u.trim() !== ''),
        (title, desc, resources, severityId, uid) => {
          const f = finding();
          Object.assign(f['finding_info'] as object, { title, desc, uid });
          f.severity_id = severityId;
          f.resources = resources.map((r) => ({ uid: r.uid, type: r.type, data: { role: r.role } }));
          const asff = toAsff(f, CTX);
          expect(asffProblems(asff)).toEqual([]);
          expect(asff.Id).toBe(asffId(uid));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the checker catches what BatchImportFindings refuses', () => {
    const good = toAsff(finding(), CTX);
    expect(asffProblems({ ...good, Title: '' })).toContain('Title is required');
    expect(asffProblems({ ...good, Description: 'x'.repeat(1025) })).toContain('Description is longer than 1024');
    expect(asffProblems({ ...good, Types: ['Bogus/Thing'] })[0]).toMatch(/namespace\/category\/classifier/);
    expect(asffProblems({ ...good, Resources: [] })).toContain('Resources needs at least one resource');
    expect(asffProblems({ ...good, AwsAccountId: '123' })).toContain('AwsAccountId must be 12 digits');
    expect(asffProblems({ ...good, CreatedAt: 'yesterday' })).toContain('CreatedAt must be an ISO 8601 UTC timestamp');
    expect(asffProblems({ ...good, ProductFields: { big: 'x'.repeat(250 * 1024) } }).join()).toMatch(/240 KB/);
  });

  it('product ARN and chunks', () => {
    expect(productArn({ ...CTX, partition: 'aws-us-gov', region: 'us-gov-west-1' })).toBe('arn:aws-us-gov:securityhub:us-gov-west-1:123456789012:product/123456789012/default');
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(ASFF_LIMITS.findingsPerCall).toBe(100);
    expect(truncate('ab😀cd', 4)).toBe('ab😀…');
  });
});
