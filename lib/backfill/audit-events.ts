import { canonicalAuditType, eventBridgeContext } from '../contracts/audit-drift.ts';
import { BUILDKITE_SOURCE_PREFIX, parseBuildkiteTime, parseIsoTime } from '../contracts/buildkite.ts';
import { apiPath, joinUrl, nextLink, type BuildkiteClient, type RestResponse } from '../buildkite/client.ts';
import { BuildkiteApiError, BuildkiteRequestError, MissingBuildkiteTokenError } from '../buildkite/errors.ts';
import { deterministicUid } from '../ocsf/common.ts';

/**
 * Backfill: Buildkite's REST audit-events API (`GET /v2/organizations/{org}/audit_events`,
 * newest first, cursor pages) read for a time window, each item turned into the envelope
 * Buildkite's EventBridge integration sends, so it runs through the same pipeline as live
 * delivery. The OCSF uid of an audit event is keyed on its uuid alone, so an event both
 * delivered live and backfilled is the same event downstream (never counted twice).
 */

export interface OrgRef {
  readonly uuid: string;
  readonly graphql_id?: string | null;
  readonly slug: string;
}

export interface EnvelopeOptions {
  /** The partner event source (config aws.partnerEventBusName); default `aws.partner/buildkite.com/<org>/backfill`. */
  readonly source?: string | undefined;
  readonly account?: string | undefined;
  readonly region?: string | undefined;
}

/** Per page, the API's maximum. */
export const PER_PAGE = 100;
/** A runaway guard: 10,000 pages is a million events. */
export const MAX_PAGES = 10_000;

const SLUG = /^[a-z0-9][a-z0-9-]{0,99}$/;

export function isOrgSlug(value: string): boolean {
  return SLUG.test(value);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Epoch ms of an audit timestamp in either form. */
export function auditTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  return parseIsoTime(value) ?? parseBuildkiteTime(value);
}

