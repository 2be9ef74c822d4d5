import { DETECTOR_ERROR_TYPE, DetectionFindingSchema, type EntityRole, type EntityType } from '../findings/contract.ts';
import type { OcsfEvent, SeverityId } from '../ocsf/types.ts';
import type { ActionId, TargetType } from './actions.ts';
import type { Target } from './activity.ts';
import { SEVERITY_IDS, type ContainmentConfig, type PolicyRule, type ProtectedEntity } from './config.ts';
import { roleNameOf } from './executors.ts';
import { UUID_PATTERN } from '../contracts/ids.ts';

/**
 * The containment policy as pure functions: which rules a finding matches, which entities each
 * action applies to, and whether an entity is protected. No I/O.
 */

export interface Entity {
  readonly uid: string;
  readonly name?: string;
  readonly type: string;
  readonly role: EntityRole | undefined;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface FindingFacts {
  readonly uid: string;
  readonly detector: string | undefined;
  readonly title: string | undefined;
  readonly severityId: SeverityId;
  /** Epoch ms. */
  readonly time: number;
  /** Organization slug: the name of the Organization resource. */
  readonly org: string | undefined;
  readonly tenantUid: string | undefined;
  readonly entities: readonly Entity[];
}

export type ParsedFinding = { readonly ok: true; readonly finding: FindingFacts } | { readonly ok: false; readonly reason: string };

const KNOWN_SEVERITIES = new Set([0, 1, 2, 3, 4, 5, 6, 99]);

function updateNumber(unmapped: unknown): number | undefined {
  const kw = (unmapped as { kitewatch?: { incident?: { update?: unknown } } } | undefined)?.kitewatch;
  const n = kw?.incident?.update;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
}

export function parseFinding(event: OcsfEvent): ParsedFinding {
  const parsed = DetectionFindingSchema.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `not a Detection Finding containment can read: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}` };
  }
  const f = parsed.data;
  // A detector that threw raises an error finding: it names no threat, so nothing to contain.
  if (f.finding_info.types?.includes(DETECTOR_ERROR_TYPE) === true) return { ok: false, reason: 'a detector error finding, not a threat' };
  if (f.activity_id === 3) return { ok: false, reason: 'a closed finding' };
  const entities: Entity[] = (f.resources ?? []).map((r) => {
    const data = r.data ?? {};
    const role = data['role'];
    return {
      uid: r.uid,
      type: r.type,
      role: role === 'target' || role === 'implicated' || role === 'related' ? role : undefined,
      data,
      ...(r.name !== undefined ? { name: r.name } : {}),
    };
  });
  const org = entities.find((e) => e.type === 'Organization');
  // An Update of an open incident's finding (lib/detections/incident.ts) acts only on the
  // entities it names for the first time; the earlier ones were acted on for the earlier event.
  const update = f['activity_id'] === 2 ? updateNumber(f['unmapped']) : undefined;
  if (update !== undefined) {
    for (const [i, e] of entities.entries()) {
      if (e.role !== 'related' && e.data['since_update'] !== update) entities[i] = { ...e, role: undefined };
      // A look-alike agent's approval was asked for with the update that first named it.
      else if (isLikeFleet(e) && e.data['since_update'] !== update) entities[i] = { ...e, data: { ...e.data, [LIKE_FLEET]: false } };
    }
  }
  return {
    ok: true,
    finding: {
      uid: f.finding_info.uid,
      detector: f.finding_info.analytic?.uid,
      title: f.finding_info.title,
      severityId: (KNOWN_SEVERITIES.has(f.severity_id) ? f.severity_id : 0) as SeverityId,
      time: f.time,
      org: org?.name,
      tenantUid: f.metadata.tenant_uid ?? org?.uid,
      entities,
    },
  };
}

/** Rules that apply to the finding, in config order. */
export function matchingRules(finding: FindingFacts, policy: readonly PolicyRule[]): PolicyRule[] {
  const target = finding.entities.find((e) => e.role === 'target');
  return policy.filter((rule) => {
    if (rule.detector !== finding.detector) return false;
    // Unknown (0) and Other (99) severities never reach a threshold.
    if (finding.severityId === 0 || finding.severityId === 99 || finding.severityId < SEVERITY_IDS[rule.minSeverity]) return false;
    if (rule.targetTypes !== undefined && (target === undefined || !(rule.targetTypes as readonly string[]).includes(target.type))) return false;
    return true;
  });
}

