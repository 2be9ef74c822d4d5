import * as z from 'zod/mini';
import '../config/zod-en.ts';
import { compileGuard, type Guard } from './guard.ts';

/**
 * Contracts for what Buildkite's Amazon EventBridge integration sends. Shapes follow the
 * docs' example payloads (test/fixtures/buildkite/eventbridge). Parsing strips unknown keys, so
 * the normalizer validates with these schemas and maps the input itself: fields Buildkite adds
 * later survive into `unmapped` instead of being dropped.
 * Ids are plain strings: the docs' own examples contain malformed uuids.
 */

/** `2019-08-11 06:01:16 UTC` (Buildkite's format inside `detail`), optionally with fractions. */
const BUILDKITE_TS = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? UTC$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Parses a Buildkite timestamp to epoch ms; undefined when it is not one (or not a real date). */
export function parseBuildkiteTime(value: string): number | undefined {
  const m = BUILDKITE_TS.exec(value);
  if (m === null) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const s = Number(m[6]);
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const maxDay = mo === 2 && leap ? 29 : (DAYS_IN_MONTH[mo - 1] ?? 0);
  // Reject 2019-02-30 and 25:00, which Date.UTC would silently roll over.
  if (mo < 1 || mo > 12 || d < 1 || d > maxDay || h > 23 || mi > 59 || s > 59) return undefined;
  const frac = m[7];
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  return Date.UTC(y, mo - 1, d, h, mi, s, ms);
}

