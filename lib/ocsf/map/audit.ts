import { AuditContext, type AuditEventLoggedDetail } from '../../contracts/buildkite.ts';
import { isKnownAuditEventType } from '../../contracts/audit-event-types.ts';
import { addStatus, header, type ClassUid, type OcsfEvent, type OcsfResource, type OcsfUser } from '../types.ts';
import { addLeftover, compact, leftover, nonEmpty, Observables, ocsfIp, setOrDrop } from '../common.ts';
import { cloudOf, envelopeUnmapped, metadata, orgResource, resource, type MapContext } from './shared.ts';
import { apiActivityForVerb, auditClassFor, auditSeverity, isAdminRole, roleChange } from './audit-classes.ts';

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

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** The audit subject, as Buildkite names it. */
export interface AuditSubject {
  readonly type?: string;
  readonly uuid?: string;
  readonly name?: string;
}

/** OCSF user type: Buildkite's "User" actors are people; anything else keeps its own name. */
function userType(buildkiteType: string | undefined): { type_id: number; type: string } | undefined {
  if (buildkiteType === undefined) return undefined;
  return buildkiteType === 'User' ? { type_id: 1, type: 'User' } : { type_id: 99, type: buildkiteType };
}

/** The person an account event is about: from `data.user` when Buildkite names one, else the subject. */
function personOf(subject: AuditSubject | undefined, data: Record<string, unknown> | undefined, org: { uid: string; name: string }): OcsfUser | undefined {
  const u = obj(data?.['user']);
  const uid = str(data?.['user_uuid']) ?? str(u?.['uuid']) ?? subject?.uuid;
  const name = str(data?.['user_name']) ?? str(u?.['name']) ?? subject?.name;
  const email = str(data?.['email']) ?? str(u?.['email']);
  if (uid === undefined && name === undefined && email === undefined) return undefined;
  return compact({ uid, name, email_addr: email !== undefined && /^[^@\s]+@[^@\s]+$/.test(email) ? email : undefined, type_id: 1, type: 'User', org });
}

