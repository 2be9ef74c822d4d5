import type { BuildDetail, JobDetail } from '../../contracts/buildkite.ts';
import { header, type OcsfEvent, type OcsfResource } from '../types.ts';
import { addLeftover, compact, Observables } from '../common.ts';
import { cloudOf, entityLeftover, envelopeUnmapped, metadata, orgResource, resource, type MapContext } from './shared.ts';

// Build and job events report a state change that Buildkite made: the report itself succeeded
// (status Success), and the build's or job's state, failed or not, is the status_detail. CI
// failures are not failed API calls.

function pipelineResource(p: BuildDetail['pipeline']): OcsfResource {
  return resource(p.uuid, 'Pipeline', p.slug, entityLeftover(p, ['uuid', 'slug']));
}

/** `state` is dropped when it is the event's status_detail already. */
function buildResource(b: BuildDetail['build'], pipelineSlug: string, statusDetail?: string): OcsfResource {
  return resource(b.uuid, 'Build', `${pipelineSlug}#${b.number}`, entityLeftover(b, b.state === statusDetail ? ['uuid', 'state'] : ['uuid']));
}

function jobData(job: JobDetail['job'], statusDetail: string): Record<string, unknown> | undefined {
  const data = entityLeftover(job, job.state === statusDetail ? ['uuid', 'label', 'state', 'unblocked_by'] : ['uuid', 'label', 'unblocked_by']) ?? {};
  const u = job.unblocked_by as Record<string, unknown> | null | undefined;
  const rest = u ? entityLeftover(u, ['uuid', 'name']) : undefined;
  if (rest !== undefined) data['unblocked_by'] = rest;
  return data;
}

function entityObservables(obs: Observables, resources: readonly OcsfResource[]): void {
  for (const r of resources) obs.add('resources[].uid', 'resourceUid', r.uid);
}

/** Build Created / Started / Blocked / Failing / Finished -> API Activity (6003) on the build. */
export function mapBuild(ctx: MapContext, d: BuildDetail): OcsfEvent {
  const activity = ctx.detailType === 'Build Created' ? 1 : 3;
  // Built in place, in the order the emitted JSON has (insertion order); only defined values.
  const e = header(6003, activity, 1, 1, d.build.state);
  e.time = ctx.time;
  e.message = `${ctx.detailType}: ${d.pipeline.slug}#${d.build.number} (${d.build.state}) on ${d.build.branch ?? 'unknown branch'}`;
  e.metadata = metadata(ctx, { eventCode: ctx.detailType, originalUid: ctx.envelope.id, logName: 'buildkite-builds', org: d.organization });
  e['cloud'] = cloudOf(ctx.envelope);
  e.actor = { app_name: 'Buildkite Pipelines' };
  e['api'] = { operation: ctx.detailType, service: { name: 'Buildkite Pipelines' } };
  e.src_endpoint = { svc_name: d.build.source ?? 'buildkite' };
  e.resources = [orgResource(d.organization), pipelineResource(d.pipeline), buildResource(d.build, d.pipeline.slug, d.build.state)];
  const obs = new Observables();
  entityObservables(obs, e.resources.slice(1));
  const observables = obs.list();
  if (observables !== undefined) e.observables = observables;
  e.unmapped = { buildkite: addLeftover(envelopeUnmapped(ctx.envelope), d, ['build', 'pipeline', 'organization']) };
  return e;
}

/** Job Scheduled / Started / Finished / Activated / Promised Exit Status -> API Activity (6003) on the job. */
export function mapJob(ctx: MapContext, d: JobDetail): OcsfEvent {
  const activity = ctx.detailType === 'Job Scheduled' ? 1 : 3;
  const job = d.job;
  const agentUuid = d.agent?.uuid;
  const unblocker = job.unblocked_by;
  const statusDetail =
    ctx.detailType === 'Job Promised Exit Status'
      ? `${job.state}; promised exit status ${job.promised_exit_status ?? 'unknown'}${d.promised_exit_status_reason ? ` (${d.promised_exit_status_reason})` : ''}`
      : job.state;
  const resources: OcsfResource[] = [
    orgResource(d.organization),
    pipelineResource(d.pipeline),
    buildResource(d.build, d.pipeline.slug),
    // Who unblocked the job is the actor; the rest of that object stays with the job.
    resource(job.uuid, 'Job', job.label ?? job.step_key ?? job.type, jobData(job, statusDetail)),
  ];
  const obs = new Observables();
  entityObservables(obs, resources.slice(1));
  // The agent that ran the job is where the report came from.
  obs.add('src_endpoint.uid', 'endpointUid', agentUuid).add('actor.user.uid', 'userUid', unblocker?.uuid).add('actor.user.name', 'userName', unblocker?.name);
  const e = header(6003, activity, 1, 1, statusDetail);
  e.time = ctx.time;
  e.message = `${ctx.detailType}: ${d.pipeline.slug}#${d.build.number} job "${job.label ?? job.step_key ?? job.uuid}" (${job.state})`;
  e.metadata = metadata(ctx, { eventCode: ctx.detailType, originalUid: ctx.envelope.id, logName: 'buildkite-builds', org: d.organization });
  e['cloud'] = cloudOf(ctx.envelope);
  e.actor = unblocker
    ? { user: compact({ uid: unblocker.uuid, name: unblocker.name ?? undefined, type_id: 1, type: 'User', org: { uid: d.organization.uuid, name: d.organization.slug } }) }
    : { app_name: 'Buildkite Pipelines' };
  e['api'] = { operation: ctx.detailType, service: { name: 'Buildkite Pipelines' } };
  e.src_endpoint = agentUuid !== undefined ? { uid: agentUuid, svc_name: 'buildkite-agent' } : { svc_name: 'buildkite' };
  e.resources = resources;
  const observables = obs.list();
  if (observables !== undefined) e.observables = observables;
  const buildkite = addLeftover(envelopeUnmapped(ctx.envelope), d, ['job', 'build', 'pipeline', 'organization', 'agent']);
  const agentRest = d.agent ? entityLeftover(d.agent, ['uuid']) : undefined;
  if (agentRest !== undefined) buildkite['agent'] = agentRest;
  // No leftover: drop an envelope-level `agent` key rather than keep a stale one.
  else if (buildkite['agent'] !== undefined) delete buildkite['agent'];
  e.unmapped = { buildkite };
  return e;
}
