import { createHash } from 'node:crypto';
import type { AwsSecurityFinding, Resource, SeverityLabel } from '@aws-sdk/client-securityhub';
import type { OcsfEvent } from '../ocsf/types.ts';
import { orgSlugOf } from './hec.ts';

/**
 * OCSF 2004 Detection Finding -> AWS Security Finding Format (ASFF) for BatchImportFindings.
 *
 * - `Id` is derived from `finding_info.uid` only, so a finding's Update and Close map onto the
 *   finding its Create made (Security Hub upserts by ProductArn + Id).
 * - Close (activity 3), or an OCSF status Resolved/Archived/Deleted, sets `RecordState` ARCHIVED.
 *   `Workflow` belongs to the analyst after creation (BatchImportFindings cannot change it), so it
 *   is set to NEW on Create only.
 * - Severity and Types also go in `FindingProviderFields`, the provider's channel for updating them.
 */

export const ASFF_SCHEMA_VERSION = '2018-10-08';
const ID_PREFIX = 'kitewatch/';

/** Limits of BatchImportFindings and ASFF (Security Hub API reference). */
export const ASFF_LIMITS = {
  findingsPerCall: 100,
  findingBytes: 240 * 1024,
  id: 512,
  generatorId: 512,
  title: 256,
  description: 1024,
  resources: 32,
  types: 50,
  productFields: 50,
  productFieldKey: 128,
  productFieldValue: 2048,
  resourceType: 256,
  detailsOtherValue: 1024,
} as const;

export interface AsffContext {
  readonly accountId: string;
  readonly region: string;
  /** @default 'aws' */
  readonly partition?: string | undefined;
}

/** The default product ARN of a custom integration in this account. */
export function productArn(ctx: AsffContext): string {
  return `arn:${ctx.partition ?? 'aws'}:securityhub:${ctx.region}:${ctx.accountId}:product/${ctx.accountId}/default`;
}

/** Stable ASFF Id: `kitewatch/<finding_info.uid>`, or its SHA-256 when too long to fit. */
export function asffId(findingUid: string): string {
  const id = `${ID_PREFIX}${findingUid}`;
  return id.length <= ASFF_LIMITS.id ? id : `${ID_PREFIX}sha256:${createHash('sha256').update(findingUid, 'utf8').digest('hex')}`;
}

/** Cuts at a code point boundary and marks the cut. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return `${chars.slice(0, max - 1).join('')}…`;
}

const SEVERITY_LABELS: Readonly<Record<number, SeverityLabel>> = {
  0: 'INFORMATIONAL',
  1: 'INFORMATIONAL',
  2: 'LOW',
  3: 'MEDIUM',
  4: 'HIGH',
  5: 'CRITICAL',
  6: 'CRITICAL',
  99: 'INFORMATIONAL',
};

export function severityLabel(severityId: number): SeverityLabel {
  return SEVERITY_LABELS[severityId] ?? 'INFORMATIONAL';
}

/** ASFF `TTPs` categories, which are MITRE ATT&CK tactic names. */
const TTP_CATEGORIES = new Set([
  'Initial Access',
  'Execution',
  'Persistence',
  'Privilege Escalation',
  'Defense Evasion',
  'Credential Access',
  'Discovery',
  'Lateral Movement',
  'Collection',
  'Command and Control',
]);
/** Tactics ASFF files under Effects instead. */
const EFFECT_CATEGORIES: Readonly<Record<string, string>> = { Exfiltration: 'Data Exfiltration' };
/** Entities whose misuse is user behavior; anything else is application behavior. */
const USER_ENTITIES = new Set(['Actor', 'ApiToken', 'AgentToken', 'ClusterToken', 'SsoProvider']);

interface Named {
  uid?: unknown;
  name?: unknown;
}
interface Attack {
  tactic?: Named;
  technique?: Named;
  sub_technique?: Named;
}
interface FindingInfo {
  uid: string;
  title?: unknown;
  desc?: unknown;
  analytic?: Named;
  attacks?: Attack[];
  types?: unknown;
  created_time?: unknown;
  modified_time?: unknown;
  first_seen_time?: unknown;
  last_seen_time?: unknown;
  src_url?: unknown;
}
interface FindingResourceLike {
  uid?: unknown;
  name?: unknown;
  type?: unknown;
  data?: { role?: unknown } | null;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}
