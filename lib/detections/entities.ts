/**
 * Reading Buildkite entities back out of normalized OCSF events (the shapes lib/ocsf/map/*.ts
 * produce). Everything here is defensive: a field that is missing or of the wrong type reads
 * as undefined, never as an exception.
 */
import type { EntityRole, EntityType, FindingResource } from '../findings/contract.ts';
import type { IpInfo } from '../enrich/ip.ts';
import { auditSubjectAndData } from '../ocsf/map/audit.ts';
import type { OcsfEvent } from '../ocsf/types.ts';
import type { EvidenceRef } from './types.ts';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

export interface OrgInfo {
  readonly uid: string;
  readonly name?: string;
}

function buildkiteUnmapped(event: OcsfEvent): Record<string, unknown> | undefined {
  return obj(obj(event.unmapped)?.['buildkite']);
}

/** `aws.partner/buildkite.com/<org-slug>/<id>` -> org slug. */
function slugFromSource(source: unknown): string | undefined {
  const s = str(source);
  if (s === undefined) return undefined;
  const parts = s.split('/');
  return parts.length >= 4 ? str(parts[2]) : undefined;
}

export function orgOf(event: OcsfEvent): OrgInfo | undefined {
  const uid = str(event.metadata.tenant_uid);
  let name = str(event.user?.org?.name) ?? str(event.actor?.user?.org?.name);
  if (name === undefined && Array.isArray(event.resources)) {
    name = str(event.resources.find((r) => r.type === 'Organization')?.name);
  }
  name ??= slugFromSource(buildkiteUnmapped(event)?.['source']);
  const orgUid = uid ?? str(event.user?.org?.uid) ?? str(event.actor?.user?.org?.uid);
  if (orgUid === undefined) return undefined;
  return name === undefined ? { uid: orgUid } : { uid: orgUid, name };
}

export function isAuditEvent(event: OcsfEvent): boolean {
  return event.metadata.log_name === 'buildkite-audit';
}

export interface AuditInfo {
  readonly uuid: string | undefined;
  readonly type: string;
  readonly subjectType: string | undefined;
  readonly subjectUuid: string | undefined;
  readonly subjectName: string | undefined;
  readonly data: Record<string, unknown> | undefined;
}

export function auditOf(event: OcsfEvent): AuditInfo | undefined {
  if (!isAuditEvent(event)) return undefined;
  const type = str(event.metadata.event_code);
  if (type === undefined) return undefined;
  const { subject, data } = auditSubjectAndData(event);
  return {
    uuid: str(event.metadata.original_event_uid),
    type,
    subjectType: subject?.type,
    subjectUuid: subject?.uuid,
    subjectName: subject?.name,
    data,
  };
}

export interface ActorInfo {
  readonly uid?: string;
  readonly name?: string;
}

export function actorOf(event: OcsfEvent): ActorInfo | undefined {
  const u = event.actor?.user;
  const uid = str(u?.uid);
  const name = str(u?.name);
  if (uid === undefined && name === undefined) return undefined;
  return { ...(uid !== undefined ? { uid } : {}), ...(name !== undefined ? { name } : {}) };
}

/** How an actor is shown to a person: name, else uuid. */
export function actorLabel(actor: ActorInfo | undefined): string {
  return actor?.name ?? actor?.uid ?? 'an unknown actor';
}