/** Digits at [from, to) of `v` as a number, or -1 if any is not an ASCII digit. */
function digits(v: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * Same answer as `parseBuildkiteTime(v) !== undefined`, without the regex match and its
 * allocations: the schema checks every timestamp field of every event.
 */
export function isBuildkiteTime(v: string): boolean {
  const len = v.length;
  // 'YYYY-MM-DD hh:mm:ss UTC' is 23 chars; '.' plus 1-9 fraction digits makes 25-33.
  if (len !== 23 && (len < 25 || len > 33)) return false;
  if (v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || v.charCodeAt(10) !== 32 || v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58) return false;
  if (len > 23 && (v.charCodeAt(19) !== 46 || digits(v, 20, len - 4) < 0)) return false;
  if (!v.endsWith(' UTC')) return false;
  const y = digits(v, 0, 4);
  const mo = digits(v, 5, 7);
  const d = digits(v, 8, 10);
  const h = digits(v, 11, 13);
  const mi = digits(v, 14, 16);
  const s = digits(v, 17, 19);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= (mo === 2 && leap ? 29 : (DAYS_IN_MONTH[mo - 1] ?? 0));
}

/** ISO-8601 date-time with a zone (`Z` or `±hh:mm`), as the REST and GraphQL APIs send. */
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** Epoch ms of an ISO-8601 timestamp with a zone; undefined when it is not one or not a real date. */
export function parseIsoTime(value: string): number | undefined {
  const m = ISO.exec(value);
  if (m === null) return undefined;
  const t = Date.parse(value);
  if (!Number.isFinite(t)) return undefined;
  // Date.parse rolls 2019-02-30 over to March: the calendar fields must read back unchanged.
  const check = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  const sameDay = check.getUTCFullYear() === Number(m[1]) && check.getUTCMonth() === Number(m[2]) - 1 && check.getUTCDate() === Number(m[3]);
  const sane = Number(m[4]) <= 23 && Number(m[5]) <= 59 && Number(m[6]) <= 59 && (m[7] === undefined || (Number(m[7]) <= 23 && Number(m[8]) <= 59));
  return sameDay && sane ? t : undefined;
}

/** Either timestamp form an audit event arrives in. */
export function isAuditTime(value: string): boolean {
  return isBuildkiteTime(value) || parseIsoTime(value) !== undefined;
}

export const BuildkiteTimestamp = z.string().check(z.refine(isBuildkiteTime, { message: 'expected a timestamp like "2019-08-11 06:01:16 UTC"' }));

const ts = z.nullish(BuildkiteTimestamp);
const str = z.nullish(z.string());

export const Organization = z.object({
  uuid: z.string(),
  graphql_id: str,
  slug: z.string(),
});

export const Pipeline = z.object({
  uuid: z.string(),
  graphql_id: str,
  slug: z.string(),
  repo: str,
});

export const Build = z.object({
  uuid: z.string(),
  graphql_id: str,
  number: z.int(),
  commit: str,
  message: str,
  branch: str,
  state: z.string(),
  blocked_state: str,
  source: str,
  started_at: ts,
  failing_at: ts,
  finished_at: ts,
  meta_data: z.nullish(z.record(z.string(), z.unknown())),
});

const UserRef = z.object({ uuid: z.string(), graphql_id: str, name: str });

export const Job = z.object({
  uuid: z.string(),
  graphql_id: str,
  type: z.string(),
  label: str,
  step_key: str,
  command: str,
  agent_query_rules: z.nullish(z.array(z.string())),
  exit_status: z.nullish(z.int()),
  signal_reason: str,
  passed: z.nullish(z.boolean()),
  soft_failed: z.nullish(z.boolean()),
  state: z.string(),
  broken_reason: str,
  runnable_at: ts,
  started_at: ts,
  finished_at: ts,
  unblocked_by: z.nullish(UserRef),
  retried_in_job_id: str,
  promised_exit_status: z.nullish(z.int()),
  promised_exit_status_at: ts,
});

export const AgentToken = z.object({
  uuid: z.string(),
  created_at: ts,
  description: str,
});

export const ClusterToken = z.object({
  uuid: z.string(),
  description: str,
  allowed_ip_addresses: str,
});

export const Agent = z.object({
  uuid: z.string(),
  graphql_id: str,
  connection_state: str,
  name: str,
  version: str,
  ip_address: str,
  hostname: str,
  pid: z.nullish(z.union([z.string(), z.number()])),
  priority: z.nullish(z.number()),
  meta_data: z.nullish(z.array(z.string())),
  connected_at: ts,
  disconnected_at: ts,
  lost_at: ts,
});

/**
 * An audit event's context with EventBridge's key names (lib/contracts/audit-drift.ts renames the
 * GraphQL AuditContext types' fields to these): the request and session, plus the API access
 * token (AuditAPIContext) and the agent (AuditAgentAPIContext) the request authenticated as.
 */
export const AuditContext = z.object({
  request_id: str,
  request_ip: str,
  request_user_agent: str,
  session_user_uuid: str,
  session_key: str,
  session_created_at: str,
  api_access_token_uuid: str,
  agent_uuid: str,
});
export type AuditContext = z.infer<typeof AuditContext>;

/** Audit events arrive with either form (ISO-8601 from the REST and GraphQL APIs); see audit-drift.ts. */
export const AuditTimestamp = z.string().check(z.refine(isAuditTime, { message: 'expected a timestamp like "2019-08-11 06:01:16 UTC" or ISO-8601 "2019-08-11T06:01:16Z"' }));

export const AuditEvent = z.object({
  uuid: z.string(),
  occurred_at: AuditTimestamp,
  type: z.string().check(z.minLength(1)),
  data: z.nullish(z.record(z.string(), z.unknown())),
  subject_type: str,
  subject_uuid: str,
  subject_name: str,
  /** A JSON-encoded string on EventBridge (an object in the REST API); parsed by the normalizer. */
  context: z.nullish(z.union([z.string(), z.record(z.string(), z.unknown())])),
});

export const AuditActor = z.object({
  name: str,
  type: str,
  uuid: str,
});

const base = { version: z.optional(z.int()) };

export const BuildDetail = z.object({ ...base, build: Build, pipeline: Pipeline, organization: Organization });
export const JobDetail = z.object({
  ...base,
  job: Job,
  build: Build,
  pipeline: Pipeline,
  organization: Organization,
  agent: z.nullish(z.object({ uuid: z.string() })),
  promised_exit_status_reason: str,
});
export const AgentDetail = z.object({
  ...base,
  agent: Agent,
  organization: Organization,
  token: z.nullish(AgentToken),
});
export const AgentBlockedDetail = z.object({
  ...base,
  blocked_ip: z.string(),
  cluster_token: ClusterToken,
  agent: Agent,
  organization: Organization,
});
export const ClusterTokenRegistrationBlockedDetail = z.object({
  ...base,
  blocked_ip: z.string(),
  cluster_token: ClusterToken,
  organization: Organization,
  // Not in Buildkite's example, but the mapper reads an agent when one is there: it must be one.
  agent: z.optional(Agent),
});
export const AuditEventLoggedDetail = z.object({
  ...base,
  organization: Organization,
  event: AuditEvent,
  actor: z.nullish(AuditActor),
});
/** An unknown detail-type: all we insist on is an object; organization when it looks like one. */
export const UnknownDetail = z.object({ organization: z.optional(Organization) });

export type BuildDetail = z.infer<typeof BuildDetail>;
export type JobDetail = z.infer<typeof JobDetail>;
export type AgentDetail = z.infer<typeof AgentDetail>;
export type AgentBlockedDetail = z.infer<typeof AgentBlockedDetail>;
export type ClusterTokenRegistrationBlockedDetail = z.infer<typeof ClusterTokenRegistrationBlockedDetail>;
export type AuditEventLoggedDetail = z.infer<typeof AuditEventLoggedDetail>;
export type UnknownDetail = z.infer<typeof UnknownDetail>;

/** The 18 detail-types Buildkite documents, with the schema of each one's `detail`. */
export const DETAIL_SCHEMAS = {
  'Build Created': BuildDetail,
  'Build Started': BuildDetail,
  'Build Blocked': BuildDetail,
  'Build Failing': BuildDetail,
  'Build Finished': BuildDetail,
  'Job Scheduled': JobDetail,
  'Job Started': JobDetail,
  'Job Finished': JobDetail,
  'Job Activated': JobDetail,
  'Job Promised Exit Status': JobDetail,
  'Agent Connected': AgentDetail,
  'Agent Disconnected': AgentDetail,
  'Agent Lost': AgentDetail,
  'Agent Stopped': AgentDetail,
  'Agent Stopping': AgentDetail,
  'Agent Blocked': AgentBlockedDetail,
  'Cluster Token Registration Blocked': ClusterTokenRegistrationBlockedDetail,
  'Audit Event Logged': AuditEventLoggedDetail,
} as const;

export type KnownDetailType = keyof typeof DETAIL_SCHEMAS;
export const KNOWN_DETAIL_TYPES = Object.keys(DETAIL_SCHEMAS) as KnownDetailType[];

export function isKnownDetailType(value: string): value is KnownDetailType {
  return Object.hasOwn(DETAIL_SCHEMAS, value);
}

export const BUILDKITE_SOURCE_PREFIX = 'aws.partner/buildkite.com/';

/** The EventBridge envelope. `time` is ISO 8601; `detail` must be an object. */
export const EventBridgeEnvelope = z.object({
  version: z.optional(z.string()),
  id: z.string().check(z.minLength(1)),
  'detail-type': z.string().check(z.minLength(1)),
  source: z.string().check(z.minLength(1)),
  account: z.optional(z.string()),
  time: z.iso.datetime({ offset: true }),
  region: z.optional(z.string()),
  resources: z.optional(z.array(z.string())),
  detail: z.record(z.string(), z.unknown()),
});
export type EventBridgeEnvelope = z.infer<typeof EventBridgeEnvelope>;

/**
 * The same schemas as allocation-free checks for the hot path (lib/contracts/guard.ts): the
 * normalizer runs zod only for an input a guard rejects, to say why.
 */
export const ENVELOPE_GUARD: Guard = compileGuard(EventBridgeEnvelope);
const guardOf = new Map<z.ZodMiniType, Guard>(); // 18 detail-types share 6 schemas: compile each once (cold start)
export const DETAIL_GUARDS = Object.fromEntries(Object.entries(DETAIL_SCHEMAS).map(([k, s]) => [k, guardOf.get(s) ?? guardOf.set(s, compileGuard(s)).get(s)])) as Record<KnownDetailType, Guard>;
export const UNKNOWN_DETAIL_GUARD: Guard = compileGuard(UnknownDetail);

/** EventBridge's PutEvents limit for one entry; larger events cannot have come from it. */
export const EVENTBRIDGE_MAX_EVENT_BYTES = 256 * 1024;

/** `aws.partner/buildkite.com/<org-slug>/<id>` -> org slug. */
export function orgSlugFromSource(source: string): string | undefined {
  if (!source.startsWith(BUILDKITE_SOURCE_PREFIX)) return undefined;
  const slug = source.slice(BUILDKITE_SOURCE_PREFIX.length).split('/')[0];
  return slug === undefined || slug === '' || slug === '...' ? undefined : slug;
}