/** Audit Event Logged -> the class its type maps to (see audit-classes.ts and docs/ocsf-mapping.md). */
export function mapAudit(ctx: MapContext, d: AuditEventLoggedDetail): OcsfEvent {
  const ev = d.event;
  const org = d.organization;
  const orgRef = { uid: org.uuid, name: org.slug };
  const { context, problem } = parseAuditContext(ev.context);
  const ip = context?.request_ip;
  const ipOut = ocsfIp(ip);
  const ua = nonEmpty(context?.request_user_agent);
  const requestId = nonEmpty(context?.request_id);
  const actorUuid = nonEmpty(d.actor?.uuid);
  const actorName = nonEmpty(d.actor?.name);
  const actorType = nonEmpty(d.actor?.type);
  const dataObj = ev.data ?? undefined;

  // The API access token the request authenticated with (AuditAPIContext), and the agent (AuditAgentAPIContext).
  const apiToken = nonEmpty(context?.api_access_token_uuid);
  const agentUuid = nonEmpty(context?.agent_uuid);
  const actorUser: OcsfUser | undefined =
    actorUuid !== undefined || actorName !== undefined || apiToken !== undefined
      ? compact({ uid: actorUuid, name: actorName, ...userType(actorType), credential_uid: apiToken, org: orgRef })
      : undefined;
  const session = context?.session_key || context?.session_created_at ? compact({ uid: nonEmpty(context.session_key), created_time: epochMs(context.session_created_at) }) : undefined;

  const subjectUid = nonEmpty(ev.subject_uuid);
  const subjectName = nonEmpty(ev.subject_name);
  const subjectType = nonEmpty(ev.subject_type);
  const subject: AuditSubject | undefined = subjectUid !== undefined || subjectName !== undefined ? compact({ type: subjectType, uuid: subjectUid, name: subjectName }) : undefined;
  const mapping = auditClassFor(ev.type);
  // Identity classes need their subject; without one the event is still API Activity.
  const cls: ClassUid = subject === undefined ? 6003 : mapping.class;
  let activity = cls === 6003 ? (mapping.class === 6003 ? mapping.activity : apiActivityForVerb(ev.type)) : mapping.activity;
  const role = cls === 3005 ? roleChange(dataObj) : undefined;
  // A role taken away (admin -> member) is a revocation, not an assignment.
  if (cls === 3005 && role !== undefined && !isAdminRole(role.after)) activity = 2;

  // A secret read without a person behind it was made by a pipeline's job: that pipeline is the actor.
  let data = dataObj;
  let readerApp: { app_name?: string; app_uid?: string } | undefined;
  if (cls === 6003 && (ev.type === 'SECRET_READ' || ev.type === 'SECRET_QUERIED') && actorUser === undefined && dataObj !== undefined) {
    const appUid = str(dataObj['pipeline_uuid']);
    if (appUid !== undefined) {
      readerApp = compact({ app_name: str(dataObj['pipeline_slug']), app_uid: appUid });
      data = leftover(dataObj, ['pipeline_uuid', 'pipeline_slug']);
    }
  }

  const obs = new Observables()
    .add('src_endpoint.ip', 'ip', ipOut)
    .add('http_request.user_agent', 'userAgent', ua)
    .add('actor.user.uid', 'userUid', actorUuid)
    .add('actor.user.name', 'userName', actorName)
    .add('actor.user.credential_uid', 'credentialUid', apiToken);

  // Built in place, in the order the emitted JSON has (insertion order); only defined values.
  const e = header(cls, activity, auditSeverity(ev.type, dataObj), undefined, undefined, cls === 3006 && 'activityName' in mapping ? mapping.activityName : undefined);
  e.time = ctx.time;
  e.message = `${ev.type}${subjectType ? ` on ${subjectType} ${subjectName ?? subjectUid ?? ''}`.trimEnd() : ''} by ${actorName ?? actorUuid ?? readerApp?.app_name ?? 'unknown actor'}${ipOut !== undefined ? ` from ${ipOut}` : ''}`;
  e.metadata = metadata(ctx, { eventCode: ev.type, originalUid: ev.uuid, logName: 'buildkite-audit', org, originalTime: ev.occurred_at });
  e['cloud'] = cloudOf(ctx.envelope);
  e.actor = actorUser !== undefined || session !== undefined || readerApp !== undefined ? compact({ user: actorUser, ...readerApp, session }) : { app_name: 'Buildkite' };
  // API Activity requires a source: without a request IP, Buildkite itself made the call.
  const agentList = agentUuid !== undefined ? [{ uid: agentUuid, type_id: 99, type: 'Buildkite Agent', vendor_name: 'Buildkite' }] : undefined;
  if (ipOut !== undefined) e.src_endpoint = compact({ ip: ipOut, agent_list: agentList });
  else if (cls === 6003 || agentList !== undefined) e.src_endpoint = compact({ svc_name: agentList === undefined ? 'buildkite' : undefined, agent_list: agentList });
  if (ua !== undefined || (requestId !== undefined && cls !== 6003)) e['http_request'] = compact({ user_agent: ua, uid: cls === 6003 ? undefined : requestId });

  // What has no OCSF home; the subject and data go where the class puts them (below).
  const buildkite = addLeftover(envelopeUnmapped(ctx.envelope), d, ['organization', 'event', 'actor']);
  addLeftover(buildkite, ev, ['uuid', 'type', 'occurred_at', 'subject_type', 'subject_uuid', 'subject_name', 'data', 'context']);
  setOrDrop(buildkite, 'context_problem', problem);
  // Its fields are mapped; only a context that could not be read is kept as sent.
  if (problem !== undefined) setOrDrop(buildkite, 'context', ev.context);
  // Who the session belongs to, when that is not the actor (impersonation, API tokens).
  const sessionUser = nonEmpty(context?.session_user_uuid);
  setOrDrop(buildkite, 'session_user_uuid', sessionUser !== undefined && sessionUser !== actorUuid ? sessionUser : undefined);
  setOrDrop(
    buildkite,
    'context_extra',
    context ? leftover(context, ['request_id', 'request_ip', 'request_user_agent', 'session_user_uuid', 'session_key', 'session_created_at', 'api_access_token_uuid', 'agent_uuid']) : undefined,
  );
  setOrDrop(buildkite, 'invalid_request_ip', ip && ipOut === undefined ? ip : undefined);
  setOrDrop(buildkite, 'request_ip_as_sent', ipOut !== undefined && ipOut !== ip ? ip : undefined);
  setOrDrop(buildkite, 'actor', d.actor ? leftover(d.actor, ['uuid', 'name', 'type']) : undefined);
  setOrDrop(buildkite, 'unknown_audit_type', isKnownAuditEventType(ev.type) ? undefined : true);
  addStatus(e, 1);

  switch (cls) {
    case 3001: {
      // The account owner is the user; an MFA factor is the factor, not the user.
      const isFactor = /TOTP|MFA|WEBAUTHN/.test(ev.type) || /TOTP|Factor/i.test(subjectType ?? '');
      const owner: OcsfUser | undefined = isFactor ? (actorUser !== undefined ? { ...actorUser } : compact({ uid: sessionUser, org: orgRef })) : personOf(subject, dataObj, orgRef);
      e.user = owner !== undefined && (owner.uid !== undefined || owner.name !== undefined) ? owner : { uid: subjectUid ?? subjectName ?? 'unknown', org: orgRef };
      if (isFactor) {
        e['auth_factors'] = [{ factor_type: 'TOTP', factor_type_id: 7, is_totp: true }];
        setOrDrop(buildkite, 'subject', subject);
      } else if (e.user.uid !== subjectUid) setOrDrop(buildkite, 'subject', subject);
      else setOrDrop(buildkite, 'subject_type', subjectType);
      setOrDrop(buildkite, 'data', dataObj);
      addUserObservables(obs, e.user);
      break;
    }
    case 3002:
      e.user = personOf(subject, undefined, orgRef) ?? { uid: subjectUid ?? 'unknown' };
      e['account_switch_type_id'] = 2;
      e['account_switch_type'] = 'Impersonate';
      e['service'] = { name: 'Buildkite' };
      e['is_remote'] = true;
      setOrDrop(buildkite, 'subject_type', subjectType);
      setOrDrop(buildkite, 'data', dataObj);
      addUserObservables(obs, e.user);
      break;
    case 3004: {
      const entity: Record<string, unknown> = compact({ uid: subjectUid, name: subjectName, type: subjectType });
      if (dataObj !== undefined) entity['data'] = dataObj;
      e['entity'] = entity;
      obs.add('entity.uid', 'other', subjectUid);
      break;
    }
    case 3005: {
      e.user = personOf(subject, dataObj, orgRef) ?? { uid: subjectUid ?? 'unknown' };
      const priv = role === undefined ? 'organization role' : activity === 2 ? (role.before ?? 'admin') : role.after;
      e['privileges'] = [priv];
      if (e.user.uid !== subjectUid) setOrDrop(buildkite, 'subject', subject);
      else setOrDrop(buildkite, 'subject_type', subjectType);
      setOrDrop(buildkite, 'data', dataObj);
      addUserObservables(obs, e.user);
      break;
    }
    case 3006: {
      // The team is the group; a membership's person is the user; an access level is a privilege.
      const team =
        subjectType === 'Team'
          ? { uid: subjectUid, name: subjectName }
          : { uid: str(dataObj?.['team_uuid']) ?? str(obj(dataObj?.['team'])?.['uuid']), name: str(dataObj?.['team_name']) ?? str(obj(dataObj?.['team'])?.['name']) ?? str(dataObj?.['team_slug']) };
      e['group'] = team.uid !== undefined || team.name !== undefined ? compact({ ...team, type: 'Team' }) : { name: 'unknown team', type: 'Team' };
      if (subjectType !== 'Team') setOrDrop(buildkite, 'subject', subject);
      if (/^TEAM_MEMBER_/.test(ev.type)) {
        const u = obj(dataObj?.['user']);
        const member = compact({ uid: str(dataObj?.['user_uuid']) ?? str(u?.['uuid']), name: str(u?.['name']) ?? subjectName, type_id: 1, type: 'User', org: orgRef });
        if (member.uid !== undefined || member.name !== undefined) e.user = member;
        addUserObservables(obs, e.user);
      }
      const access = str(dataObj?.['access_level']) ?? str(dataObj?.['role']) ?? (Array.isArray(dataObj?.['role']) ? str((dataObj['role'] as unknown[])[1]) : undefined);
      if (access !== undefined && (activity === 1 || activity === 2)) e['privileges'] = [access];
      const grant = /^TEAM_(PIPELINE|SUITE|REGISTRY|SECRET)_/.exec(ev.type);
      if (grant !== null) {
        const kind = grant[1] as string;
        const key = kind.toLowerCase();
        const o = obj(dataObj?.[key]);
        const uid = str(dataObj?.[`${key}_uuid`]) ?? str(o?.['uuid']);
        const name = str(dataObj?.[`${key}_slug`]) ?? str(dataObj?.[`${key}_name`]) ?? str(o?.['slug']) ?? str(o?.['name']);
        if (uid !== undefined || name !== undefined) e['resource'] = compact({ uid, name, type: kind.charAt(0) + kind.slice(1).toLowerCase() });
      }
      setOrDrop(buildkite, 'data', dataObj);
      const g = e['group'] as { uid?: string; name?: string };
      obs.add('group.uid', 'groupUid', g.uid).add('group.name', 'groupName', g.uid === undefined ? undefined : g.name);
      break;
    }
    default: {
      const resources: OcsfResource[] = [];
      if (subject !== undefined) resources.push(resource(subjectUid ?? subjectName ?? 'unknown', subjectType ?? 'Unknown', subjectName, data));
      resources.push(orgResource(org));
      const api: Record<string, unknown> = { operation: ev.type, service: { name: 'Buildkite' } };
      if (requestId !== undefined) api['request'] = { uid: requestId };
      e['api'] = api;
      e.resources = resources;
      if (subject !== undefined) obs.add('resources[].uid', 'resourceUid', subjectUid).add('resources[].name', 'resourceName', subjectName);
    }
  }
  const observables = obs.list();
  if (observables !== undefined) e.observables = observables;
  e.unmapped = { buildkite };
  return e;
}