// The normalizer maps the API access token of GraphQL's AuditAPIContext (requestApiAccessTokenUuid;
// api_access_token_uuid once lib/contracts/audit-drift.ts renamed it) to actor.user.credential_uid.
// Other plausible spellings stay in unmapped.buildkite.context_extra and are read from there.
const API_TOKEN_CONTEXT_KEYS = ['api_access_token_uuid', 'access_token_uuid', 'api_token_uuid', 'token_uuid'] as const;
/** The API access token an audit event was made with, when its context names one. */
export function apiTokenOf(event: OcsfEvent): string | undefined {
  const mapped = str(event.actor?.user?.credential_uid);
  if (mapped !== undefined) return mapped;
  const ctx = obj(buildkiteUnmapped(event)?.['context_extra']);
  if (ctx === undefined) return undefined;
  for (const key of API_TOKEN_CONTEXT_KEYS) {
    const v = str(ctx[key]);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** The agent behind an audit event made through the agent API (AuditAgentAPIContext.agentUuid). */
export function auditAgentOf(event: OcsfEvent): string | undefined {
  const list = (event.src_endpoint as { agent_list?: unknown } | undefined)?.agent_list;
  return Array.isArray(list) ? str(obj(list[0])?.['uid']) : undefined;
}

export interface AgentInfo {
  readonly uid: string | undefined;
  readonly name: string | undefined;
  readonly ip: string | undefined;
  readonly tokenUid: string | undefined;
  readonly tokenName: string | undefined;
}

/** The agent and its token from an Authentication (3002) agent event. */
export function agentOf(event: OcsfEvent): AgentInfo {
  const bk = buildkiteUnmapped(event);
  const token = obj(bk?.['token']) ?? obj(bk?.['cluster_token']);
  return {
    uid: str(event.user?.uid),
    name: str(event.user?.name),
    ip: str(event.src_endpoint?.ip),
    tokenUid: str(event.user?.credential_uid),
    tokenName: str(token?.['description']),
  };
}

export function blockedOf(event: OcsfEvent): { blockedIp: string | undefined; allowed: string | undefined } {
  const bk = buildkiteUnmapped(event);
  return { blockedIp: str(bk?.['blocked_ip']) ?? str(event.src_endpoint?.ip), allowed: str(obj(bk?.['cluster_token'])?.['allowed_ip_addresses']) };
}

/** The event as a finding cites it. */
export function evidenceOf(event: OcsfEvent, ip?: IpInfo): EvidenceRef {
  const e: {
    -readonly [K in keyof EvidenceRef]: EvidenceRef[K];
  } = { uid: event.metadata.uid, time: event.time, typeUid: event.type_uid };
  const code = str(event.metadata.event_code);
  if (code !== undefined) e.code = code;
  if (typeof event.message === 'string') e.message = event.message;
  const addr = str(event.src_endpoint?.ip);
  if (addr !== undefined) e.ip = addr;
  if (ip?.asn !== undefined) e.asn = ip.asn;
  if (ip?.asOrg !== undefined) e.asOrg = ip.asOrg;
  if (ip?.country !== undefined) e.country = ip.country;
  if (event.class_uid === 3002 && event.user !== undefined) {
    const u = event.user;
    e.user = {
      ...(str(u.uid) !== undefined ? { uid: u.uid } : {}),
      ...(str(u.name) !== undefined ? { name: u.name } : {}),
      ...(str(u.credential_uid) !== undefined ? { credential_uid: u.credential_uid } : {}),
    };
  }
  const actor = actorOf(event);
  if (actor !== undefined) e.actor = actor;
  return e;
}

/** A resource for findings (lib/findings/contract.ts). */
export function res(type: EntityType, uid: string, role: EntityRole, name?: string, data: Record<string, unknown> = {}): FindingResource {
  return name === undefined || name === '' ? { uid, type, data: { role, ...data } } : { uid, name, type, data: { role, ...data } };
}

/**
 * Audit subject type -> contract entity type. Only exact kinds: a PipelineSchedule's uuid is not
 * a pipeline's, so it maps to nothing rather than mislead containment.
 */
export function entityTypeOfSubject(subjectType: string | undefined): EntityType | undefined {
  if (subjectType === undefined) return undefined;
  if (/^NotificationService/i.test(subjectType)) return 'NotificationService';
  if (/^SSOProvider/i.test(subjectType) || /^SsoProvider/.test(subjectType)) return 'SsoProvider';
  switch (subjectType) {
    case 'Pipeline':
      return 'Pipeline';
    case 'Cluster':
      return 'Cluster';
    case 'ClusterQueue':
      return 'Queue';
    case 'AgentToken':
      return 'AgentToken';
    case 'ClusterToken':
      return 'ClusterToken';
    case 'APIAccessToken':
    case 'ApiAccessToken':
      return 'ApiToken';
    case 'Secret':
      return 'Secret';
    case 'Organization':
      return 'Organization';
    default:
      return undefined;
  }
}

/**
 * A list of identities from config (UUIDs, see IdentityEntry in config.ts). Only uids are
 * compared: a display name is whatever its user typed last.
 */
export class IdentitySet {
  readonly #ids = new Set<string>();

  constructor(entries: readonly (string | { readonly uuid: string })[]) {
    for (const e of entries) this.#ids.add((typeof e === 'string' ? e : e.uuid).trim().toLowerCase());
  }

  get size(): number {
    return this.#ids.size;
  }

  has(actor: ActorInfo | undefined): boolean {
    return actor?.uid !== undefined && this.#ids.has(actor.uid.toLowerCase());
  }

  hasValue(value: string | undefined): boolean {
    return value !== undefined && this.#ids.has(value.toLowerCase());
  }
}

/** Memoizes one derived object per config object (detectors get the same config every event). */
export function perConfig<C extends object, T>(make: (config: C) => T): (config: C) => T {
  const cache = new WeakMap<C, T>();
  return (config) => {
    let v = cache.get(config);
    if (v === undefined) {
      v = make(config);
      cache.set(config, v);
    }
    return v;
  };
}
