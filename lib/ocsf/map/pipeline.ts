import type { BuildDetail, JobDetail } from '../../contracts/buildkite.ts';
import { header, type OcsfEvent, type OcsfResource, type StatusId } from '../types.ts';
import { addLeftover, compact, leftover, Observables } from '../common.ts';
import { envelopeUnmapped, metadata, orgObservables, orgResource, resource, type MapContext } from './shared.ts';

const FAILED_STATES = new Set(['failed', 'failing', 'canceled', 'canceling', 'timed_out', 'broken', 'expired']);

function outcome(state: string, passed?: boolean | null): StatusId {
  if (passed === false && state === 'finished') return 2;
  return FAILED_STATES.has(state) ? 2 : 1;
}

function pipelineResource(p: BuildDetail['pipeline']): OcsfResource {
  return resource(p.uuid, 'Pipeline', p.slug, compact({ repo: p.repo, graphql_id: p.graphql_id, ...leftover(p, ['uuid', 'slug', 'repo', 'graphql_id']) }));
}

function buildResource(b: BuildDetail['build'], pipelineSlug: string): OcsfResource {
  return resource(
    b.uuid,
    'Build',
    `${pipelineSlug}#${b.number}`,
    addLeftover({}, b, ['uuid']),
  );
}

/** Build Created / Started / Blocked / Failing / Finished -> API Activity (6003) on the build. */
export function mapBuild(ctx: MapContext, d: BuildDetail): OcsfEvent {
  const activity = ctx.detailType === 'Build Created' ? 1 : 3;
  const obs = new Observables()
    .add('resources[Pipeline].uid', 'resourceUid', d.pipeline.uuid)
    .add('resources[Build].uid', 'resourceUid', d.build.uuid);
  orgObservables(obs, d.organization);
  // Built in place, in the order the emitted JSON has (insertion order); only defined values.
  const e = header(6003, activity, 1, outcome(d.build.state), d.build.state);
  e.time = ctx.time;
  e.message = `${ctx.detailType}: ${d.pipeline.slug}#${d.build.number} (${d.build.state}) on ${d.build.branch ?? 'unknown branch'}`;
  e.metadata = metadata(ctx, { eventCode: ctx.detailType, originalUid: ctx.envelope.id, logName: 'buildkite-builds', org: d.organization });
  e.actor = { app_name: 'Buildkite Pipelines' };
  e['api'] = { operation: ctx.detailType, service: { name: 'Buildkite Pipelines' } };
  e.src_endpoint = { svc_name: d.build.source ?? 'buildkite' };
  e.resources = [orgResource(d.organization), pipelineResource(d.pipeline), buildResource(d.build, d.pipeline.slug)];
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
  const obs = new Observables()
    .add('resources[Pipeline].uid', 'resourceUid', d.pipeline.uuid)
    .add('resources[Build].uid', 'resourceUid', d.build.uuid)
    .add('resources[Job].uid', 'resourceUid', job.uuid)
    .add('resources[Agent].uid', 'resourceUid', agentUuid)
    .add('actor.user.uid', 'userUid', unblocker?.uuid)
    .add('actor.user.name', 'userName', unblocker?.name);
  orgObservables(obs, d.organization);
  const resources: OcsfResource[] = [
    orgResource(d.organization),
    pipelineResource(d.pipeline),
    buildResource(d.build, d.pipeline.slug),
    resource(job.uuid, 'Job', job.label ?? job.step_key ?? job.type, addLeftover({}, job, ['uuid', 'label'])),
  ];
  if (agentUuid !== undefined) resources.push(resource(agentUuid, 'Agent', undefined));
  const statusDetail = ctx.detailType === 'Job Promised Exit Status'
    ? `${job.state}; promised exit status ${job.promised_exit_status ?? 'unknown'}${d.promised_exit_status_reason ? ` (${d.promised_exit_status_reason})` : ''}`
    : job.state;
  const e = header(6003, activity, 1, outcome(job.state, job.passed), statusDetail);
  e.time = ctx.time;
  e.message = `${ctx.detailType}: ${d.pipeline.slug}#${d.build.number} job "${job.label ?? job.step_key ?? job.uuid}" (${job.state})`;
  e.metadata = metadata(ctx, { eventCode: ctx.detailType, originalUid: ctx.envelope.id, logName: 'buildkite-builds', org: d.organization });
  e.actor = unblocker
    ? { user: compact({ uid: unblocker.uuid, name: unblocker.name ?? undefined, type_id: 1, type: 'User', org: { uid: d.organization.uuid, name: d.organization.slug } }) }
    : { app_name: 'Buildkite Pipelines' };
  e['api'] = { operation: ctx.detailType, service: { name: 'Buildkite Pipelines' } };
  e.src_endpoint = agentUuid !== undefined ? { uid: agentUuid, svc_name: 'buildkite-agent' } : { svc_name: 'buildkite' };
  e.resources = resources;
  const observables = obs.list();
  if (observables !== undefined) e.observables = observables;
  const buildkite = addLeftover(envelopeUnmapped(ctx.envelope), d, ['job', 'build', 'pipeline', 'organization', 'agent']);
  const agentRest = d.agent ? leftover(d.agent, ['uuid']) : undefined;
  if (agentRest !== undefined) buildkite['agent'] = agentRest;
  // `agent: undefined` used to override an envelope-level `agent` key, and compact dropped it.
  else if (buildkite['agent'] !== undefined) delete buildkite['agent'];
  e.unmapped = { buildkite };
  return e;
}
