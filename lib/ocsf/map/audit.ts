import { AuditContext, type AuditEventLoggedDetail } from '../../contracts/buildkite.ts';
import { isKnownAuditEventType } from '../../contracts/audit-event-types.ts';
import { addStatus, header, type ClassUid, type OcsfEvent, type OcsfUser } from '../types.ts';
import { addLeftover, compact, leftover, nonEmpty, Observables, ocsfIp, setOrDrop } from '../common.ts';
import { envelopeUnmapped, metadata, orgObservables, orgResource, resource, type MapContext } from './shared.ts';
import { apiActivityForVerb, auditClassFor } from './audit-classes.ts';

export interface ParsedContext {
  readonly context: AuditContext | undefined;
  /** Why the context could not be used, kept in unmapped (the event itself is still valid). */
  readonly problem?: string;
}

/** `detail.event.context` is a JSON-encoded string on EventBridge, an object in the REST API. */
export function parseAuditContext(raw: unknown): ParsedContext {
  if (raw === undefined || raw === null || raw === '') return { context: undefined };
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      return { context: undefined, problem: 'event.context is not valid JSON' };
    }
  }
  if (!AuditContext.safeParse(value).success) return { context: undefined, problem: 'event.context is not an object of strings' };
  // The input itself: parsing strips keys we do not know, and those belong in unmapped.
  return { context: value as AuditContext };
}

function epochMs(iso: string | null | undefined): number | undefined {
  if (iso === null || iso === undefined) return undefined;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : undefined;
}

