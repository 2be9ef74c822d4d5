import type { OcsfEvent } from '../ocsf/types.ts';

/**
 * OCSF -> Splunk HTTP Event Collector (HEC) envelope, for `/services/collector/event`.
 * The same function feeds the local `splunk-hec:` sink and the Firehose transform Lambda, so
 * both deliver byte-identical events.
 */

/** `source` of every Kitewatch event in Splunk. */
export const HEC_SOURCE = 'kitewatch';
/** Default `sourcetype` prefix; the class name (OCSF's own snake_case `name`) follows it. */
export const DEFAULT_SOURCETYPE_PREFIX = 'ocsf:';
/** `host` when the event names no host of its own (audit log events, findings, remediations). */
export const DEFAULT_HEC_HOST = 'buildkite.com';

/**
 * class_uid -> OCSF class name, the sourcetype suffix. These are the `name`s of the OCSF 1.8.0
 * schema (data/ocsf/schemas/index.json), so Splunk props/transforms can key on OCSF's own names.
 */
export const SOURCETYPE_CLASS_NAMES: Readonly<Record<number, string>> = {
  2004: 'detection_finding',
  3001: 'account_change',
  3002: 'authentication',
  3004: 'entity_management',
  3005: 'user_access',
  3006: 'group_management',
  6001: 'web_resources_activity',
  6003: 'api_activity',
  7001: 'remediation_activity',
};

/**
 * HEC limits. Splunk's `max_content_length` ([http_input] in limits.conf) caps a request body;
 * 1 MB is the conservative value Splunk Cloud and older Enterprise defaults use, so batches stay
 * under it. The event count cap keeps one rejected request small to retry.
 */
export const HEC_LIMITS = {
  maxContentLength: 1_000_000,
  maxEventsPerRequest: 500,
  path: '/services/collector/event',
} as const;

export interface HecOptions {
  readonly index?: string | undefined;
  readonly sourcetypePrefix?: string | undefined;
}

/** HEC's indexed `fields` take strings or arrays of strings only. */
export type HecFields = Record<string, string>;

export interface HecEvent {
  readonly time: number;
  readonly host: string;
  readonly source: string;
  readonly sourcetype: string;
  readonly index?: string;
  readonly event: OcsfEvent;
  readonly fields: HecFields;
}

export function sourcetypeFor(classUid: number, prefix: string = DEFAULT_SOURCETYPE_PREFIX): string {
  return `${prefix}${SOURCETYPE_CLASS_NAMES[classUid] ?? `class_${classUid}`}`;
}

/** Epoch milliseconds -> HEC `time`: seconds with millisecond precision (1724044688.123). */
export function hecTime(ms: number): number {
  return Math.round(ms) / 1000;
}

interface OrgLike {
  uid?: unknown;
  name?: unknown;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The organization's slug, from the Organization resource or a user's org, matching tenant_uid. */
export function orgSlugOf(event: OcsfEvent): string | undefined {
  const tenant = event.metadata.tenant_uid;
  for (const r of event.resources ?? []) {
    if (r.type === 'Organization' && (tenant === undefined || r.uid === tenant)) {
      const name = str(r.name);
      if (name !== undefined) return name;
    }
  }
  for (const org of [event.actor?.user?.org, event.user?.org] as (OrgLike | undefined)[]) {
    if (org !== undefined && (tenant === undefined || org.uid === tenant)) {
      const name = str(org.name);
      if (name !== undefined) return name;
    }
  }
  return undefined;
}

function hostOf(event: OcsfEvent): string {
  return str(event.src_endpoint?.hostname) ?? DEFAULT_HEC_HOST;
}

export function toHecEvent(event: OcsfEvent, opts: HecOptions = {}): HecEvent {
  const fields: HecFields = { class_uid: String(event.class_uid), severity_id: String(event.severity_id) };
  const className = str(event.class_name);
  if (className !== undefined) fields['class_name'] = className;
  const severity = str(event.severity);
  if (severity !== undefined) fields['severity'] = severity;
  const tenant = str(event.metadata.tenant_uid);
  const slug = orgSlugOf(event);
  if (slug !== undefined || tenant !== undefined) fields['org'] = (slug ?? tenant) as string;
  if (tenant !== undefined) fields['org_uid'] = tenant;
  return {
    time: hecTime(event.time),
    host: hostOf(event),
    source: HEC_SOURCE,
    sourcetype: sourcetypeFor(event.class_uid, opts.sourcetypePrefix),
    ...(opts.index !== undefined ? { index: opts.index } : {}),
    event,
    fields,
  };
}

/** A request body: HEC accepts event objects one after another; a newline keeps it readable. */
export function hecBody(serializedEvents: readonly string[]): string {
  return serializedEvents.join('\n');
}

const INDEX_NAME = /^[a-z0-9_][a-z0-9_-]*$/;

/**
 * What Splunk checks of one event on /services/collector/event, as error strings (empty: valid).
 * The fake HEC server in the tests uses this too, so "Splunk accepts it" is one definition.
 */
export function hecEventProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return ['an event must be a JSON object'];
  const e = value as Record<string, unknown>;
  const problems: string[] = [];
  if (!('event' in e)) problems.push('Event field is required');
  else if (e['event'] === '' || e['event'] === null) problems.push('Event field cannot be blank');
  const t = e['time'];
  if (t !== undefined && !(typeof t === 'number' && Number.isFinite(t) && t >= 0) && !(typeof t === 'string' && /^\d+(\.\d+)?$/.test(t))) {
    problems.push('time must be epoch seconds');
  }
  for (const k of ['host', 'source', 'sourcetype', 'index'] as const) {
    if (e[k] !== undefined && (typeof e[k] !== 'string' || e[k] === '')) problems.push(`${k} must be a non-empty string`);
  }
  if (typeof e['index'] === 'string' && !INDEX_NAME.test(e['index'])) problems.push('Incorrect index');
  const fields = e['fields'];
  if (fields !== undefined) {
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) problems.push('fields must be an object');
    else {
      for (const [k, v] of Object.entries(fields)) {
        const ok = typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
        if (!ok) problems.push(`Error in handling indexed fields: ${k} must be a string or an array of strings`);
      }
    }
  }
  return problems;
}
