/**
 * Finding drafts -> OCSF 1.8.0 Detection Findings (class 2004). Deterministic: the ids derive
 * from the detector, the dedup key and the triggering event's own uid, and every time is event
 * time, so a replay emits byte-identical findings to the live run.
 */
import { DETECTOR_ERROR_TYPE, RESOURCE_ROLES, type FindingResource } from '../findings/contract.ts';
import { compact, deterministicUid, Observables } from '../ocsf/common.ts';
import { classify, FINDING_STATUS, OCSF_VERSION, type OcsfEvent, type OcsfResource, type SeverityId } from '../ocsf/types.ts';
import { KITEWATCH_VERSION } from '../version.ts';
import type { OrgInfo } from './entities.ts';
import { evidenceOf } from './entities.ts';
import type { DetectorMeta, EvidenceRef, FindingDraft } from './types.ts';

export const FINDING_PRODUCT = { name: 'Kitewatch', vendor_name: 'Kitewatch', version: KITEWATCH_VERSION } as const;

const ANALYTIC_TYPES = { 1: 'Rule', 2: 'Behavioral', 3: 'Statistical' } as const;
const CONFIDENCE = { 1: 'Low', 2: 'Medium', 3: 'High' } as const;
/**
 * How the entity took part, for the analyst (the contract role is for containment): whoever acted
 * is the Actor (a person; an agent that connected with the token); otherwise Target, Affected
 * (implicated), Related.
 */
function roleId(r: FindingResource): keyof typeof RESOURCE_ROLES {
  if (r.type === 'Actor' || (r.type === 'Agent' && r.data.role === 'implicated')) return 2;
  return r.data.role === 'target' ? 1 : r.data.role === 'implicated' ? 3 : 4;
}
/** Evidences cited per finding; `related_events_count` carries the full number. */
export const MAX_EVIDENCES = 20;

function ocsfResource(r: FindingResource): OcsfResource & Record<string, unknown> {
  const id = roleId(r);
  return { ...r, role_id: id, role: RESOURCE_ROLES[id], data: { ...r.data } };
}

function evidence(e: EvidenceRef): Record<string, unknown> {
  const src =
    e.ip === undefined
      ? undefined
      : compact({
          ip: e.ip,
          autonomous_system: e.asn === undefined ? undefined : compact({ number: e.asn, name: e.asOrg }),
          location: e.country === undefined ? undefined : { country: e.country },
        });
  const user = e.user !== undefined && (e.user.uid !== undefined || e.user.name !== undefined) ? compact({ ...e.user, type: 'Service', type_id: 4 }) : undefined;
  const actor = e.actor !== undefined ? { user: compact({ ...e.actor }) } : undefined;
  return compact({
    uid: e.uid,
    name: e.code,
    src_endpoint: src,
    user,
    actor,
    data: compact({ event_uid: e.uid, time: e.time, type_uid: e.typeUid, message: e.message }),
  });
}

function orgResource(org: OrgInfo): FindingResource {
  return org.name === undefined ? { uid: org.uid, type: 'Organization', data: { role: 'related' } } : { uid: org.uid, name: org.name, type: 'Organization', data: { role: 'related' } };
}

export function findingUid(detectorId: string, dedupKey: string, triggerUid: string): string {
  return deterministicUid('kitewatch-finding', detectorId, dedupKey, triggerUid);
}

interface BuildOptions {
  readonly meta: DetectorMeta;
  readonly draft: FindingDraft;
  readonly trigger: OcsfEvent;
  readonly org: OrgInfo | undefined;
  /** Set when the finding updates an open incident's finding (lib/detections/incident.ts). */
  readonly update?: { readonly uid: string; readonly created: number };
}