/** Actions of the matching rules, first mention first, each once. */
export function actionsFor(rules: readonly PolicyRule[]): ActionId[] {
  const out: ActionId[] = [];
  for (const rule of rules) for (const a of rule.actions) if (!out.includes(a)) out.push(a);
  return out;
}

const ACTING_ROLES: readonly (EntityRole | undefined)[] = ['target', 'implicated'];

/**
 * `resources[].data.like_fleet`: a burst agent that looks like its token's fleet (token-spike).
 * Not implicated, so never stopped automatically: stop-agent asks a responder first.
 */
export const LIKE_FLEET = 'like_fleet';
export const LIKE_FLEET_APPROVAL = "the agent looks like its token's fleet (stopped only if a responder approves)";
const isLikeFleet = (e: Entity): boolean => e.type === 'Agent' && e.role === 'related' && e.data[LIKE_FLEET] === true;

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function toTarget(e: Entity, type: TargetType, org: string | undefined, attrs: Record<string, string | number> = {}): Target {
  return {
    type,
    uid: e.uid,
    ...(e.name !== undefined ? { name: e.name } : {}),
    ...(org !== undefined ? { org } : {}),
    ...(Object.keys(attrs).length > 0 ? { attrs } : {}),
  };
}

function clusterAttr(e: Entity): Record<string, string> {
  const c = str(e.data['cluster_id']) ?? str(e.data['cluster_uuid']);
  return c === undefined ? {} : { cluster_id: c };
}

const GONE_STATES = new Set(['disconnected', 'lost', 'stopped', 'never_connected']);

/** An agent the finding says is no longer connected (`data.connection_state` or `data.connected: false`). */
export function knownDisconnected(e: Entity): boolean {
  const state = str(e.data['connection_state']);
  return e.data['connected'] === false || (state !== undefined && GONE_STATES.has(state));
}

/**
 * The Buildkite entities an action applies to. rotate-secret returns the Buildkite secrets (and
 * other entities) to map to Secrets Manager; revoke-role-sessions is resolved from config instead.
 */
export function entitiesFor(action: ActionId, finding: FindingFacts): { targets: Target[]; notes: string[]; approvalFirst?: Target[] } {
  const acting = finding.entities.filter((e) => ACTING_ROLES.includes(e.role));
  const notes: string[] = [];
  const org = finding.org;
  switch (action) {
    case 'revoke-agent-token':
      return {
        targets: acting.filter((e) => e.role === 'target' && (e.type === 'AgentToken' || e.type === 'ClusterToken')).map((e) => toTarget(e, e.type as TargetType, org, clusterAttr(e))),
        notes,
      };
    case 'stop-agent': {
      const targets: Target[] = [];
      // Only implicated agents (from the network or burst that raised the finding); the token's
      // other agents are `related`, listed for the responder, never stopped automatically.
      for (const e of acting.filter((x) => x.type === 'Agent' && x.role === 'implicated')) {
        if (knownDisconnected(e)) notes.push(`agent ${e.name ?? e.uid} already disconnected; not stopped`);
        else targets.push(toTarget(e, 'Agent', org));
      }
      // Burst agents that look like the fleet: a responder decides (LIKE_FLEET_APPROVAL).
      const approvalFirst = finding.entities.filter((e) => isLikeFleet(e) && !knownDisconnected(e)).map((e) => toTarget(e, 'Agent', org));
      return { targets, notes, ...(approvalFirst.length > 0 ? { approvalFirst } : {}) };
    }
    case 'rotate-secret':
      // Buildkite secrets first; any other acting entity may have a Secrets Manager secret mapped
      // to it too (an agent token stored in Secrets Manager), looked up the same way.
      return {
        targets: [...acting.filter((e) => e.type === 'Secret'), ...acting.filter((e) => e.type !== 'Secret' && e.type !== 'Organization')].map((e) =>
          toTarget(e, e.type as TargetType, org, clusterAttr(e)),
        ),
        notes,
      };
    case 'pause-queue':
      return { targets: acting.filter((e) => e.type === 'Queue').map((e) => toTarget(e, 'Queue', org, clusterAttr(e))), notes };
    case 'archive-pipeline':
      return { targets: acting.filter((e) => e.type === 'Pipeline').map((e) => toTarget(e, 'Pipeline', org)), notes };
    case 'revoke-grant':
      for (const e of acting.filter((x) => x.role === 'target' && x.type === 'TeamMember')) {
        notes.push(`team membership ${e.uid}: not revoked automatically (no GraphQL lookup of a team membership by uuid); set the role to MEMBER in the team's settings`);
      }
      return {
        targets: acting.filter((e) => e.role === 'target' && (e.type === 'OrganizationMember' || e.type === 'OrganizationInvitation')).map((e) => toTarget(e, e.type as TargetType, org)),
        notes,
      };
    case 'remove-member':
      // The user the finding is about; never the grantor or a related account.
      return { targets: acting.filter((e) => e.role === 'target' && e.type === 'Actor').map((e) => toTarget(e, 'Actor', org)), notes };
    case 'cancel-job':
      return { targets: acting.filter((e) => e.role === 'target' && e.type === 'Job').map((e) => toTarget(e, 'Job', org)), notes };
    case 'cancel-build':
    case 'revoke-role-sessions':
      return { targets: [], notes };
  }
}

