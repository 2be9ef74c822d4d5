/**
 * Which OCSF class and activity each Buildkite audit event type becomes. Data, so docs/ocsf-mapping.md's
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
const EXPLICIT: ReadonlyMap<string, AuditClass> = new Map(
  Object.entries({
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
    // A monitoring integration switched off: the entity's lifecycle, not an API update.
    NOTIFICATION_SERVICE_DISABLED: { class: 3004, activity: 9 },
    NOTIFICATION_SERVICE_ENABLED: { class: 3004, activity: 8 },
    SECRET_QUERIED: { class: 6003, activity: 2 },
  } satisfies Record<string, AuditClass>),
);

/** Team access to pipelines, suites, registries and secrets: privileges of a group. */
const TEAM_GRANT = /^TEAM_(PIPELINE|SUITE|REGISTRY|SECRET)_(CREATED|UPDATED|DELETED)$/;

/** Credentials and identity providers: entities whose lifecycle matters to security. */
const ENTITY =
  /^(AGENT_TOKEN|CLUSTER_TOKEN|CLUSTER_QUEUE_TOKEN|API_ACCESS_TOKEN|USER_API_ACCESS_TOKEN|AUTHORIZATION|SSO_PROVIDER|REGISTRY_TOKEN|PORTAL_TOKEN|PORTAL_SECRET|SUITE_API_TOKEN|API_APPLICATION|OAUTH_APPLICATION)_/;

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

/**
 * Severity of an audit event by its security impact: one table, documented in the mapping
 * reference (docs) and tested. First match wins; everything else is Informational.
 */
export const AUDIT_SEVERITY: ReadonlyArray<{ readonly severity: 2 | 3 | 4 | 5; readonly types: RegExp; readonly why: string }> = [
  {
    severity: 4,
    types:
      /^(USER_TOTP_DELETED|USER_IMPERSONATED|SSO_PROVIDER_(DISABLED|DELETED)|NOTIFICATION_SERVICE_(DISABLED|DELETED|BROKEN)|ORGANIZATION_IMPERSONATION_REQUEST_APPROVED|ORGANIZATION_DELETED|ORGANIZATION_SECURITY_SETTINGS_UPDATED|ORGANIZATION_TEAMS_DISABLED)$/,
    why: 'weakens sign-in or monitoring, or hands over an account',
  },
  {
    severity: 3,
    types:
      /^(API_ACCESS_TOKEN_CREATED|USER_API_ACCESS_TOKEN_ORGANIZATION_ACCESS_ADDED|AGENT_TOKEN_CREATED|CLUSTER_TOKEN_CREATED|CLUSTER_QUEUE_TOKEN_CREATED|REGISTRY_TOKEN_CREATED|PORTAL_TOKEN_CREATED|PORTAL_TOKEN_CODE_AUTHORIZED|PORTAL_SECRET_CREATED|SUITE_API_TOKEN_REGENERATED|AUTHORIZATION_CREATED|OAUTH_APPLICATION_AUTHORIZED|API_APPLICATION_(CREATED|ENABLED)|SSO_PROVIDER_(CREATED|UPDATED)|SECRET_(CREATED|UPDATED|VALUE_UPDATED|DELETED)|JOB_TERMINAL_SESSION_STARTED|ORGANIZATION_MEMBER_(CREATED|DELETED)|ORGANIZATION_INVITATION_(CREATED|ACCEPTED)|USER_PASSWORD_RESET|USER_EMAIL_CREATED|PIPELINE_(DELETED|VISIBILITY_CHANGED|WEBHOOK_URL_ROTATED)|REGISTRY_VISIBILITY_CHANGED|SUITE_VISIBILITY_CHANGED|CLUSTER_(DELETED|PERMISSION_CREATED)|SCM_SERVICE_(CREATED|DELETED)|TEAM_(MEMBER|PIPELINE|SECRET|REGISTRY|SUITE)_(CREATED|UPDATED))$/,
    why: 'creates a credential or a way in, changes who can read secrets or code, or removes a pipeline',
  },
  {
    severity: 2,
    types:
      /^(AGENT_TOKEN_(UPDATED|REVOKED)|API_ACCESS_TOKEN_(UPDATED|DELETED)|CLUSTER_TOKEN_(UPDATED|DELETED)|USER_TOTP_(CREATED|ACTIVATED)|ORGANIZATION_MEMBER_UPDATED|TEAM_(CREATED|DELETED|UPDATED|MEMBER_DELETED)|TEAM_(PIPELINE|SECRET|REGISTRY|SUITE)_DELETED|PIPELINE_(CREATED|UPDATED|TEMPLATE_UPDATED)|CLUSTER_(CREATED|UPDATED|QUEUE_UPDATED)|RULE_(CREATED|UPDATED|DELETED)|ORGANIZATION_UPDATED|USER_UPDATED|USER_PASSWORD_RESET_REQUESTED)$/,
    why: 'changes access or build configuration in an ordinary way',
  },
];

const ADMIN = /^(admin|administrator|owner)$/i;

/** A role change in audit `data`: `role: "admin"` or `role: [before, after]` (also `organization_role`, `admin`). */
export function roleChange(data: Readonly<Record<string, unknown>> | undefined): { before?: string; after: string } | undefined {
  if (data === undefined) return undefined;
  for (const key of ['role', 'organization_role', 'access_level', 'admin']) {
    const v = data[key];
    const text = (x: unknown): string | undefined => (typeof x === 'string' ? x : typeof x === 'boolean' && key === 'admin' ? (x ? 'admin' : 'member') : undefined);
    if (Array.isArray(v) && v.length === 2) {
      const before = text(v[0]);
      const after = text(v[1]);
      if (after !== undefined) return before === undefined ? { after } : { before, after };
    }
    const after = text(v);
    if (after !== undefined) return { after };
  }
  return undefined;
}

export const isAdminRole = (role: string | undefined): boolean => role !== undefined && ADMIN.test(role);

/** An audit event's severity id: the table, raised to High for a grant of organization admin. */
export function auditSeverity(type: string, data?: Readonly<Record<string, unknown>>): 1 | 2 | 3 | 4 | 5 {
  if (type === 'ORGANIZATION_MEMBER_UPDATED' || type === 'ORGANIZATION_INVITATION_CREATED') {
    const change = roleChange(data);
    if (change !== undefined && isAdminRole(change.after) && !isAdminRole(change.before)) return 4;
  }
  for (const row of AUDIT_SEVERITY) if (row.types.test(type)) return row.severity;
  return 1;
}