function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
/** `/` separates the parts of an ASFF type; it must not appear inside one. */
function typePart(text: string): string {
  return truncate(text.replaceAll('/', '-').trim(), 128);
}

export class AsffMappingError extends Error {
  override readonly name = 'AsffMappingError';
}

function findingInfoOf(finding: OcsfEvent): FindingInfo {
  const info = finding['finding_info'] as FindingInfo | undefined;
  if (finding.class_uid !== 2004) throw new AsffMappingError(`class_uid ${finding.class_uid} is not a Detection Finding (2004)`);
  if (info === undefined || str(info.uid) === undefined) throw new AsffMappingError('finding_info.uid is missing');
  return info;
}

function typesOf(info: FindingInfo, resources: readonly FindingResourceLike[]): string[] {
  const types = new Set<string>();
  for (const attack of info.attacks ?? []) {
    const tactic = str(attack.tactic?.name);
    if (tactic === undefined) continue;
    const technique = [str(attack.technique?.uid), str(attack.technique?.name)].filter((x) => x !== undefined).join(' ');
    const classifier = typePart(technique === '' ? tactic : technique);
    if (TTP_CATEGORIES.has(tactic)) types.add(`TTPs/${tactic}/${classifier}`);
    else if (EFFECT_CATEGORIES[tactic] !== undefined) types.add(`Effects/${EFFECT_CATEGORIES[tactic]}/${classifier}`);
  }
  if (types.size === 0) {
    const target = resources.find((r) => r.data?.role === 'target') ?? resources[0];
    const category = typeof target?.type === 'string' && USER_ENTITIES.has(target.type) ? 'User' : 'Application';
    const classifier = str(info.analytic?.name) ?? str(info.analytic?.uid) ?? 'Kitewatch detection';
    types.add(`Unusual Behaviors/${category}/${typePart(classifier)}`);
  }
  return [...types].slice(0, ASFF_LIMITS.types);
}

const ROLE_ORDER: Readonly<Record<string, number>> = { target: 0, implicated: 1, related: 2 };

function resourcesOf(finding: OcsfEvent): { resources: Resource[]; omitted: number } {
  const all = ((finding.resources ?? []) as FindingResourceLike[])
    .map((r, i) => ({ r, i, id: str(r.uid) ?? str(r.name) }))
    .filter((x): x is { r: FindingResourceLike; i: number; id: string } => x.id !== undefined)
    // Targets first, so a cut at 32 drops context, never the entity the finding is about.
    .sort((a, b) => (ROLE_ORDER[String(a.r.data?.role)] ?? 3) - (ROLE_ORDER[String(b.r.data?.role)] ?? 3) || a.i - b.i);
  const seen = new Set<string>();
  const unique = all.filter((x) => (seen.has(x.id) ? false : (seen.add(x.id), true)));
  const toResource = (r: FindingResourceLike, id: string): Resource => {
    const other: Record<string, string> = {};
    const type = str(r.type);
    const name = str(r.name);
    const role = str(r.data?.role);
    if (type !== undefined) other['type'] = truncate(type, ASFF_LIMITS.detailsOtherValue);
    if (name !== undefined) other['name'] = truncate(name, ASFF_LIMITS.detailsOtherValue);
    if (role !== undefined) other['role'] = role;
    // Buildkite entities live in no AWS partition or region, so neither is claimed.
    return { Type: 'Other', Id: id, ...(Object.keys(other).length > 0 ? { Details: { Other: other } } : {}) };
  };
  const resources = unique.slice(0, ASFF_LIMITS.resources).map(({ r, id }) => toResource(r, id));
  if (resources.length === 0) {
    // ASFF requires at least one resource: the organization the finding belongs to.
    const org = str(finding.metadata.tenant_uid) ?? 'buildkite';
    resources.push(toResource({ uid: org, type: 'Organization', name: orgSlugOf(finding) }, org));
  }
  return { resources, omitted: Math.max(0, unique.length - ASFF_LIMITS.resources) };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function productFields(entries: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entries)) {
    if (v === undefined || v === '') continue;
    if (Object.keys(out).length >= ASFF_LIMITS.productFields) break;
    out[truncate(`kitewatch/${k}`, ASFF_LIMITS.productFieldKey)] = truncate(v, ASFF_LIMITS.productFieldValue);
  }
  return out;
}

