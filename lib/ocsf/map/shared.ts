import type { EventBridgeEnvelope } from '../../contracts/buildkite.ts';
import { OCSF_VERSION, type OcsfMetadata, type OcsfResource } from '../types.ts';
import { addLeftover } from '../common.ts';

export const PRODUCT = { name: 'Buildkite Pipelines', vendor_name: 'Buildkite' } as const;

export interface Org {
  uuid: string;
  slug: string;
  graphql_id?: string | null | undefined;
  [k: string]: unknown;
}

/** What every mapper receives besides its typed detail. */
export interface MapContext {
  readonly envelope: EventBridgeEnvelope;
  readonly detailType: string;
  /** Deterministic OCSF uid of this event. */
  readonly uid: string;
  /** Event time, epoch ms. */
  readonly time: number;
  /** `Date.parse(envelope.time)` when the caller has computed it already. */
  readonly envelopeTime?: number;
}

/** The OCSF profiles a Buildkite event declares: `cloud` (the EventBridge account and region). */
export const BUILDKITE_PROFILES: readonly string[] = ['cloud'];

export function metadata(ctx: MapContext, opts: { eventCode: string; originalUid: string; logName: string; org?: Org | undefined; originalTime?: string }): OcsfMetadata {
  // Built directly, in the emitted order; only tenant_uid and logged_time can be missing.
  const m: OcsfMetadata = {
    version: OCSF_VERSION,
    product: { name: PRODUCT.name, vendor_name: PRODUCT.vendor_name, feature: { name: ctx.detailType } },
    uid: ctx.uid,
    original_event_uid: opts.originalUid,
  };
  const tenant = opts.org?.uuid;
  if (tenant !== undefined && tenant !== null) m.tenant_uid = tenant;
  m.event_code = opts.eventCode;
  m.log_name = opts.logName;
  m.log_provider = 'Amazon EventBridge';
  m.original_time = opts.originalTime ?? ctx.envelope.time;
  // When EventBridge received it: news only when it is not the event's own time (audit events).
  const logged = ctx.envelopeTime ?? Date.parse(ctx.envelope.time);
  if (Number.isFinite(logged) && logged !== ctx.time) m.logged_time = logged;
  m.profiles = BUILDKITE_PROFILES as string[];
  return m;
}

/** Where the event was received: the EventBridge account and region (the `cloud` profile). */
export function cloudOf(env: EventBridgeEnvelope): Record<string, unknown> {
  const c: Record<string, unknown> = { provider: 'AWS' };
  if (typeof env.account === 'string' && env.account !== '') c['account'] = { uid: env.account };
  if (typeof env.region === 'string' && env.region !== '') c['region'] = env.region;
  return c;
}

/** Envelope fields that have no OCSF place, kept for the analyst (id, detail-type, account, region have one). */
export function envelopeUnmapped(env: EventBridgeEnvelope): Record<string, unknown> {
  const out: Record<string, unknown> = { source: env.source };
  if (env.resources !== undefined && env.resources.length > 0) out['resources'] = env.resources;
  return addLeftover(out, env, ['version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail']);
}

/**
 * Buildkite's GraphQL ids are base64 of `<Type>---<uuid>`: pure duplicates when the uuid is the
 * object's own. Anything else (a format change) is kept.
 */
export function redundantGraphqlId(graphqlId: unknown, uuid: unknown): boolean {
  if (typeof graphqlId !== 'string' || typeof uuid !== 'string' || uuid === '') return false;
  // Latin-1 of the decoded bytes: never throws, and a uuid is ASCII.
  const decoded = Buffer.from(graphqlId, 'base64').toString('latin1');
  return decoded.length === decoded.indexOf('---') + 3 + uuid.length && decoded.endsWith(uuid);
}

/** `leftover(obj, consumed)` without a `graphql_id` that only re-encodes `obj.uuid` (one pass, no array copies). */
export function entityLeftover(obj: Record<string, unknown>, consumed: readonly string[]): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  for (const k in obj) {
    const v = obj[k];
    if (v === null || v === undefined || consumed.includes(k)) continue;
    if (k === 'graphql_id' && redundantGraphqlId(v, obj['uuid'])) continue;
    out ??= {};
    out[k] = v;
  }
  return out;
}

export function resource(uid: string, type: string, name: string | null | undefined, data?: Record<string, unknown>): OcsfResource {
  const r: OcsfResource = { uid, type };
  if (name !== null && name !== undefined && name !== '') r.name = name;
  if (data !== undefined && Object.keys(data).length > 0) r.data = data;
  return r;
}

export function orgResource(org: Org): OcsfResource {
  return resource(org.uuid, 'Organization', org.slug, entityLeftover(org, ['uuid', 'slug']));
}