function addUserObservables(obs: Observables, user: OcsfUser | undefined): void {
  if (user === undefined) return;
  obs.add('user.uid', 'userUid', user.uid).add('user.name', 'userName', user.name).add('user.email_addr', 'email', user.email_addr);
}

/**
 * The audit event's own fields, read back from where mapAudit put them (the inverse of its
 * class switch): detectors read audit events through this, never through the mapping's layout.
 */
export function auditSubjectAndData(event: OcsfEvent): { subject: AuditSubject | undefined; data: Record<string, unknown> | undefined } {
  const bk = obj(obj(event.unmapped)?.['buildkite']);
  const explicit = obj(bk?.['subject']);
  const bkData = obj(bk?.['data']);
  const asSubject = (o: Record<string, unknown> | undefined, type?: unknown): AuditSubject | undefined =>
    o === undefined ? undefined : compact({ type: str(type) ?? str(o['type']), uuid: str(o['uid']) ?? str(o['uuid']), name: str(o['name']) });
  switch (event.class_uid) {
    case 6003: {
      const rs = Array.isArray(event.resources) ? event.resources : [];
      const subj = rs.length > 1 ? rs[0] : undefined;
      const data = obj(subj?.data) ?? {};
      // The pipeline that read a secret is the actor (see mapAudit); detectors see it as data.
      const app = event.actor as { app_uid?: unknown; app_name?: unknown } | undefined;
      const withApp = str(app?.app_uid) !== undefined ? { ...data, pipeline_uuid: app?.app_uid, ...(str(app?.app_name) !== undefined ? { pipeline_slug: app?.app_name } : {}) } : data;
      return { subject: asSubject(subj as Record<string, unknown> | undefined), data: Object.keys(withApp).length > 0 ? withApp : undefined };
    }
    case 3004: {
      const entity = obj(event['entity']);
      return { subject: asSubject(entity), data: obj(entity?.['data']) };
    }
    case 3006:
      return { subject: explicit !== undefined ? asSubject(explicit) : asSubject(obj(event['group'])), data: bkData };
    default:
      return { subject: explicit !== undefined ? asSubject(explicit) : asSubject(event.user as Record<string, unknown> | undefined, bk?.['subject_type']), data: bkData };
  }
}
