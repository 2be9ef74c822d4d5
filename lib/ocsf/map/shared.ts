import type { EventBridgeEnvelope } from '../../contracts/buildkite.ts';
import { OCSF_VERSION, type OcsfMetadata, type OcsfResource } from '../types.ts';
import { addLeftover, compact, leftover, type Observables } from '../common.ts';

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
}

export function metadata(
  ctx: MapContext,
  opts: { eventCode: string; originalUid: string; logName: string; org?: Org | undefined; originalTime?: string },
): OcsfMetadata {
  // Same keys and order as before, built directly: only tenant_uid can be missing.
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
  m.logged_time = Date.parse(ctx.envelope.time);
  m.profiles = [];
  return m;
}

/** Envelope fields that have no OCSF place, kept for the analyst. */
export function envelopeUnmapped(env: EventBridgeEnvelope): Record<string, unknown> {
  const out: Record<string, unknown> = { source: env.source };
  if (env.account !== undefined && env.account !== null) out['account'] = env.account;
  if (env.region !== undefined && env.region !== null) out['region'] = env.region;
  out['detail_type'] = env['detail-type'];
  out['event_id'] = env.id;
  if (env.resources !== undefined && env.resources.length > 0) out['resources'] = env.resources;
  return addLeftover(out, env, ['version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail']);
}

export function orgUser(org: Org | undefined): { uid?: string; name?: string } | undefined {
  return org === undefined ? undefined : { uid: org.uuid, name: org.slug };
}

export function orgObservables(obs: Observables, org: Org | undefined): void {
  if (org === undefined) return;
  obs.add('metadata.tenant_uid', 'resourceUid', org.uuid);
}

export function resource(uid: string, type: string, name: string | null | undefined, data?: Record<string, unknown>): OcsfResource {
  const r: OcsfResource = { uid, type };
  if (name !== null && name !== undefined && name !== '') r.name = name;
  if (data !== undefined && Object.keys(data).length > 0) r.data = data;
  return r;
}

export function orgResource(org: Org): OcsfResource {
  return resource(org.uuid, 'Organization', org.slug, compact({ graphql_id: org.graphql_id, ...leftover(org, ['uuid', 'slug', 'graphql_id']) }));
}
