/**
 * Which OCSF class and activity each Buildkite audit event type becomes. Data, so the README's
 * mapping table and the tests read the same thing. Unknown types fall through to API Activity
 * with the activity taken from the verb, so a type Buildkite adds tomorrow is still normalized.
 */
export type AuditClass =
  | { readonly class: 3001; readonly activity: number; readonly activityName?: string }
  | { readonly class: 3002; readonly activity: number }
  | { readonly class: 3004; readonly activity: number }
  | { readonly class: 3005; readonly activity: number }
  | { readonly class: 3006; readonly activity: number; readonly activityName?: string }
  | { readonly class: 6003; readonly activity: number };

/** Explicit mappings for the identity classes (OCSF README's starting point, refined). */
// A Map: a type named `constructor` or `toString` must not find Object.prototype's members.
const EXPLICIT: ReadonlyMap<string, AuditClass> = new Map(Object.entries({
  USER_PASSWORD_RESET: { class: 3001, activity: 4 },
  USER_TOTP_ACTIVATED: { class: 3001, activity: 10 },
  USER_TOTP_DELETED: { class: 3001, activity: 11 },
  ORGANIZATION_MEMBER_CREATED: { class: 3001, activity: 1 },
  ORGANIZATION_MEMBER_DELETED: { class: 3001, activity: 6 },
  ORGANIZATION_MEMBER_UPDATED: { class: 3005, activity: 1 },
  USER_IMPERSONATED: { class: 3002, activity: 7 },
  TEAM_CREATED: { class: 3006, activity: 6 },
  TEAM_DELETED: { class: 3006, activity: 5 },
  TEAM_UPDATED: { class: 3006, activity: 99, activityName: 'Update' },
  TEAM_MEMBER_CREATED: { class: 3006, activity: 3 },
  TEAM_MEMBER_DELETED: { class: 3006, activity: 4 },
  TEAM_MEMBER_UPDATED: { class: 3006, activity: 1 },
  SECRET_READ: { class: 6003, activity: 2 },
  SECRET_QUERIED: { class: 6003, activity: 2 },
} satisfies Record<string, AuditClass>));

/** Team access to pipelines, suites, registries and secrets: privileges of a group. */
const TEAM_GRANT = /^TEAM_(PIPELINE|SUITE|REGISTRY|SECRET)_(CREATED|UPDATED|DELETED)$/;

/** Credentials and identity providers: entities whose lifecycle matters to security. */
const ENTITY = /^(AGENT_TOKEN|CLUSTER_TOKEN|CLUSTER_QUEUE_TOKEN|API_ACCESS_TOKEN|USER_API_ACCESS_TOKEN|AUTHORIZATION|SSO_PROVIDER|REGISTRY_TOKEN|PORTAL_TOKEN|PORTAL_SECRET|SUITE_API_TOKEN|API_APPLICATION|OAUTH_APPLICATION)_/;

const VERB_ACTIVITY_6003: ReadonlyArray<readonly [RegExp, number]> = [
  [/_(READ|QUERIED)$/, 2],
  [/_(CREATED|ADDED|ACCEPTED|ACTIVATED|AUTHORIZED|STARTED|APPROVED)$/, 1],
  [/_(DELETED|DESTROYED|REMOVED|REVOKED|CANCELED|ORGANIZATION_ACCESS_REVOKED)$/, 4],
  [/_(UPDATED|CHANGED|ENABLED|DISABLED|ROTATED|REGENERATED|RESENT|MARKED_PRIMARY|VERIFIED|SUPPRESSED|UNSUPPRESSED|BROKEN|SCHEDULED|EXPIRED|REQUESTED)$/, 3],
];

const VERB_ACTIVITY_3004: ReadonlyArray<readonly [RegExp, number]> = [
  [/_(ENABLED)$/, 8],
  [/_(DISABLED)$/, 9],
  [/_(CREATED|AUTHORIZED|ADDED|CODE_AUTHORIZED)$/, 1],
  [/_(DELETED|DESTROYED|REVOKED|REMOVED|ORGANIZATION_ACCESS_REVOKED)$/, 4],
  [/_(UPDATED|REGENERATED)$/, 3],
];

function byVerb(type: string, table: ReadonlyArray<readonly [RegExp, number]>): number {
  for (const [re, id] of table) if (re.test(type)) return id;
  return 99;
}

/** API Activity's activity for any type, from its verb (used when a richer class cannot be filled). */
export function apiActivityForVerb(type: string): number {
  return byVerb(type, VERB_ACTIVITY_6003);
}

export function auditClassFor(type: string): AuditClass {
  const explicit = EXPLICIT.get(type);
  if (explicit !== undefined) return explicit;
  const grant = TEAM_GRANT.exec(type);
  if (grant !== null) {
    const verb = grant[2];
    return verb === 'DELETED' ? { class: 3006, activity: 2 } : { class: 3006, activity: 1 };
  }
  if (ENTITY.test(type)) return { class: 3004, activity: byVerb(type, VERB_ACTIVITY_3004) };
  return { class: 6003, activity: byVerb(type, VERB_ACTIVITY_6003) };
}