/** Audit Event Logged -> the class its type maps to (see audit-classes.ts). */
export function mapAudit(ctx: MapContext, d: AuditEventLoggedDetail): OcsfEvent {
  const ev = d.event;
  const org = d.organization;
  const { context, problem } = parseAuditContext(ev.context);
  const ip = context?.request_ip;
  const ipOut = ocsfIp(ip);
  const ua = nonEmpty(context?.request_user_agent);
  const actorUuid = nonEmpty(d.actor?.uuid);
  const actorName = nonEmpty(d.actor?.name);
  const actorType = nonEmpty(d.actor?.type);

  const actorUser: OcsfUser | undefined =
    actorUuid !== undefined || actorName !== undefined
      ? compact({ uid: actorUuid, name: actorName, type: actorType, type_id: actorType === undefined ? undefined : 99, org: { uid: org.uuid, name: org.slug } })
      : undefined;
  const session =
    context?.session_key || context?.session_created_at
      ? compact({ uid: nonEmpty(context.session_key), created_time: epochMs(context.session_created_at) })
      : undefined;
  const actor = actorUser !== undefined || session !== undefined ? compact({ user: actorUser, session }) : { app_name: 'Buildkite' };

  const obs = new Observables()
    .add('src_endpoint.ip', 'ip', ipOut)
    .add('http_request.user_agent', 'userAgent', ua)
    .add('actor.user.uid', 'userUid', actorUuid)
    .add('actor.user.name', 'userName', actorName);
  orgObservables(obs, org);

  const subjectUid = nonEmpty(ev.subject_uuid);
  const subjectName = nonEmpty(ev.subject_name);
  const subjectType = nonEmpty(ev.subject_type);
  if (subjectUid !== undefined) {
    const isCredential = /Token|Secret|Authorization/i.test(subjectType ?? '') || /TOKEN|SECRET|AUTHORIZATION/.test(ev.type);
    obs.add('subject.uid', isCredential ? 'credentialUid' : 'resourceUid', subjectUid);
  }

  const known = isKnownAuditEventType(ev.type);
  const dataObj = ev.data ?? undefined;
  const subject = subjectUid !== undefined || subjectName !== undefined
    ? compact({ uid: subjectUid, name: subjectName, type: subjectType })
    : undefined;
  const mapping = auditClassFor(ev.type);
  // Identity classes need their subject; without one the event is still API Activity.
  const cls: ClassUid = subject === undefined ? 6003 : mapping.class;
  const activity = cls === 6003 ? (mapping.class === 6003 ? mapping.activity : apiActivityForVerb(ev.type)) : mapping.activity;

  // Built in place, in the order the emitted JSON has (insertion order); only defined values.
  const e = header(cls, activity, 1, undefined, undefined, cls === 3006 && 'activityName' in mapping ? mapping.activityName : undefined);
  e.time = ctx.time;
  e.message = `${ev.type}${subjectType ? ` on ${subjectType} ${subjectName ?? subjectUid ?? ''}`.trimEnd() : ''} by ${actorName ?? actorUuid ?? 'unknown actor'}${ipOut !== undefined ? ` from ${ipOut}` : ''}`;
  e.metadata = metadata(ctx, {
    eventCode: ev.type,
    originalUid: ev.uuid,
    logName: 'buildkite-audit',
    org,
    originalTime: ev.occurred_at,
  });
  e.actor = actor;
  e.src_endpoint = ipOut !== undefined ? { ip: ipOut } : { name: 'unknown' };
  if (ua !== undefined || context?.request_id) e['http_request'] = compact({ user_agent: ua, uid: nonEmpty(context?.request_id) });
  const observables = obs.list();
  if (observables !== undefined) e.observables = observables;

  const auditEvent: Record<string, unknown> = { uuid: ev.uuid, type: ev.type, occurred_at: ev.occurred_at };
  if (subjectType !== undefined) auditEvent['subject_type'] = subjectType;
  if (subjectUid !== undefined) auditEvent['subject_uuid'] = subjectUid;
  if (subjectName !== undefined) auditEvent['subject_name'] = subjectName;
  if (dataObj !== undefined) auditEvent['data'] = dataObj;
  addLeftover(auditEvent, ev, ['uuid', 'type', 'occurred_at', 'subject_type', 'subject_uuid', 'subject_name', 'data', 'context']);
  const buildkite = addLeftover(envelopeUnmapped(ctx.envelope), d, ['organization', 'event', 'actor']);
  // Later keys override same-named leftovers, or drop them when undefined (as spread + compact did).
  setOrDrop(buildkite, 'audit_event', auditEvent);
  // The original context, as Buildkite sent it (a JSON string on EventBridge).
  setOrDrop(buildkite, 'context', ev.context);
  setOrDrop(buildkite, 'context_problem', problem);
  setOrDrop(buildkite, 'session_user_uuid', nonEmpty(context?.session_user_uuid));
  setOrDrop(buildkite, 'context_extra', context ? leftover(context, ['request_id', 'request_ip', 'request_user_agent', 'session_user_uuid', 'session_key', 'session_created_at']) : undefined);
  setOrDrop(buildkite, 'invalid_request_ip', ip && ipOut === undefined ? ip : undefined);
  setOrDrop(buildkite, 'request_ip_as_sent', ipOut !== undefined && ipOut !== ip ? ip : undefined);
  setOrDrop(buildkite, 'actor', d.actor ? leftover(d.actor, ['uuid', 'name', 'type']) : undefined);
  setOrDrop(buildkite, 'unknown_audit_type', known ? undefined : true);
  e.unmapped = { buildkite };
  addStatus(e, 1);

  switch (cls) {
    case 3001:
      e.user = userOf(subject, { uid: org.uuid, name: org.slug });
      return e;
    case 3002:
      e.user = userOf(subject);
      e['service'] = { name: 'Buildkite' };
      e['is_remote'] = true;
      return e;
    case 3004:
      if (dataObj !== undefined) (subject as Record<string, unknown>)['data'] = dataObj;
      e['entity'] = subject;
      return e;
    case 3005:
      e.user = userOf(subject);
      e['privileges'] = [typeof dataObj?.['role'] === 'string' ? (dataObj['role'] as string) : 'organization role changed'];
      return e;
    case 3006:
      e['group'] = subject;
      return e;
    default:
      break;
  }
  const resources = [orgResource(org)];
  if (subject !== undefined) resources.unshift(resource(subjectUid ?? subjectName ?? 'unknown', subjectType ?? 'Unknown', subjectName, dataObj));
  const api: Record<string, unknown> = { operation: ev.type, service: { name: 'Buildkite' } };
  if (context?.request_id) api['request'] = { uid: context.request_id };
  e['api'] = api;
  e.resources = resources;
  return e;
}

/** The subject as a user: its type is the Buildkite subject type, not an OCSF user type. */
function userOf(subject: { uid?: string | undefined; name?: string | undefined } | undefined, org?: { uid: string; name: string }): OcsfUser {
  const u: OcsfUser = {};
  if (subject?.uid !== undefined) u.uid = subject.uid;
  if (subject?.name !== undefined) u.name = subject.name;
  if (org !== undefined) u.org = org;
  return u;
}
