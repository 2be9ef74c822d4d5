/**
 * Incidents: one finding per incident, updated, not repeated.
 *
 * A detector's draft names its entity and cause in `dedupKey`. The first draft for a key opens
 * an incident and is raised as a finding (activity Create). While the incident is open, every
 * later draft for the same key is new evidence about it: it is merged into the incident (counts,
 * last seen, evidences, every entity involved) and, when it names an entity to act on that the
 * finding did not name yet (a new swept secret, a new agent) or raises the severity, the finding
 * is raised again as an Update: same `finding_info.uid`, activity Update, the merged resources.
 * Evidence that adds nothing to act on only updates the incident's state, so a responder (and
 * containment) sees each new target once.
 *
 * The incident closes when no new evidence arrives for the detector's `dedupWindowMinutes` of
 * event time; the next draft for the key opens a new incident and a new finding.
 *
 * Pure: the stage keeps the Incident in state and builds the OCSF finding.
 */
import type { EntityRole, FindingResource } from '../findings/contract.ts';
import type { SeverityId } from '../ocsf/types.ts';
import { MAX_EVIDENCES } from './finding.ts';
import type { EvidenceRef, FindingDraft } from './types.ts';

/**
 * Entities an incident names: to act on (target, implicated), and for context (related). Past
 * these, new ones still count but are not named; the caps keep a finding well inside
 * EventBridge's 256 KB entry.
 */
export const MAX_ACTING_RESOURCES = 300;
export const MAX_RELATED_RESOURCES = 30;

/** What the stage keeps per open incident (short keys: it is written on every new evidence). */
export interface Incident {
  /** finding_info.uid of the incident's finding. */
  u: string;
  /** created_time of the finding (epoch ms). */
  c: number;
  /** first_seen_time (epoch ms). */
  f: number;
  /** Last evidence, event seconds: the incident closes `dedupWindowMinutes` after it. */
  l: number;
  /** Events the incident stands for. */
  n: number;
  /** Highest severity so far. */
  s: SeverityId;
  /** Updates raised so far (the next one is number v + 1). */
  v: number;
  /** Every entity involved (target first). */
  r: FindingResource[];
  /** Newest first, capped at MAX_EVIDENCES. */
  e: EvidenceRef[];
}

export function isOpen(incident: Incident | undefined, now: number, windowSeconds: number): incident is Incident {
  return incident !== undefined && now - incident.l <= windowSeconds && now >= incident.l - windowSeconds;
}

export function openIncident(uid: string, draft: FindingDraft, triggerTime: number, now: number): Incident {
  const e = draft.evidences.slice(0, MAX_EVIDENCES);
  return {
    u: uid,
    c: triggerTime,
    f: draft.firstSeen,
    l: now,
    n: Math.max(draft.eventCount ?? e.length, 1),
    s: draft.severity,
    v: 0,
    r: draft.resources.slice(0, MAX_ACTING_RESOURCES),
    e,
  };
}

/**
 * `resources[].data.since_update`: the incident update (1, 2, ...) that first named this entity
 * to act on. Containment acts, on an Update, only on the entities it names for the first time.
 */
export const SINCE_UPDATE = 'since_update';

const RANK: Record<EntityRole, number> = { related: 0, implicated: 1, target: 2 };
const key = (r: FindingResource): string => `${r.type}\u0000${r.uid}`;

export interface Merged {
  readonly incident: Incident;
  /**
   * The draft to raise as Update number `incident.v + 1`, or undefined when the evidence adds
   * nothing to act on. The stage raises one Update per incident per batch (the last draft, which
   * holds everything merged so far) and then counts it in `v`.
   */
  readonly update: FindingDraft | undefined;
}

/**
 * Merges a draft into an open incident. The incident's target stays its target; a draft whose
 * own target is another entity (a second new secret) adds it as implicated, so containment acts
 * on it too.
 */
export function mergeIncident(prior: Incident, draft: FindingDraft, now: number): Merged {
  const resources = prior.r.map((r) => ({ ...r, data: { ...r.data } }));
  const index = new Map(resources.map((r, i) => [key(r), i]));
  const hasTarget = resources.some((r) => r.data.role === 'target');
  const version = prior.v + 1;
  let newActing = false;
  let related = resources.filter((r) => r.data.role === 'related').length;
  let acting = resources.length - related;
  for (const r of draft.resources) {
    const role: EntityRole = r.data.role === 'target' && hasTarget ? 'implicated' : r.data.role;
    const i = index.get(key(r));
    if (i === undefined) {
      if (role === 'related' ? related++ >= MAX_RELATED_RESOURCES : acting++ >= MAX_ACTING_RESOURCES) continue;
      index.set(key(r), resources.length);
      // Marks what this update adds, so containment acts on it and not again on the rest. A look-alike
      // agent (`like_fleet`, related) is acted on too: containment asks approval to stop it.
      const acts = role !== 'related' || r.data['like_fleet'] === true;
      resources.push({ ...r, data: acts ? { ...r.data, role, [SINCE_UPDATE]: version } : { ...r.data, role } });
      if (acts) newActing = true;
    } else {
      const had = resources[i] as FindingResource;
      if (RANK[role] > RANK[had.data.role]) {
        resources[i] = { ...had, data: { ...had.data, role, [SINCE_UPDATE]: version } };
        newActing = true;
      }
    }
  }
  const seen = new Set(prior.e.map((e) => e.uid));
  const fresh = draft.evidences.filter((e) => !seen.has(e.uid));
  const evidences = [...fresh, ...prior.e].sort((a, b) => b.time - a.time).slice(0, MAX_EVIDENCES);
  const severity = Math.max(prior.s, draft.severity) as SeverityId;
  const incident: Incident = {
    ...prior,
    l: Math.max(prior.l, now),
    n: Math.max(prior.n + Math.max(fresh.length, 1), draft.eventCount ?? 0),
    s: severity,
    r: resources,
    e: evidences,
    f: Math.min(prior.f, draft.firstSeen),
  };
  if (!newActing && severity === prior.s) return { incident, update: undefined };
  if (severity > prior.s) {
    // A higher severity may now meet a containment rule that the earlier finding did not.
    for (const [i, r] of resources.entries()) if (r.data.role !== 'related') resources[i] = { ...r, data: { ...r.data, [SINCE_UPDATE]: version } };
  }
  return {
    incident,
    update: {
      ...draft,
      severity,
      resources,
      evidences,
      eventCount: incident.n,
      firstSeen: incident.f,
      lastSeen: Math.max(draft.lastSeen, ...prior.e.map((e) => e.time)),
      data: { ...draft.data, incident: { update: version, opened: prior.c, events: incident.n, entities: resources.length } },
    },
  };
}
