import { expect } from 'vitest';
import { schemaObservable } from './ocsf-observables.ts';
import { validateOcsf } from '../../lib/ocsf/validate.ts';
import { ACTIVITIES, CLASSES, SEVERITY, statusCaption, type ClassUid, type OcsfEvent } from '../../lib/ocsf/types.ts';

/**
 * Resolves an observable name as OCSF writes them (`src_endpoint.ip`, `resources[].uid` or
 * `resources.uid`: an array segment stands for each of its elements) to the values it names.
 */
export function resolveObservable(event: OcsfEvent, path: string): unknown[] {
  let current: unknown[] = [event];
  for (const raw of path.split('.')) {
    if (!/^\w+(\[\])?$/.test(raw)) return [];
    const part = raw.replace(/\[\]$/, '');
    const next: unknown[] = [];
    for (const c of current) {
      if (typeof c !== 'object' || c === null) continue;
      const v = (c as Record<string, unknown>)[part];
      if (Array.isArray(v)) next.push(...v);
      else if (v !== undefined) next.push(v);
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
  const seen = new Set<string>();
  for (const o of event.observables ?? []) {
    const values = resolveObservable(event, o.name);
    expect(values, `observable ${o.name}=${o.value} must match a field of the event`).toContain(o.value);
    // The type OCSF gives that attribute (none: Other); unmapped paths are outside the schema.
    const schema = schemaObservable(event.class_uid, o.name);
    if (schema.known) expect(o.type_id, `observable ${o.name} type_id`).toBe(schema.typeId ?? 99);
    else expect(o.name.startsWith('unmapped.'), `observable ${o.name} names a schema attribute`).toBe(true);
    expect(seen.has(`${o.name}\u0000${o.value}`), `observable ${o.name}=${o.value} listed once`).toBe(false);
    seen.add(`${o.name}\u0000${o.value}`);
  }
}