/**
 * Roles from `oidcRoles` that a finding selects: by the uuid of a Pipeline it names, or by the slug
 * Buildkite reports for that uuid (`slugs`, looked up by the caller), or roles without a pipeline
 * filter. Never by the name in the finding: an audit subject's name is a display name.
 */
export function rolesFor(finding: FindingFacts, config: ContainmentConfig, slugs: ReadonlyMap<string, string> = new Map()): Target[] {
  const pipelines = new Set<string>();
  for (const e of finding.entities.filter((x) => x.type === 'Pipeline')) {
    pipelines.add(e.uid.toLowerCase());
    const slug = slugs.get(e.uid);
    if (slug !== undefined) pipelines.add(slug);
  }
  return config.oidcRoles
    .filter((r) => r.pipelines === undefined || r.pipelines.some((p) => pipelines.has(UUID_PATTERN.test(p) ? p.toLowerCase() : p)))
    .map((r) => ({ type: 'IamRole' as const, uid: r.role, name: roleNameOf(r.role) }));
}

function glob(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

/** Where Buildkite placed an agent (from its API, never from the event). */
export interface AgentPlacement {
  readonly clusterId?: string;
  readonly queueId?: string;
  readonly queueKey?: string;
}

/** Protections that need the agent's placement to decide (cluster / queue). */
export function needsPlacement(protectedList: readonly ProtectedEntity[]): boolean {
  return protectedList.some((p) => p.cluster !== undefined || p.queue !== undefined);
}

/**
 * The protection that covers an entity, if any. Cluster / queue protections match only with the
 * agent's placement as Buildkite reports it.
 */
export function protectionFor(entity: { type: string; uid: string; name?: string | undefined }, protectedList: readonly ProtectedEntity[], placement?: AgentPlacement): ProtectedEntity | undefined {
  return protectedList.find((p) => {
    if (p.type !== undefined && p.type !== entity.type && !sameTokenKind(p.type, entity.type)) return false;
    if (p.uid !== undefined && p.uid !== entity.uid) return false;
    if (p.name !== undefined && (entity.name === undefined || !glob(p.name).test(entity.name))) return false;
    if (p.cluster !== undefined && (placement?.clusterId === undefined || placement.clusterId.toLowerCase() !== p.cluster.toLowerCase())) return false;
    if (p.queue !== undefined && (placement === undefined || (placement.queueId?.toLowerCase() !== p.queue.toLowerCase() && placement.queueKey !== p.queue))) return false;
    return true;
  });
}

/** A protection on an "AgentToken" also covers the same token seen as a "ClusterToken". */
function sameTokenKind(a: string, b: string): boolean {
  const tokens: readonly string[] = ['AgentToken', 'ClusterToken'] satisfies readonly EntityType[];
  return tokens.includes(a) && tokens.includes(b);
}

/** Pipeline uuids a finding names whose slug matters to `oidcRoles` (some entry is a slug). */
export function pipelinesToResolve(finding: FindingFacts, config: ContainmentConfig): string[] {
  if (!config.oidcRoles.some((r) => r.pipelines?.some((p) => !UUID_PATTERN.test(p)) === true)) return [];
  return finding.entities.filter((e) => e.type === 'Pipeline' && UUID_PATTERN.test(e.uid)).map((e) => e.uid);
}
