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
      if (Array.isArray(v)) next.push(...(v as unknown[]));
      else if (v !== undefined) next.push(v);
    }
    current = next;
  }
  return current;
}

const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** Every graphql_id in `value` whose base64 only re-encodes the uuid beside it. */
function redundantGraphqlIds(value: unknown, path: string, out: string[]): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => redundantGraphqlIds(v, `${path}[${i}]`, out));
    return;
  }
  const o = obj(value);
  if (o === undefined) return;
  const gid = o['graphql_id'];
  if (typeof gid === 'string') {
    const decoded = Buffer.from(gid, 'base64').toString('latin1');
    const uuids = [o['uuid'], o['uid']].filter((u): u is string => typeof u === 'string');
    if (uuids.some((u) => decoded.endsWith(`---${u}`))) out.push(`${path}.graphql_id`);
  }
  for (const [k, v] of Object.entries(o)) redundantGraphqlIds(v, path === '' ? k : `${path}.${k}`, out);
}

/**
 * The pairs where a lean event would say one thing twice (issue: OCSF an analyst can trust):
 * each entry names the copy that should not be there. Empty for a lean event.
 */
export function duplicatePairs(event: OcsfEvent): string[] {
  const out: string[] = [];
  const m = event.metadata as unknown as Record<string, unknown>;
  const bk = obj(obj(event.unmapped)?.['buildkite']);
  const kw = obj(obj(event.unmapped)?.['kitewatch']);
  if (bk?.['event_id'] !== undefined) out.push('unmapped.buildkite.event_id = metadata.original_event_uid');
  if (bk?.['detail_type'] !== undefined) out.push('unmapped.buildkite.detail_type = metadata.event_code / product.feature.name');
  if (bk?.['account'] !== undefined || bk?.['region'] !== undefined) out.push('unmapped.buildkite.account/region = cloud');
  if (obj(bk?.['token'])?.['uuid'] !== undefined) out.push('unmapped.buildkite.token.uuid = user.credential_uid');
  if (obj(bk?.['cluster_token'])?.['uuid'] !== undefined) out.push('unmapped.buildkite.cluster_token.uuid = user.credential_uid');
  const connected = obj(bk?.['agent'])?.['connected_at'];
  if (typeof connected === 'string' && Date.parse(connected.replace(' UTC', 'Z').replace(' ', 'T')) === event.time) out.push('unmapped.buildkite.agent.connected_at = time');
  if (m['logged_time'] === event.time) out.push('metadata.logged_time = time');
  if (Array.isArray(m['profiles']) && m['profiles'].length === 0) out.push('metadata.profiles is empty');
  if (bk?.['audit_event'] !== undefined) out.push('unmapped.buildkite.audit_event copies mapped fields');
  if (bk?.['context'] !== undefined && bk['context_problem'] === undefined) out.push('unmapped.buildkite.context copies mapped fields');
  if (bk?.['session_user_uuid'] !== undefined && bk['session_user_uuid'] === event.actor?.user?.uid) out.push('unmapped.buildkite.session_user_uuid = actor.user.uid');
  if (kw?.['severity'] !== undefined) out.push('unmapped.kitewatch.severity = severity');
  if (kw?.['detector'] !== undefined) out.push('unmapped.kitewatch.detector = finding_info.analytic.uid');
  if (kw?.['action'] !== undefined) out.push('unmapped.kitewatch.action = command_uid');
  if (kw?.['mode'] !== undefined || kw?.['origin'] !== undefined) out.push('unmapped.kitewatch.mode/origin = metadata.labels');
  if (obj(kw?.['finding'])?.['uid'] !== undefined) out.push('unmapped.kitewatch.finding.uid = metadata.correlation_uid');
  const httpUid = obj(event['http_request'])?.['uid'];
  if (httpUid !== undefined && httpUid === obj(obj(event['api'])?.['request'])?.['uid']) out.push('http_request.uid = api.request.uid');
  const srcUid = event.src_endpoint?.uid;
  if (srcUid !== undefined && (event.resources ?? []).some((r) => r.uid === srcUid)) out.push('resources[].uid = src_endpoint.uid');
  if (obj(event.src_endpoint)?.['name'] === 'unknown') out.push('src_endpoint {name: "unknown"} says nothing');
  // A detail-type Kitewatch does not know is kept whole (unmapped.buildkite.detail), as sent.
  redundantGraphqlIds({ ...event, unmapped: { ...event.unmapped, buildkite: { ...bk, detail: undefined } } }, '', out);
  return out.map((d) => d);
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
  expect(duplicatePairs(event), 'fields that repeat another').toEqual([]);
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