/** OCSF Detection Finding status ids that mean the finding is over. */
const CLOSED_STATUS_IDS = new Set([4, 5, 6]);
const CLOSE_ACTIVITY = 3;
const CREATE_ACTIVITY = 1;

export function toAsff(finding: OcsfEvent, ctx: AsffContext): AwsSecurityFinding {
  const info = findingInfoOf(finding);
  const { resources, omitted } = resourcesOf(finding);
  const types = typesOf(info, finding.resources ?? []);
  const label = severityLabel(finding.severity_id);
  const createdMs = num(info.created_time) ?? num(info.first_seen_time) ?? finding.time;
  const updatedMs = Math.max(num(info.modified_time) ?? finding.time, finding.time, createdMs);
  const firstSeen = num(info.first_seen_time);
  const lastSeen = num(info.last_seen_time);
  const analyticUid = str(info.analytic?.uid);
  const analyticName = str(info.analytic?.name);
  const title = str(info.title) ?? str(finding.message) ?? analyticName ?? 'Kitewatch detection finding';
  const description = str(info.desc) ?? str(finding.message) ?? title;
  const closed = finding.activity_id === CLOSE_ACTIVITY || CLOSED_STATUS_IDS.has(finding.status_id ?? -1);
  const confidence = num(finding['confidence_score']);
  const techniques = (info.attacks ?? []).map((a) => str(a.technique?.uid)).filter((x) => x !== undefined);
  const srcUrl = str(info.src_url);
  const severity = { Label: label, ...(str(finding.severity) !== undefined ? { Original: finding.severity as string } : {}) };
  return {
    SchemaVersion: ASFF_SCHEMA_VERSION,
    Id: asffId(info.uid),
    ProductArn: productArn(ctx),
    ProductName: 'Kitewatch',
    CompanyName: 'Kitewatch',
    GeneratorId: truncate(analyticUid ?? analyticName ?? 'kitewatch', ASFF_LIMITS.generatorId),
    AwsAccountId: ctx.accountId,
    Types: types,
    CreatedAt: iso(createdMs),
    UpdatedAt: iso(updatedMs),
    ...(firstSeen !== undefined ? { FirstObservedAt: iso(firstSeen) } : {}),
    ...(lastSeen !== undefined ? { LastObservedAt: iso(lastSeen) } : {}),
    Severity: severity,
    ...(confidence !== undefined ? { Confidence: Math.max(0, Math.min(100, Math.round(confidence))) } : {}),
    Title: truncate(title, ASFF_LIMITS.title),
    Description: truncate(description, ASFF_LIMITS.description),
    ...(srcUrl !== undefined && URL.canParse(srcUrl) ? { SourceUrl: srcUrl } : {}),
    ProductFields: productFields({
      FindingUid: info.uid,
      EventUid: finding.metadata.uid,
      Activity: str(finding.activity_name) ?? String(finding.activity_id),
      AnalyticUid: analyticUid,
      AnalyticName: analyticName,
      OrgUid: str(finding.metadata.tenant_uid),
      OrgSlug: orgSlugOf(finding),
      CorrelationUid: str(finding.metadata.correlation_uid),
      MitreTechniques: techniques.length > 0 ? techniques.join(',') : undefined,
      ResourcesOmitted: omitted > 0 ? String(omitted) : undefined,
    }),
    Resources: resources,
    RecordState: closed ? 'ARCHIVED' : 'ACTIVE',
    ...(finding.activity_id === CREATE_ACTIVITY && !closed ? { Workflow: { Status: 'NEW' } } : {}),
    FindingProviderFields: {
      Severity: severity,
      Types: types,
      ...(confidence !== undefined ? { Confidence: Math.max(0, Math.min(100, Math.round(confidence))) } : {}),
    },
  };
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const TYPE_NAMESPACES = ['Software and Configuration Checks', 'TTPs', 'Effects', 'Unusual Behaviors', 'Sensitive Data Identifications'];

/**
 * What BatchImportFindings rejects, as error strings (empty: valid): required attributes, lengths,
 * counts, formats, and the 240 KB size. Checked before sending so a bad finding fails alone.
 */
export function asffProblems(f: AwsSecurityFinding): string[] {
  const p: string[] = [];
  const need = (name: keyof AwsSecurityFinding, max?: number, min = 1): void => {
    const v = f[name];
    if (typeof v !== 'string' || v.length < min) p.push(`${name} is required`);
    else if (max !== undefined && Array.from(v).length > max) p.push(`${name} is longer than ${max}`);
  };
  if (f.SchemaVersion !== ASFF_SCHEMA_VERSION) p.push(`SchemaVersion must be ${ASFF_SCHEMA_VERSION}`);
  need('Id', ASFF_LIMITS.id);
  need('ProductArn', 2048, 12);
  need('GeneratorId', ASFF_LIMITS.generatorId);
  need('Title', ASFF_LIMITS.title);
  need('Description', ASFF_LIMITS.description);
  if (!/^\d{12}$/.test(f.AwsAccountId ?? '')) p.push('AwsAccountId must be 12 digits');
  for (const k of ['CreatedAt', 'UpdatedAt', 'FirstObservedAt', 'LastObservedAt'] as const) {
    const v = f[k];
    if (v === undefined) {
      if (k === 'CreatedAt' || k === 'UpdatedAt') p.push(`${k} is required`);
    } else if (!ISO.test(v)) p.push(`${k} must be an ISO 8601 UTC timestamp`);
  }
  if (f.CreatedAt !== undefined && f.UpdatedAt !== undefined && f.UpdatedAt < f.CreatedAt) p.push('UpdatedAt is before CreatedAt');
  if (f.Severity?.Label === undefined && f.Severity?.Normalized === undefined) p.push('Severity.Label is required');
  const types = f.Types ?? [];
  if (types.length === 0) p.push('Types is required');
  if (types.length > ASFF_LIMITS.types) p.push(`more than ${ASFF_LIMITS.types} Types`);
  for (const t of types) {
    const parts = t.split('/');
    if (parts.length < 2 || parts.length > 3 || parts.some((x) => x === '') || !TYPE_NAMESPACES.includes(parts[0] ?? '')) {
      p.push(`Type "${t}" is not namespace/category/classifier`);
    }
  }
  const resources = f.Resources ?? [];
  if (resources.length === 0) p.push('Resources needs at least one resource');
  if (resources.length > ASFF_LIMITS.resources) p.push(`more than ${ASFF_LIMITS.resources} Resources`);
  for (const r of resources) {
    if (r.Id === undefined || r.Id === '') p.push('a resource has no Id');
    if (r.Type === undefined || r.Type === '' || r.Type.length > ASFF_LIMITS.resourceType) p.push('a resource Type is missing or too long');
  }
  const fields = Object.entries(f.ProductFields ?? {});
  if (fields.length > ASFF_LIMITS.productFields) p.push(`more than ${ASFF_LIMITS.productFields} ProductFields`);
  for (const [k, v] of fields) {
    if (Array.from(k).length > ASFF_LIMITS.productFieldKey) p.push(`ProductFields key "${k.slice(0, 40)}..." is too long`);
    if (Array.from(v).length > ASFF_LIMITS.productFieldValue) p.push(`ProductFields value of "${k}" is too long`);
  }
  if (f.RecordState !== undefined && f.RecordState !== 'ACTIVE' && f.RecordState !== 'ARCHIVED') p.push('RecordState must be ACTIVE or ARCHIVED');
  const bytes = Buffer.byteLength(JSON.stringify(f), 'utf8');
  if (bytes > ASFF_LIMITS.findingBytes) p.push(`finding is ${bytes} bytes, over the 240 KB limit`);
  return p;
}

/** Splits into chunks of at most `size`, order kept. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
