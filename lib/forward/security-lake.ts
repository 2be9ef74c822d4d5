/**
 * What Amazon Security Lake accepts from a custom source, as documented (checked 2026-12-04):
 *
 * - CreateCustomLogSource `sourceName`: pattern `^[\w\-\_\:\.]*$`, and at most 20 characters because it
 *   names the provider role `AmazonSecurityLake-Provider-<sourceName>-<region>` (IAM: 64 characters).
 *   https://docs.aws.amazon.com/security-lake/latest/APIReference/API_CreateCustomLogSource.html
 * - `eventClasses`: a closed list of OCSF class names (below), optional in the API.
 *   Same page; https://docs.aws.amazon.com/security-lake/latest/userguide/custom-sources.html
 * - "For custom sources, Security Lake supports OCSF version 1.3 and earlier." (custom-sources.html)
 *
 * One module, read by the config schema (validation at synth), the S3 layout, the stack and the
 * registration custom resource, so names checked, names written and names registered agree.
 */

/** Security Lake's limit on a custom source name (the provider role name must stay within 64). */
export const SOURCE_NAME_MAX_LENGTH = 20;

/**
 * The API pattern without ':' (an IAM role name cannot hold one, and the name becomes part of the
 * provider role's name and of an S3 prefix).
 */
export const SOURCE_NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** The newest OCSF version Security Lake documents for custom sources. */
export const SECURITY_LAKE_OCSF_VERSION = '1.3';

/** Default base of the source names: `kw-<slug>`. */
export const DEFAULT_SOURCE_BASE = 'kw';

/**
 * Short, stable per-class suffixes (at most 11 characters, so a base of up to 8 fits). A source
 * name is a contract with the lake: it names the S3 prefix, the Glue table and the provider role,
 * so these never change; a class Kitewatch adds gets a new entry.
 */
export const SOURCE_SLUGS: Readonly<Record<number, string>> = {
  2004: 'finding',
  3001: 'acct-change',
  3002: 'authn',
  3004: 'entity-mgmt',
  3005: 'user-access',
  3006: 'group-mgmt',
  6003: 'api',
  7001: 'remediation',
};

export const SOURCE_SLUG_MAX_LENGTH = Math.max(...Object.values(SOURCE_SLUGS).map((s) => s.length));

/**
 * Kitewatch class_uid -> the `eventClasses` value CreateCustomLogSource documents for it. The list
 * Security Lake documents is ACCESS_ACTIVITY, FILE_ACTIVITY, KERNEL_ACTIVITY, KERNEL_EXTENSION,
 * MEMORY_ACTIVITY, MODULE_ACTIVITY, PROCESS_ACTIVITY, REGISTRY_KEY_ACTIVITY, REGISTRY_VALUE_ACTIVITY,
 * RESOURCE_ACTIVITY, SCHEDULED_JOB_ACTIVITY, SECURITY_FINDING, ACCOUNT_CHANGE, AUTHENTICATION,
 * AUTHORIZATION, ENTITY_MANAGEMENT_AUDIT, DHCP_ACTIVITY, NETWORK_ACTIVITY, DNS_ACTIVITY,
 * FTP_ACTIVITY, HTTP_ACTIVITY, RDP_ACTIVITY, SMB_ACTIVITY, SSH_ACTIVITY, CONFIG_STATE,
 * INVENTORY_INFO, EMAIL_ACTIVITY, API_ACTIVITY, CLOUD_API (OCSF 1.0/1.1 names).
 *
 * Not listed, so null: 2004 Detection Finding (OCSF 1.1+; SECURITY_FINDING is the retired class
 * 2001, another schema), 3005 User Access Management, 3006 Group Management, 7001 Remediation
 * Activity. Those sources are registered without `eventClasses` (the field is optional), and synth
 * warns about them.
 */
export const SECURITY_LAKE_EVENT_CLASSES: Readonly<Record<number, string | null>> = {
  2004: null,
  3001: 'ACCOUNT_CHANGE',
  3002: 'AUTHENTICATION',
  3004: 'ENTITY_MANAGEMENT_AUDIT',
  3005: null,
  3006: null,
  6003: 'API_ACTIVITY',
  7001: null,
};

/** The classes among `classUids` that Security Lake's documented event class list lacks. */
export function unlistedEventClasses(classUids: readonly number[]): number[] {
  return classUids.filter((c) => (SECURITY_LAKE_EVENT_CLASSES[c] ?? null) === null);
}

export interface SourceNameOptions {
  /** Base of the default names (`<base>-<slug>`). */
  readonly sourceName: string;
  /** Name per class_uid, overriding the default. */
  readonly sourceNames?: Readonly<Record<string, string>> | undefined;
}

/** One custom source per OCSF class: `kw-api` unless configured otherwise. */
export function sourceNameFor(classUid: number, opts: SourceNameOptions): string {
  const override = opts.sourceNames?.[String(classUid)];
  if (override !== undefined) return override;
  return `${opts.sourceName}-${SOURCE_SLUGS[classUid] ?? String(classUid)}`;
}

/** Why a custom source name is unusable, or undefined. */
export function sourceNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > SOURCE_NAME_MAX_LENGTH) {
    return `is ${name.length} characters; Security Lake allows at most ${SOURCE_NAME_MAX_LENGTH} (the name becomes part of the provider role AmazonSecurityLake-Provider-<name>-<region>)`;
  }
  if (!SOURCE_NAME_PATTERN.test(name)) return 'may hold only letters, digits, "_", "." and "-"';
  return undefined;
}

export interface SourceNameIssue {
  /** Path under securityLake: ['sourceName'] or ['sourceNames', '6003']. */
  readonly path: readonly string[];
  readonly message: string;
}

/** Every problem with the names the given classes would get: length, characters, duplicates. */
export function sourceNameIssues(classUids: readonly number[], opts: SourceNameOptions): SourceNameIssue[] {
  const issues: SourceNameIssue[] = [];
  const byName = new Map<string, number>();
  for (const classUid of classUids) {
    const name = sourceNameFor(classUid, opts);
    const overridden = opts.sourceNames?.[String(classUid)] !== undefined;
    const path = overridden ? ['sourceNames', String(classUid)] : ['sourceName'];
    const problem = sourceNameProblem(name);
    if (problem !== undefined) {
      const fix = overridden
        ? 'choose a shorter name'
        : `shorten sourceName to at most ${SOURCE_NAME_MAX_LENGTH - 1 - (SOURCE_SLUGS[classUid]?.length ?? 4)} characters, or set sourceNames["${classUid}"]`;
      issues.push({ path, message: `custom source name "${name}" (class ${classUid}) ${problem}: ${fix}` });
    }
    const other = byName.get(name);
    if (other !== undefined) issues.push({ path, message: `custom source name "${name}" is used by classes ${other} and ${classUid}; Security Lake wants one class per source` });
    byName.set(name, classUid);
  }
  return issues;
}