export function buildFinding({ meta, draft, trigger, org, update }: BuildOptions): OcsfEvent {
  const uid = update?.uid ?? findingUid(meta.id, draft.dedupKey, trigger.metadata.uid);
  const resources: FindingResource[] = [...draft.resources];
  if (org !== undefined && !resources.some((r) => r.type === 'Organization' && r.uid === org.uid)) resources.push(orgResource(org));
  const evidences = draft.evidences.slice(0, MAX_EVIDENCES);
  const obs = new Observables();
  // OCSF types resources[].uid as a Resource UID (10), whatever the resource is.
  for (const r of resources) if (r.type !== 'Organization') obs.add('resources[].uid', 'resourceUid', r.uid);
  const types = draft.type === undefined ? [...meta.types] : [...meta.types, draft.type];
  const severity: SeverityId = draft.severity;
  return compact({
    // OCSF 2004 activity: 1 Create (an incident opens), 2 Update (new evidence about it).
    ...classify(2004, update === undefined ? 1 : 2, severity),
    status_id: 1,
    status: FINDING_STATUS[1],
    // An Update is never older than the finding it updates (events may arrive out of order).
    time: update === undefined ? trigger.time : Math.max(trigger.time, update.created),
    message: draft.title,
    confidence_id: draft.confidence,
    confidence: CONFIDENCE[draft.confidence],
    is_alert: severity > 1,
    metadata: compact({
      version: OCSF_VERSION,
      product: { ...FINDING_PRODUCT, feature: { name: meta.id } },
      uid: update === undefined ? deterministicUid('kitewatch-finding-event', uid) : deterministicUid('kitewatch-finding-event', uid, trigger.metadata.uid),
      // The join key with this finding's Remediation Activities (and its later updates).
      correlation_uid: uid,
      tenant_uid: org?.uid,
      event_code: meta.id,
      log_name: 'kitewatch-findings',
      log_provider: 'Kitewatch',
    }),
    finding_info: compact({
      uid,
      title: draft.title,
      desc: draft.desc,
      types,
      analytic: { uid: meta.id, name: meta.title, type_id: meta.analyticType, type: ANALYTIC_TYPES[meta.analyticType], desc: meta.description },
      attacks: meta.attacks.map((a) => ({ ...a })),
      created_time: update?.created ?? trigger.time,
      modified_time: update === undefined ? undefined : Math.max(trigger.time, update.created),
      first_seen_time: draft.firstSeen,
      last_seen_time: draft.lastSeen,
      related_events: evidences.map((e) => ({ uid: e.uid, type_uid: e.typeUid, created_time: e.time })),
      related_events_count: draft.eventCount ?? evidences.length,
    }),
    evidences: evidences.map(evidence),
    resources: resources.map(ocsfResource),
    observables: obs.list(),
    // Only what has no OCSF home: the detector is finding_info.analytic.uid, the severity its caption.
    unmapped: { kitewatch: compact({ dedup_key: draft.dedupKey, ...draft.data }) },
  }) as OcsfEvent;
}

/** Error text safe to publish: first line only, bounded, no payloads. */
function errorText(error: unknown): { name: string; message: string } {
  const e = error instanceof Error ? error : new Error(String(error));
  const message = (e.message.split('\n')[0] ?? '').slice(0, 200);
  return { name: e.name, message };
}

/**
 * A detector that throws raises this instead of staying silent (fail loud): the responder sees
 * that a detection did not run on an event, and on which.
 */
export function errorFinding(meta: DetectorMeta, error: unknown, trigger: OcsfEvent, org: OrgInfo | undefined): OcsfEvent {
  const { name, message } = errorText(error);
  const draft: FindingDraft = {
    dedupKey: `error:${name}:${message}`,
    title: `Kitewatch detector ${meta.id} failed (${name}); this event was not checked for ${meta.title.toLowerCase()}`,
    desc: `The ${meta.id} detector threw ${name}: ${message}. The event cited in evidences was not evaluated by this detector; check the detector logs, fix it and replay the event.`,
    severity: 4,
    confidence: 3,
    resources: [],
    evidences: [evidenceOf(trigger)],
    firstSeen: trigger.time,
    lastSeen: trigger.time,
    type: DETECTOR_ERROR_TYPE,
    data: { error: { name, message } },
  };
  const finding = buildFinding({ meta, draft, trigger, org });
  // Not an alert about Buildkite: an operational failure of Kitewatch itself.
  (finding['finding_info'] as Record<string, unknown>)['types'] = [DETECTOR_ERROR_TYPE];
  return finding;
}
