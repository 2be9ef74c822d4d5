import { expect } from 'vitest';
import { ENTITY_TYPES, type FindingResource } from '../../lib/findings/contract.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { DETECTORS } from '../../lib/detections/index.ts';
import { expectValidOcsf } from '../support/ocsf-assertions.ts';

export interface FindingInfo {
  uid: string;
  title: string;
  desc: string;
  types: string[];
  analytic: { uid: string; name: string; type_id: number };
  attacks: unknown[];
  created_time: number;
  first_seen_time: number;
  last_seen_time: number;
  related_events: Array<{ uid: string }>;
}

export const info = (f: OcsfEvent): FindingInfo => f['finding_info'] as FindingInfo;
export const resourcesOf = (f: OcsfEvent): FindingResource[] => (f.resources ?? []) as unknown as FindingResource[];
export const evidencesOf = (f: OcsfEvent): Array<{ uid: string; data: { event_uid: string } }> => f['evidences'] as Array<{ uid: string; data: { event_uid: string } }>;

/**
 * expectValidOcsf (schema, names agree with ids, observables point at fields, vendor Kitewatch for
 * findings) plus the detection contract (lib/findings/contract.ts) and the finding rules.
 */
export function expectValidFinding(f: OcsfEvent): void {
  expectValidOcsf(f);
  expect(f.class_uid).toBe(2004);
  expect(f.metadata.product).toMatchObject({ name: 'Kitewatch', vendor_name: 'Kitewatch' });
  const fi = info(f);
  expect(DETECTORS.map((d) => d.meta.id)).toContain(fi.analytic.uid);
  expect(fi.title.length).toBeGreaterThan(20);
  expect(fi.first_seen_time).toBeLessThanOrEqual(fi.last_seen_time);
  expect(fi.created_time).toBe(f.time);
  const evidences = evidencesOf(f);
  expect(evidences.length).toBeGreaterThan(0);
  for (const e of evidences) expect(e.data.event_uid).toBe(e.uid);
  expect(fi.related_events.map((r) => r.uid)).toEqual(evidences.map((e) => e.uid));
  const rs = resourcesOf(f);
  for (const r of rs) {
    expect(ENTITY_TYPES).toContain(r.type);
    expect(['target', 'implicated', 'related']).toContain(r.data.role);
    expect(r.uid).not.toBe('');
  }
  const isError = fi.types.includes('Kitewatch Detector Error');
  if (!isError) expect(rs.filter((r) => r.data.role === 'target')).not.toHaveLength(0);
  const org = rs.find((r) => r.type === 'Organization');
  expect(org?.name, 'the Organization resource names the org slug').toBeTruthy();
  expect(f.metadata.tenant_uid).toBe(org?.uid);
}
