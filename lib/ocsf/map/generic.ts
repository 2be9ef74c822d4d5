import type { UnknownDetail } from '../../contracts/buildkite.ts';
import { header, type OcsfEvent, type OcsfResource } from '../types.ts';
import { compact, Observables } from '../common.ts';
import { cloudOf, envelopeUnmapped, metadata, orgResource, resource, type MapContext } from './shared.ts';

const ENTITY_KEYS = ['pipeline', 'build', 'job', 'agent'] as const;
const ENTITY_TYPES: Record<(typeof ENTITY_KEYS)[number], string> = { pipeline: 'Pipeline', build: 'Build', job: 'Job', agent: 'Agent' };

/**
 * A detail-type Kitewatch does not know yet: API Activity (6003, activity Other) with the whole
 * detail kept in `unmapped`, plus whatever recognizable entities it carries as resources.
 */
export function mapGeneric(ctx: MapContext, input: UnknownDetail): OcsfEvent {
  // The input as sent (the schema only checked `organization`): every other key is unknown here.
  const d = input as UnknownDetail & Record<string, unknown>;
  const obs = new Observables();
  const resources: OcsfResource[] = [];
  if (d.organization) {
    resources.push(orgResource(d.organization));
  }
  for (const key of ENTITY_KEYS) {
    const v = d[key];
    if (typeof v === 'object' && v !== null && typeof (v as { uuid?: unknown }).uuid === 'string') {
      const o = v as { uuid: string; slug?: unknown; name?: unknown; label?: unknown };
      const name = [o.slug, o.name, o.label].find((x): x is string => typeof x === 'string');
      resources.push(resource(o.uuid, ENTITY_TYPES[key], name));
      obs.add('resources[].uid', 'resourceUid', o.uuid);
    }
  }
  const { organization: _org, ...rest } = d;
  // Built in place, in the order the emitted JSON has (insertion order); only defined values.
  const e = header(6003, 99, 1, 0, 'detail-type not known to this Kitewatch version', ctx.detailType);
  e.time = ctx.time;
  e.message = `${ctx.detailType} (not yet mapped by Kitewatch; details in unmapped)`;
  e.metadata = metadata(ctx, { eventCode: ctx.detailType, originalUid: ctx.envelope.id, logName: 'buildkite-events', org: d.organization });
  e['cloud'] = cloudOf(ctx.envelope);
  e.actor = { app_name: 'Buildkite' };
  e['api'] = { operation: ctx.detailType, service: { name: 'Buildkite' } };
  e.src_endpoint = { svc_name: 'buildkite' };
  if (resources.length > 0) e.resources = resources;
  const observables = obs.list();
  if (observables !== undefined) e.observables = observables;
  e.unmapped = { buildkite: compact({ ...envelopeUnmapped(ctx.envelope), unknown_detail_type: true, detail: rest }) };
  return e;
}
