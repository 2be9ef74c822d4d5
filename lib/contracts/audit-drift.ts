import { AUDIT_EVENT_TYPES, isKnownAuditEventType, type AuditEventType } from './audit-event-types.ts';
import { parseBuildkiteTime, parseIsoTime, type AuditEventLoggedDetail } from './buildkite.ts';

/**
 * Format drift on the input side: the shapes in which Buildkite already sends an audit event
 * elsewhere (the REST audit-events API, the GraphQL API) and into which the EventBridge
 * payload may drift. What is unambiguous is brought back to the EventBridge shape the mappers
 * know, and each such repair is named, so the pipeline can count "Buildkite changed shape"
 * before it matters. The input as sent stays in `unmapped` (`*_as_sent`).
 */
export type DriftKind =
  /** `occurred_at` as ISO-8601 (REST, GraphQL) instead of `2019-08-11 06:01:16 UTC`. */
  | 'occurred_at:iso8601'
  /** `context` as an object (REST) instead of a JSON-encoded string. */
  | 'context:object'
  /** Context keys named as the GraphQL context types name them (requestIpAddress, sessionUserUuid, ...). */
  | 'context:graphql-fields'
  /** `OrganizationUpdatedEvent` (REST) for ORGANIZATION_UPDATED. */
  | 'type:class-style'
  /** `organization.updated`, `organization_updated`, ... for ORGANIZATION_UPDATED. */
  | 'type:enum-variant'
  /** Not one of the 184 AuditEventType values, in any spelling: kept as sent, mapped by its verb. */
  | 'type:unknown'
  /** `subject: {type, uuid, name}` (REST) instead of subject_type / subject_uuid / subject_name. */
  | 'subject:object'
  /** `actor` inside `event` (REST) instead of beside it. */
  | 'actor:in-event';

const squash = (s: string): string => s.replace(/[^A-Za-z0-9]/g, '').toLowerCase();

/** `organizationupdated` -> ORGANIZATION_UPDATED, for every AuditEventType (a Map: input never reaches a prototype). */
const BY_SQUASHED: ReadonlyMap<string, AuditEventType> = new Map(AUDIT_EVENT_TYPES.map((t) => [squash(t), t]));

/** A class-style name, e.g. `OrganizationUpdatedEvent`. */
const CLASS_STYLE = /^[A-Z][A-Za-z0-9]*Event$/;

export interface AuditTypeMatch {
  readonly type: string;
  readonly drift?: Extract<DriftKind, 'type:class-style' | 'type:enum-variant' | 'type:unknown'>;
}

/** The AuditEventType an audit type names, in any unambiguous spelling; unknown types are kept as sent. */
export function canonicalAuditType(type: string): AuditTypeMatch {
  if (isKnownAuditEventType(type)) return { type };
  if (CLASS_STYLE.test(type)) {
    const found = BY_SQUASHED.get(squash(type.slice(0, -'Event'.length)));
    if (found !== undefined) return { type: found, drift: 'type:class-style' };
  }
  const found = BY_SQUASHED.get(squash(type));
  if (found !== undefined) return { type: found, drift: 'type:enum-variant' };
  return { type, drift: 'type:unknown' };
}

/**
 * Context keys as the three GraphQL context types (AuditWebContext, AuditAPIContext,
 * AuditAgentAPIContext) name them, camelCase or snake_case, to the EventBridge payload's keys.
 * Keys the EventBridge payload has no name for get their snake_case name, so the mapper keeps
 * them (context_extra); api_access_token_uuid is the key the detectors read.
 */
const CONTEXT_KEYS: ReadonlyMap<string, string> = new Map([
  ['requestIpAddress', 'request_ip'],
  ['request_ip_address', 'request_ip'],
  ['requestUserAgent', 'request_user_agent'],
  ['requestId', 'request_id'],
  ['sessionKey', 'session_key'],
  ['sessionUserUuid', 'session_user_uuid'],
  ['sessionCreatedAt', 'session_created_at'],
  ['sessionEscalatedAt', 'session_escalated_at'],
  ['requestApiAccessTokenUuid', 'api_access_token_uuid'],
  ['request_api_access_token_uuid', 'api_access_token_uuid'],
  ['agentUuid', 'agent_uuid'],
  ['authenticationType', 'authentication_type'],
  ['connectionState', 'connection_state'],
  ['organizationUuid', 'organization_uuid'],
  ['sessionIpAddress', 'session_ip_address'],
  ['__typename', 'type'],
]);

