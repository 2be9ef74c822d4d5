/**
 * interactive-session: JOB_TERMINAL_SESSION_STARTED. Someone opened a shell inside a running
 * job, where the job's secrets, its checkout and its OIDC tokens live.
 *
 * The payload is not documented. Assumed, and read defensively: the subject is the job
 * (subject_type "Job" or "JobTypeCommand", subject_uuid its uuid), and `data` may name the
 * job (`job_uuid`, `job: {uuid, label}`), the build (`build_uuid`, `build_number`) and the
 * pipeline (`pipeline_uuid`/`pipeline_slug` or `pipeline: {uuid, slug}`).
 *
 * High when the pipeline is in `sensitivePipelines` or the actor acts from a network new to
 * them (lib/detections/actor-networks.ts); Medium otherwise.
 */
import type { FindingResource } from '../findings/contract.ts';
import type { SeverityId } from '../ocsf/types.ts';
import type { InteractiveSessionConfig } from './config.ts';
import { networkText } from './actor-networks.ts';
import { actorLabel, actorOf, auditOf, evidenceOf, IdentitySet, isAuditEvent, perConfig, res } from './entities.ts';
import type { Detector } from './types.ts';

const TYPE = 'JOB_TERMINAL_SESSION_STARTED';
const JOB_SUBJECTS = /^(Job|JobTypeCommand|CommandJob)$/;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): string | undefined => (typeof v === 'number' && Number.isInteger(v) ? String(v) : str(v));
const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

const sensitive = perConfig((c: InteractiveSessionConfig) => new IdentitySet(c.sensitivePipelines));

export const interactiveSession: Detector<InteractiveSessionConfig> = {
  meta: {
    id: 'interactive-session',
    title: 'Shell opened inside a job',
    description: "Someone opened an interactive terminal inside a running job (JOB_TERMINAL_SESSION_STARTED), where the job's secrets, checkout and OIDC tokens live.",
    severity: 3,
    severityNotes: 'High for a sensitive pipeline (sensitivePipelines) or from a network new to the actor; Medium otherwise.',
    analyticType: 1,
    attacks: [
      { tactic: { uid: 'TA0002', name: 'Execution' }, technique: { uid: 'T1059', name: 'Command and Scripting Interpreter' } },
      {
        tactic: { uid: 'TA0006', name: 'Credential Access' },
        technique: { uid: 'T1552', name: 'Unsecured Credentials' },
        sub_technique: { uid: 'T1552.001', name: 'Credentials In Files' },
      },
    ],
    types: ['Interactive Access'],
    defaultThresholds: 'every terminal session; High on sensitivePipelines or from a new network; dedup 60 min per job and actor',
    recommendedContainment: 'Through approval: cancel the job (GraphQL jobTypeCommandCancel), which ends the shell with it.',
    runbook: {
      check: [
        'Who opened the shell (actor, IP, user agent in the evidence), on which job, build and pipeline?',
        'Was it a planned debugging session? Ask the person out of band.',
        'What could the job reach: its secrets, the OIDC roles its pipeline assumes, the agent host.',
      ],
      act: [
        'Unplanned: approve the job cancel, then rotate the secrets the job could read and revoke its role sessions (`kitewatch runbook revoke-role-sessions`).',
        'If the actor denies it: treat their session as stolen.',
        'Routine debugging on a non-sensitive pipeline: keep it Medium; add release and deploy pipelines to detectors.interactive-session.sensitivePipelines.',
      ],
    },
    targets: ['Job', 'Actor'],
    usesActorNetworks: true,
  },

  accepts(event) {
    return isAuditEvent(event) && event.metadata.event_code === TYPE;
  },

  async detect(event, ctx) {
    const audit = auditOf(event);
    if (audit === undefined || audit.type !== TYPE) return [];
    const data = audit.data;
    const job = obj(data?.['job']);
    const build = obj(data?.['build']);
    const pipeline = obj(data?.['pipeline']);
    const jobUid = str(data?.['job_uuid']) ?? str(job?.['uuid']) ?? (JOB_SUBJECTS.test(audit.subjectType ?? '') ? audit.subjectUuid : undefined);
    const jobLabel = str(data?.['job_label']) ?? str(job?.['label']) ?? (JOB_SUBJECTS.test(audit.subjectType ?? '') ? audit.subjectName : undefined);
    const pipelineUid = str(data?.['pipeline_uuid']) ?? str(pipeline?.['uuid']);
    const pipelineSlug = str(data?.['pipeline_slug']) ?? str(pipeline?.['slug']);
    const buildNumber = num(data?.['build_number']) ?? num(build?.['number']);
    const buildUid = str(data?.['build_uuid']) ?? str(build?.['uuid']);
    const actor = actorOf(event);
    const network = await ctx.actorNetwork();
    const set = sensitive(ctx.config);
    const isSensitive = set.hasValue(pipelineUid) || set.hasValue(pipelineSlug);
    const severity: SeverityId = isSensitive || network?.isNew === true ? 4 : 3;

    const resources: FindingResource[] = [];
    if (jobUid !== undefined)
      resources.push(
        res('Job', jobUid, 'target', jobLabel, {
          ...(buildNumber !== undefined ? { build_number: buildNumber } : {}),
          ...(buildUid !== undefined ? { build_uuid: buildUid } : {}),
          ...(pipelineSlug !== undefined ? { pipeline_slug: pipelineSlug } : {}),
        }),
      );
    if (actor?.uid !== undefined) resources.push(res('Actor', actor.uid, resources.length === 0 ? 'target' : 'related', actor.name));
    if (pipelineUid !== undefined) resources.push(res('Pipeline', pipelineUid, 'related', pipelineSlug));
    const jobText = `job ${jobLabel !== undefined ? `"${jobLabel}"` : (jobUid ?? '(unknown)')}`;
    const where = `${pipelineSlug ?? pipelineUid ?? 'an unknown pipeline'}${buildNumber !== undefined ? ` #${buildNumber}` : ''}`;
    const why = [
      isSensitive ? 'a sensitive pipeline (detectors.interactive-session.sensitivePipelines)' : undefined,
      network?.isNew === true ? `from ${networkText(network)}, a network new to ${actorLabel(actor)}` : undefined,
    ].filter((x): x is string => x !== undefined);
    return [
      {
        dedupKey: `${jobUid ?? where}:${actor?.uid ?? actor?.name ?? ''}`,
        title: `${actorLabel(actor)} opened a shell inside ${jobText} of ${where}`,
        desc:
          `${actorLabel(actor)} started a terminal session (${TYPE}) inside ${jobText} of pipeline ${where}${why.length > 0 ? `: ${why.join('; ')}` : ''}. ` +
          'A shell in a running job reads its environment, secrets and OIDC tokens, and can change what the job builds or deploys.',
        severity,
        confidence: 3,
        resources,
        evidences: [evidenceOf(event, network?.info)],
        firstSeen: event.time,
        lastSeen: event.time,
        type: 'Terminal Session',
        data: {
          job_uuid: jobUid,
          job_label: jobLabel,
          build_number: buildNumber,
          build_uuid: buildUid,
          pipeline_uuid: pipelineUid,
          pipeline_slug: pipelineSlug,
          sensitive_pipeline: isSensitive,
          new_network: network?.isNew,
        },
      },
    ];
  },
};
