import { AuditContext, type AuditEventLoggedDetail } from '../../contracts/buildkite.ts';
import { isKnownAuditEventType } from '../../contracts/audit-event-types.ts';
import { classify, status, type ClassUid, type OcsfEvent, type OcsfUser } from '../types.ts';
import { compact, isIpAddress, leftover, nonEmpty, Observables } from '../common.ts';
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
    .add('src_endpoint.ip', 'ip', isIpAddress(ip) ? ip : undefined)
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
  const common = {
    time: ctx.time,
    message: `${ev.type}${subjectType ? ` on ${subjectType} ${subjectName ?? subjectUid ?? ''}`.trimEnd() : ''} by ${actorName ?? actorUuid ?? 'unknown actor'}${isIpAddress(ip) ? ` from ${ip}` : ''}`,
    metadata: metadata(ctx, {
      eventCode: ev.type,
      originalUid: ev.uuid,
      logName: 'buildkite-audit',
      org,
      originalTime: ev.occurred_at,
    }),
    actor,
    src_endpoint: isIpAddress(ip) ? { ip } : { name: 'unknown' },
    http_request: ua !== undefined || context?.request_id ? compact({ user_agent: ua, uid: nonEmpty(context?.request_id) }) : undefined,
    observables: obs.list(),
    unmapped: {
      buildkite: compact({
        ...envelopeUnmapped(ctx.envelope),
        ...leftover(d, ['organization', 'event', 'actor']),
        audit_event: compact({
          uuid: ev.uuid,
          type: ev.type,
          occurred_at: ev.occurred_at,
          subject_type: subjectType,
          subject_uuid: subjectUid,
          subject_name: subjectName,
          data: dataObj,
          ...leftover(ev, ['uuid', 'type', 'occurred_at', 'subject_type', 'subject_uuid', 'subject_name', 'data', 'context']),
        }),
        // The original context, as Buildkite sent it (a JSON string on EventBridge).
        context: ev.context ?? undefined,
        context_problem: problem,
        session_user_uuid: nonEmpty(context?.session_user_uuid),
        context_extra: context ? leftover(context, ['request_id', 'request_ip', 'request_user_agent', 'session_user_uuid', 'session_key', 'session_created_at']) : undefined,
        invalid_request_ip: ip && !isIpAddress(ip) ? ip : undefined,
        actor: d.actor ? leftover(d.actor, ['uuid', 'name', 'type']) : undefined,
        unknown_audit_type: known ? undefined : true,
      }),
    },
    ...status(1),
  };

  const subject = subjectUid !== undefined || subjectName !== undefined
    ? compact({ uid: subjectUid, name: subjectName, type: subjectType })
    : undefined;
  const mapping = auditClassFor(ev.type);
  const cls: ClassUid = mapping.class;

  // Identity classes need their subject; without one the event is still API Activity.
  if (subject !== undefined) {
    switch (cls) {
      case 3001:
        return compact({ ...classify(3001, mapping.activity, 1), ...common, user: compact({ ...subject, type: undefined, org: { uid: org.uuid, name: org.slug } }) }) as OcsfEvent;
      case 3002:
        return compact({ ...classify(3002, mapping.activity, 1), ...common, user: compact({ ...subject, type: undefined }), service: { name: 'Buildkite' }, is_remote: true }) as OcsfEvent;
      case 3004:
        return compact({ ...classify(3004, mapping.activity, 1), ...common, entity: compact({ ...subject, data: dataObj }) }) as OcsfEvent;
      case 3005: {
        const role = typeof dataObj?.['role'] === 'string' ? (dataObj['role'] as string) : 'organization role changed';
        return compact({ ...classify(3005, mapping.activity, 1), ...common, user: compact({ ...subject, type: undefined }), privileges: [role] }) as OcsfEvent;
      }
      case 3006:
        return compact({
          ...classify(3006, mapping.activity, 1, 'activityName' in mapping ? mapping.activityName : undefined),
          ...common,
          group: compact({ ...subject, type: subjectType }),
        }) as OcsfEvent;
      default:
        break;
    }
  }
  const activity = cls === 6003 ? mapping.activity : apiActivityForVerb(ev.type);
  const resources = [orgResource(org)];
  if (subject !== undefined) resources.unshift(resource(subjectUid ?? subjectName ?? 'unknown', subjectType ?? 'Unknown', subjectName, dataObj));
  return compact({
    ...classify(6003, activity, 1),
    ...common,
    api: compact({ operation: ev.type, service: { name: 'Buildkite' }, request: context?.request_id ? { uid: context.request_id } : undefined }),
    resources,
  }) as OcsfEvent;
}