/** Cheap test on the hot path: could this JSON context string hold a GraphQL-named key? */
const GRAPHQL_KEY_IN_JSON = /"(?:[a-z]+[A-Z][A-Za-z]*|__typename|request_ip_address|request_api_access_token_uuid)"\s*:/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The context object with EventBridge's key names; undefined when nothing needed renaming. */
function renameContext(ctx: Record<string, unknown>): Record<string, unknown> | undefined {
  let renamed = false;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ctx)) {
    const canonical = CONTEXT_KEYS.get(k);
    if (k === 'sessionUser' && isRecord(v)) {
      // GraphQL's User object: only its uuid is an identity the mapper uses.
      renamed = true;
      if (typeof v['uuid'] === 'string' && out['session_user_uuid'] === undefined) out['session_user_uuid'] = v['uuid'];
      continue;
    }
    if (canonical !== undefined) {
      renamed = true;
      // The EventBridge name wins when both spellings are present.
      if (!Object.hasOwn(ctx, canonical)) out[canonical] = v;
    } else {
      out[k] = v;
    }
  }
  return renamed ? out : undefined;
}

/** A context object with EventBridge's key names (a copy; the input is not changed). */
export function eventBridgeContext(ctx: Record<string, unknown>): Record<string, unknown> {
  return renameContext(ctx) ?? { ...ctx };
}

export interface CanonicalAudit {
  /** The detail in the EventBridge shape: the input itself when nothing drifted. */
  readonly detail: AuditEventLoggedDetail;
  /** Epoch ms of `occurred_at`, in either form. */
  readonly time: number;
  /** What was repaired; empty when the payload had the EventBridge shape. */
  readonly drift: readonly DriftKind[];
}

const NO_DRIFT: readonly DriftKind[] = [];

/**
 * Brings an audit detail that passed the schema back to the EventBridge shape. Returns the
 * input object itself when nothing drifted (the hot path allocates nothing).
 */
export function canonicalAudit(d: AuditEventLoggedDetail): CanonicalAudit {
  const ev = d.event as AuditEventLoggedDetail['event'] & Record<string, unknown>;
  const bkTime = parseBuildkiteTime(ev.occurred_at);
  const typeMatch = canonicalAuditType(ev.type);
  const ctx = ev.context;
  const ctxString = typeof ctx === 'string';
  const hasSubjectObject = isRecord(ev['subject']) && ev.subject_type == null && ev.subject_uuid == null && ev.subject_name == null;
  const hasEventActor = isRecord(ev['actor']) && (d.actor === undefined || d.actor === null);
  const suspectContext = ctxString ? GRAPHQL_KEY_IN_JSON.test(ctx) : isRecord(ctx);
  if (bkTime !== undefined && typeMatch.drift === undefined && !suspectContext && !hasSubjectObject && !hasEventActor) {
    return { detail: d, time: bkTime, drift: NO_DRIFT };
  }

  const drift: DriftKind[] = [];
  const event: Record<string, unknown> = { ...ev };
  let time = bkTime;
  if (time === undefined) {
    // The schema accepted occurred_at, so it is one of the two forms.
    time = parseIsoTime(ev.occurred_at) as number;
    drift.push('occurred_at:iso8601');
  }
  if (typeMatch.drift !== undefined) {
    drift.push(typeMatch.drift);
    if (typeMatch.type !== ev.type) {
      event['type'] = typeMatch.type;
      event['type_as_sent'] = ev.type;
    }
  }
  if (suspectContext) {
    let parsed: unknown = ctx;
    if (ctxString) {
      try {
        parsed = JSON.parse(ctx);
      } catch {
        parsed = undefined; // the mapper reports the unreadable context itself
      }
    } else {
      drift.push('context:object');
    }
    if (isRecord(parsed)) {
      const renamed = renameContext(parsed);
      if (renamed !== undefined) {
        drift.push('context:graphql-fields');
        event['context'] = renamed;
        event['context_as_sent'] = ctx;
      }
    }
  }
  if (hasSubjectObject) {
    const s = ev['subject'] as Record<string, unknown>;
    const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
    event['subject_type'] = str(s['type']);
    event['subject_uuid'] = str(s['uuid']);
    event['subject_name'] = str(s['name']);
    drift.push('subject:object');
  }
  const detail: Record<string, unknown> = { ...d, event };
  if (hasEventActor) {
    const a = ev['actor'] as Record<string, unknown>;
    const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
    detail['actor'] = { name: str(a['name']), type: str(a['type']), uuid: str(a['uuid']) };
    drift.push('actor:in-event');
  }
  return { detail: detail as AuditEventLoggedDetail, time, drift };
}
