/**
 * The contract between detectors (which raise OCSF 2004 Detection Findings) and containment
 * (which acts on them). A finding names what it is about in `resources[]`, each with a role:
 *
 * - `target`:     the entity the finding is about (agent token, API token, actor, secret, pipeline,
 *                 notification service). Containment acts on it when the policy says so.
 * - `implicated`: entities to act on together with the target, e.g. the agents that connected with a
 *                 leaked token from the unusual network or in the burst (stop-agent).
 * - `related`:    context for the responder, never acted on automatically, e.g. the token's other
 *                 agents, the organization (its slug is what API calls need).
 *
 * `uid` is Buildkite's uuid of the entity; `name` its human name (slug, description, secret key).
 */
export const ENTITY_TYPES = [
  'AgentToken',
  'ClusterToken',
  'ApiToken',
  'Agent',
  'Actor',
  'Secret',
  'Pipeline',
  'Cluster',
  'Queue',
  'Organization',
  'NotificationService',
  'SsoProvider',
  /** An organization membership (Buildkite's OrganizationMember uuid, not the user's). */
  'OrganizationMember',
  'OrganizationInvitation',
  /** A team membership (TeamMember uuid). */
  'TeamMember',
  'Job',
  /** A grant to a third party: OAuth or API application, portal token, impersonation request. */
  'Authorization',
] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

export type EntityRole = 'target' | 'implicated' | 'related';

export interface FindingResource {
  readonly uid: string;
  readonly name?: string;
  readonly type: EntityType;
  readonly data: { readonly role: EntityRole; readonly [key: string]: unknown };
}

/** The detail-type findings travel under on the Kitewatch bus (see lib/engine/bus.ts). */
export const FINDING_DETAIL_TYPE = 'OCSF Detection Finding';
