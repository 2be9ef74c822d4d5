import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HEC_LIMITS, SOURCETYPE_CLASS_NAMES, hecEventProblems, hecTime, sourcetypeFor, toHecEvent } from '../../lib/forward/hec.ts';
import { CLASSES } from '../../lib/ocsf/types.ts';
import { ROOT } from '../support/cli.ts';
import { finding, normalizedEvents } from './helpers.ts';

describe('OCSF -> HEC event', () => {
  it('sourcetypes are OCSF class names, for every class the schemas define and Kitewatch emits', () => {
    const index = JSON.parse(readFileSync(`${ROOT}data/ocsf/schemas/index.json`, 'utf8')) as { classes: { class_uid: number; class_name: string }[] };
    for (const c of index.classes) expect(SOURCETYPE_CLASS_NAMES[c.class_uid], String(c.class_uid)).toBe(c.class_name);
    for (const uid of Object.keys(CLASSES)) expect(SOURCETYPE_CLASS_NAMES[Number(uid)]).toBeDefined();
    expect(sourcetypeFor(6003)).toBe('ocsf:api_activity');
    expect(sourcetypeFor(2004, 'kw:')).toBe('kw:detection_finding');
    expect(sourcetypeFor(9999)).toBe('ocsf:class_9999');
  });

  it('every normalized fixture becomes an event Splunk accepts', () => {
    for (const event of [...normalizedEvents(), finding()]) {
      const hec = toHecEvent(event, { index: 'kitewatch' });
      expect(hecEventProblems(hec), event.metadata.uid).toEqual([]);
      expect(hec.source).toBe('kitewatch');
      expect(hec.index).toBe('kitewatch');
      expect(hec.event).toBe(event);
      expect(hec.time * 1000).toBe(event.time);
      for (const v of Object.values(hec.fields)) expect(typeof v).toBe('string');
      expect(hec.fields).toMatchObject({ class_uid: String(event.class_uid), severity_id: String(event.severity_id) });
    }
  });

  it('the agent-connected example', () => {
    const event = normalizedEvents().find((e) => e.metadata.event_code === 'Agent Connected');
    expect(event).toBeDefined();
    const hec = toHecEvent(event!);
    expect({ ...hec, event: '(the OCSF event)' }).toEqual({
      time: 1724044697,
      host: 'ip-10-0-2-73.ec2.internal',
      source: 'kitewatch',
      sourcetype: 'ocsf:authentication',
      event: '(the OCSF event)',
      fields: {
        class_uid: '3002',
        class_name: 'Authentication',
        severity_id: '1',
        severity: 'Informational',
        org: 'my-org',
        org_uid: 'a98961b7-adc1-41aa-8726-cfb2c46e42e0',
      },
    });
  });

  it('org is the slug when the event names the organization, else its uuid', () => {
    const withSlug = normalizedEvents().find((e) => e.resources?.some((r) => r.type === 'Organization' && r.name === 'my-org'));
    expect(toHecEvent(withSlug!).fields['org']).toBe('my-org');
    const f = toHecEvent(finding());
    expect(f.fields).toMatchObject({ org: 'my-org', org_uid: 'a98961b7-adc1-41aa-8726-cfb2c46e42e0', class_name: 'Detection Finding', severity: 'High' });
    expect(f.host).toBe('buildkite.com');
    expect(f.sourcetype).toBe('ocsf:detection_finding');
  });

  it('no index unless configured (the token default applies)', () => {
    expect('index' in toHecEvent(finding())).toBe(false);
  });

  it('time is seconds with millisecond precision, exactly', () => {
    expect(hecTime(1724044688123)).toBe(1724044688.123);
    expect(JSON.stringify({ t: hecTime(1724044688001) })).toBe('{"t":1724044688.001}');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), (ms) => {
        const t = hecTime(ms);
        expect(Math.round(t * 1000)).toBe(ms);
        expect(String(t)).toMatch(/^\d+(\.\d{1,3})?$/);
      }),
    );
  });

  it('any OCSF-shaped event maps to a valid HEC event that survives JSON', () => {
    const base = finding();
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(SOURCETYPE_CLASS_NAMES).map(Number), 1234),
        fc.integer({ min: 0, max: 99 }),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.option(fc.string(), { nil: undefined }),
        fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
        (classUid, severityId, time, tenant, hostname) => {
          const e = { ...structuredClone(base), class_uid: classUid, severity_id: severityId, time };
          if (tenant === undefined) delete e.metadata.tenant_uid;
          else e.metadata.tenant_uid = tenant;
          if (hostname !== undefined) e.src_endpoint = { hostname };
          const hec = JSON.parse(JSON.stringify(toHecEvent(e))) as unknown;
          expect(hecEventProblems(hec)).toEqual([]);
        },
      ),
    );
  });

  it('limits are the documented defaults', () => {
    expect(HEC_LIMITS).toEqual({ maxContentLength: 1_000_000, maxEventsPerRequest: 500, path: '/services/collector/event' });
  });

  it('the checker catches what Splunk refuses', () => {
    expect(hecEventProblems({ time: 1 })).toContain('Event field is required');
    expect(hecEventProblems({ event: '' })).toContain('Event field cannot be blank');
    expect(hecEventProblems({ event: {}, fields: { a: 1 } })[0]).toMatch(/indexed fields/);
    expect(hecEventProblems({ event: {}, fields: { a: { b: 'c' } } })[0]).toMatch(/indexed fields/);
    expect(hecEventProblems({ event: {}, index: 'Main' })).toContain('Incorrect index');
    expect(hecEventProblems({ event: {}, time: 'yesterday' })).toContain('time must be epoch seconds');
    expect(hecEventProblems([])).toEqual(['an event must be a JSON object']);
  });
});
