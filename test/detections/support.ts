import { expect } from 'vitest';
import { DETECTOR_ERROR_TYPE, DetectionFindingSchema, ENTITY_TYPES, FindingResourceSchema, type FindingResource } from '../../lib/findings/contract.ts';
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
  if (f.activity_id === 2) {
    // An Update of an open incident's finding: created when the incident opened, modified now.
    expect(fi.created_time).toBeLessThanOrEqual(f.time);
    expect((f['finding_info'] as { modified_time?: number }).modified_time).toBe(f.time);
  } else {
    expect(f.activity_id).toBe(1);
    expect(fi.created_time).toBe(f.time);
  }
  const evidences = evidencesOf(f);
  expect(evidences.length).toBeGreaterThan(0);
  for (const e of evidences) expect(e.data.event_uid).toBe(e.uid);
  expect(fi.related_events.map((r) => r.uid)).toEqual(evidences.map((e) => e.uid));
  // The one contract containment parses with, and the shape every detector drafts to.
  expect(DetectionFindingSchema.safeParse(f).success).toBe(true);
  expect(f.status_id, 'a finding is New when raised').toBe(1);
  expect(f.metadata.correlation_uid, 'Remediation Activities join on finding_info.uid').toBe(fi.uid);
  const rs = resourcesOf(f);
  for (const r of rs) {
    expect(ENTITY_TYPES).toContain(r.type);
    const { role_id: _id, role: _role, ...drafted } = r as FindingResource & { role_id?: number; role?: string };
    expect(FindingResourceSchema.safeParse(drafted).success, `${r.type} ${r.uid} follows the contract`).toBe(true);
    // OCSF role: whoever acted is the Actor (people, the agents that connected).
    const roleId = (r as { role_id?: number }).role_id;
    if (r.type === 'Actor' || (r.type === 'Agent' && r.data.role === 'implicated')) expect(roleId).toBe(2);
    else expect(roleId).toBe(r.data.role === 'target' ? 1 : r.data.role === 'implicated' ? 3 : 4);
    // Harmless agents are not listed: an agent is named only when it acted, or when a burst agent
    // looks like its fleet (token-spike), so that containment asks a responder before stopping it.
    if (r.type === 'Agent') expect(r.data.role === 'implicated' || (r.data.role === 'related' && r.data['like_fleet'] === true), `Agent ${r.uid} is ${r.data.role}`).toBe(true);
  }
  const isError = fi.types.includes(DETECTOR_ERROR_TYPE);
  if (!isError) expect(rs.filter((r) => r.data.role === 'target')).not.toHaveLength(0);
  const org = rs.find((r) => r.type === 'Organization');
  expect(org?.name, 'the Organization resource names the org slug').toBeTruthy();
  expect(f.metadata.tenant_uid).toBe(org?.uid);
}