/** `2024-11-12 09:15:04 UTC` (with milliseconds only when there are some), as EventBridge's detail has it. */
function buildkiteTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  const frac = iso.slice(20, 23);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac === '000' ? '' : `.${frac}`} UTC`;
}

/**
 * One REST audit-events item as the `Audit Event Logged` envelope of the EventBridge
 * integration: detail.event with subject_*, a JSON-string context with EventBridge's key names,
 * the AuditEventType enum value, a Buildkite-format occurred_at, and actor beside the event.
 * What the item has beyond that stays (the normalizer keeps it in unmapped); what it lacks or
 * breaks is left for the normalizer to quarantine with a reason.
 */
export function restItemToEnvelope(item: unknown, org: OrgRef, options: EnvelopeOptions = {}): Record<string, unknown> {
  const it: Record<string, unknown> = isRecord(item) ? item : {};
  const uuid = str(it['uuid']) ?? '';
  const at = auditTime(it['occurred_at']);
  const type = typeof it['type'] === 'string' ? canonicalAuditType(it['type']).type : it['type'];
  const subject = isRecord(it['subject']) ? it['subject'] : {};
  const actor = isRecord(it['actor']) ? { name: str(it['actor']['name']), type: str(it['actor']['type']), uuid: str(it['actor']['uuid']) } : null;
  const context = it['context'];
  const { subject: _s, actor: _a, context: _c, type: _t, occurred_at: _o, uuid: _u, ...rest } = it;
  const event: Record<string, unknown> = {
    uuid: it['uuid'],
    occurred_at: at === undefined ? it['occurred_at'] : buildkiteTime(at),
    type,
    data: isRecord(it['data']) ? it['data'] : null,
    subject_type: str(subject['type']),
    subject_uuid: str(subject['uuid']),
    subject_name: str(subject['name']),
    context: isRecord(context) ? JSON.stringify(eventBridgeContext(context)) : (context ?? null),
    ...rest,
  };
  const envelope: Record<string, unknown> = {
    version: '0',
    // EventBridge's own id is not in the API; one per audit event keeps a re-run identical.
    id: deterministicUid('buildkite-backfill', uuid),
    'detail-type': 'Audit Event Logged',
    source: options.source ?? `${BUILDKITE_SOURCE_PREFIX}${org.slug}/backfill`,
    time: at === undefined ? new Date(0).toISOString().replace('.000', '') : new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    resources: [],
    detail: {
      version: 1,
      organization: { uuid: org.uuid, graphql_id: org.graphql_id ?? null, slug: org.slug },
      event,
      actor,
    },
  };
  if (options.account !== undefined) envelope['account'] = options.account;
  if (options.region !== undefined) envelope['region'] = options.region;
  return envelope;
}

export interface Window {
  /** Inclusive, epoch ms. */
  readonly since: number;
  /** Inclusive, epoch ms. */
  readonly until: number;
}

export interface FetchedItem {
  readonly item: unknown;
  readonly page: number;
}

/**
 * The organization's uuid, which the REST audit items do not carry (EventBridge's detail does).
 * Needs read_organizations; without it the slug stands in, and the caller says so.
 */
export async function fetchOrganization(client: BuildkiteClient, slug: string): Promise<{ org: OrgRef; exact: boolean }> {
  try {
    const res = await client.rest<Record<string, unknown>>('getOrganization', 'GET', apiPath`/v2/organizations/${slug}`);
    const body = isRecord(res.body) ? res.body : {};
    const uuid = str(body['id']) ?? str(body['uuid']);
    if (uuid !== null) return { org: { uuid, graphql_id: str(body['graphql_id']), slug }, exact: true };
  } catch (error) {
    if (!(error instanceof BuildkiteApiError) || (error.status !== 403 && error.status !== 401)) throw error;
  }
  return { org: { uuid: slug, slug }, exact: false };
}

/**
 * Every audit event in the window, newest first, page by page: `links.next` in the body, or
 * `Link: rel="next"`. Stops at the first item older than `since` (the API is newest first).
 * The token goes only to the configured API's origin, whatever a next link says.
 */
export async function* fetchAuditEvents(client: BuildkiteClient, slug: string, window: Window): AsyncGenerator<FetchedItem> {
  let url: URL | undefined = joinUrl(client.apiUrl, apiPath`/v2/organizations/${slug}/audit_events`);
  url.searchParams.set('per_page', String(PER_PAGE));
  const origin = url.origin;
  for (let page = 1; url !== undefined; page++) {
    if (page > MAX_PAGES) throw new Error(`more than ${MAX_PAGES} pages of audit events; narrow --since/--until`);
    const res: RestResponse<unknown> = await client.restUrl<unknown>('listAuditEvents', 'GET', url);
    const body: unknown = res.body;
    const items: unknown[] = Array.isArray(body) ? body : isRecord(body) && Array.isArray(body['items']) ? body['items'] : [];
    if (!Array.isArray(body) && !(isRecord(body) && Array.isArray(body['items']))) {
      throw new BuildkiteApiError({ call: 'listAuditEvents', method: 'GET', path: url.pathname, status: res.status, apiMessage: 'expected a list of audit events (a JSON array or {"items": [...]})' });
    }
    let older = false;
    for (const item of items) {
      const t = auditTime(isRecord(item) ? item['occurred_at'] : undefined);
      if (t !== undefined && t < window.since) {
        older = true;
        continue;
      }
      if (t !== undefined && t > window.until) continue;
      // An item without a readable time is kept: the normalizer quarantines it with the reason.
      yield { item, page };
    }
    if (older || items.length === 0) return;
    const links: Record<string, unknown> | undefined = isRecord(body) && isRecord(body['links']) ? body['links'] : undefined;
    const next: string | undefined = (links !== undefined ? (str(links['next']) ?? undefined) : undefined) ?? nextLink(res.headers);
    url = next !== undefined && URL.canParse(next) && new URL(next).origin === origin ? new URL(next) : undefined;
  }
}

/** What an operator should do about an API refusal: the status, and the usual causes. */
export function describeApiFailure(error: unknown, slug: string): string {
  if (error instanceof MissingBuildkiteTokenError) return `${error.message}; create a token with the read_audit_events scope`;
  if (error instanceof BuildkiteApiError) {
    const api = error.apiMessage === undefined ? '' : ` (${error.apiMessage})`;
    switch (error.status) {
      case 401:
        return `the Buildkite API refused the token: HTTP 401${api}; check BUILDKITE_API_TOKEN`;
      case 403:
        return `the Buildkite API refused access: HTTP 403${api}; the audit log needs the Enterprise plan, an organization administrator's token, and the read_audit_events scope`;
      case 404:
        return `the Buildkite API found no organization "${slug}": HTTP 404${api}; check --org (the slug in buildkite.com/<slug>) and that the token can see it`;
      case 429:
        return `the Buildkite API kept rate-limiting: HTTP 429${api}${error.retryAfterSeconds !== undefined ? `; the limit resets in ${error.retryAfterSeconds} s` : ''}; run again later or narrow --since/--until`;
      default:
        return `the Buildkite API failed: HTTP ${error.status}${api}; run again later`;
    }
  }
  if (error instanceof BuildkiteRequestError) return `${error.message}; check --buildkite-api-url and the network`;
  return `backfill failed: ${(error as Error).message ?? String(error)}`;
}
