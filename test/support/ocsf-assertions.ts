import { expect } from 'vitest';
import { validateOcsf } from '../../lib/ocsf/validate.ts';
import { ACTIVITIES, CLASSES, SEVERITY, statusCaption, type ClassUid, type OcsfEvent } from '../../lib/ocsf/types.ts';

/** Resolves an observable name like `src_endpoint.ip` or `resources[Build].uid` inside an event. */
function resolve(event: OcsfEvent, path: string): unknown[] {
  let current: unknown[] = [event];
  for (const part of path.split('.')) {
    const m = /^(\w+)\[(\w+)\]$/.exec(part);
    const next: unknown[] = [];
    for (const c of current) {
      if (typeof c !== 'object' || c === null) continue;
      if (m !== null) {
        const arr = (c as Record<string, unknown>)[m[1] as string];
        if (Array.isArray(arr)) next.push(...arr.filter((r) => (r as { type?: unknown }).type === m[2]));
      } else {
        next.push((c as Record<string, unknown>)[part]);
      }
    }
    current = next;
  }
  return current;
}

/**
 * Valid against the OCSF 1.8.0 JSON Schema, plus what the schema cannot check: names agree with
 * ids (class, category, activity, type, severity, status) and every observable points at a field
 * of the event holding that very value.
 */
export function expectValidOcsf(event: OcsfEvent): void {
  const v = validateOcsf(event);
  expect(v.errors, `schema errors for ${event.type_name ?? event.class_uid}`).toEqual([]);
  const cls = CLASSES[event.class_uid as ClassUid];
  expect(cls, `class ${event.class_uid}`).toBeDefined();
  expect(event.class_name).toBe(cls.name);
  expect(event.category_uid).toBe(cls.category);
  expect(event.category_name).toBe(cls.categoryName);
  expect(event.type_uid).toBe(event.class_uid * 100 + event.activity_id);
  if (event.activity_id !== 99) {
    expect(event.activity_name).toBe(ACTIVITIES[event.class_uid as ClassUid][event.activity_id]);
  }
  expect(event.type_name).toBe(`${cls.name}: ${event.activity_name}`);
  expect(event.severity).toBe(SEVERITY[event.severity_id as keyof typeof SEVERITY]);
  if (event.status_id !== undefined) expect(event.status).toBe(statusCaption(event.class_uid, event.status_id));
  expect(event.metadata.version).toBe('1.8.0');
  // Buildkite made the events; Kitewatch made its findings and remediation activities.
  expect(event.metadata.product.vendor_name).toBe(event.class_uid === 2004 || event.class_uid === 7001 ? 'Kitewatch' : 'Buildkite');
  expect(Number.isInteger(event.time) && event.time > 0).toBe(true);
  for (const o of event.observables ?? []) {
    if (o.name.startsWith('subject.')) continue; // points into unmapped.buildkite.audit_event
    const values = resolve(event, o.name);
    expect(values, `observable ${o.name}=${o.value} must match a field of the event`).toContain(o.value);
  }
}
