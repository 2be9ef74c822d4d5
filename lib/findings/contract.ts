/**
 * The contract between detectors (which raise OCSF 2004 Detection Findings) and containment
 * (which acts on them), defined once as zod schemas: the detector side builds to these types,
 * containment parses with them, and the tests check every emitted finding against them.
 *
 * A finding names what it is about in `resources[]`, each with a contract role in `data.role`:
 *
 * - `target`:     the entity the finding is about (agent token, API token, actor, secret, pipeline,
 *                 notification service). Containment acts on it when the policy says so.
 * - `implicated`: entities to act on together with the target, e.g. the agents that connected with a
 *                 leaked token from the unusual network or in the burst (stop-agent).
 * - `related`:    context for the responder, never acted on automatically, e.g. the organization (its
 *                 slug is what API calls need).
 *
 * The OCSF `role_id` beside it says how the entity took part, for the analyst: 2 Actor for whoever
 * acted (a person, an agent that connected), 1 Target, 3 Affected, 4 Related otherwise.
 * `uid` is Buildkite's uuid of the entity; `name` its human name (slug, description, secret key).
 */
import * as z from 'zod/mini';
import '../config/zod-en.ts';

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
export const EntityTypeSchema = z.enum(ENTITY_TYPES);
export type EntityType = z.infer<typeof EntityTypeSchema>;

export const ENTITY_ROLES = ['target', 'implicated', 'related'] as const;
export const EntityRoleSchema = z.enum(ENTITY_ROLES);
export type EntityRole = z.infer<typeof EntityRoleSchema>;

/** A resource as a detector drafts it (before the OCSF role is added). */
export const FindingResourceSchema = z.object({
  uid: z.string().check(z.minLength(1)),
  name: z.optional(z.string()),
  type: EntityTypeSchema,
  data: z.looseObject({ role: EntityRoleSchema }),
});
export type FindingResource = z.infer<typeof FindingResourceSchema>;

/** OCSF resource role ids (resource_details.role_id, 1.8.0). */
export const RESOURCE_ROLES = { 1: 'Target', 2: 'Actor', 3: 'Affected', 4: 'Related' } as const;

/** `finding_info.types` of the finding a detector raises when it throws: names no threat, never contained. */
export const DETECTOR_ERROR_TYPE = 'Kitewatch Detector Error';

/**
 * A Detection Finding as Kitewatch emits it: the fields its consumers (containment, forwarding,
 * the SIEM join with Remediation Activities) rely on. Loose: the OCSF JSON Schema checks the rest.
 * `metadata.correlation_uid` equals `finding_info.uid`, as every Remediation Activity's does.
 */
export const DetectionFindingSchema = z.looseObject({
  class_uid: z.literal(2004),
  activity_id: z.int(),
  severity_id: z.int(),
  status_id: z.optional(z.int()),
  time: z.number(),
  finding_info: z.looseObject({
    uid: z.string().check(z.minLength(1)),
    title: z.optional(z.string()),
    types: z.optional(z.array(z.string())),
    analytic: z.optional(z.looseObject({ uid: z.optional(z.string()), name: z.optional(z.string()) })),
  }),
  resources: z.optional(
    z.array(
      z.looseObject({
        uid: z.string().check(z.minLength(1)),
        name: z.optional(z.string()),
        type: z.string(),
        role_id: z.optional(z.int()),
        data: z.optional(z.record(z.string(), z.unknown())),
      }),
    ),
  ),
  metadata: z.looseObject({ tenant_uid: z.optional(z.string()), correlation_uid: z.optional(z.string()) }),
});
export type DetectionFinding = z.infer<typeof DetectionFindingSchema>;

/** The detail-type findings travel under on the Kitewatch bus (see lib/engine/bus.ts). */
export const FINDING_DETAIL_TYPE = 'OCSF Detection Finding';
