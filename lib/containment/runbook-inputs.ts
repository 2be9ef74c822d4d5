import * as z from 'zod/mini';
import '../config/zod-en.ts';
import { describeIssues } from '../config/issues.ts';
import { SLUG_PATTERN } from '../contracts/ids.ts';
import { PROTECTABLE_TYPES, RUNBOOK_IDS, type ActionId, type RunbookId, type TargetType } from './actions.ts';
import type { Target } from './activity.ts';
import { roleNameOf } from './executors.ts';
import { secretNameOf } from './secrets.ts';

/**
 * Runbook inputs (one zod schema per runbook, the single source of their types). Shared by the
 * runbook Lambdas, `kitewatch runbook`, the approval state machine (which invokes a runbook
 * once a responder approves) and the generated docs.
 */
// Built on first use, each runbook's schema on its own: a runbook Lambda parses only its own
// input, and the contain Lambda (which only writes runbook inputs) builds none at cold start.
const once = <T>(make: () => T): (() => T) => {
  let value: T | undefined;
  return () => (value ??= make());
};
// The same formats the automatic path checks (lib/contracts/ids.ts, target-ids.ts).
const slug = once(() => z.string().check(z.regex(SLUG_PATTERN, 'must be a Buildkite slug (lowercase letters, digits, dashes)')));
// z.guid is UUID_PATTERN (any version, either case) and keeps the `uuid` format in the docs.
const uuid = once(() => z.guid('must be a UUID'));
const nonEmpty = () => z.string().check(z.minLength(1));

const Approval = once(() =>
  z.strictObject({
    responder: nonEmpty().check(z.describe('Who approved.')),
    reason: z.optional(z.string()).check(z.describe('Why.')),
    approvalId: z.optional(z.string()).check(z.describe('The approval request id.')),
    decidedAt: z.optional(z.string()).check(z.describe('When (ISO 8601).')),
  }),
);

const common = once(() => ({
  dryRun: z._default(z.boolean(), true).check(z.describe('Report what would be done without calling anything; set false to act.')),
  reason: z.optional(z.string().check(z.minLength(1), z.maxLength(500))).check(z.describe('Why; sent to Buildkite where it takes a note, and kept in the report.')),
  correlationUid: z.optional(nonEmpty()).check(z.describe("The finding's finding_info.uid, to correlate the Remediation Activity with it.")),
  approval: z.optional(Approval()).check(z.describe('Set by the approval state machine after a responder approved; not for manual use.')),
}));

const builders = {
  'revoke-agent-token': () =>
    z.strictObject({
      org: slug().check(z.describe('Organization slug.')),
      tokenId: uuid().check(z.describe('Agent token uuid (`detail.token.uuid` of Agent events).')),
      clusterId: z.optional(uuid()).check(z.describe('Cluster uuid, when known (saves listing the clusters).')),
      ...common(),
    }),
  'stop-agent': () =>
    z.strictObject({
      org: slug().check(z.describe('Organization slug.')),
      agentId: uuid().check(z.describe('Agent uuid.')),
      force: z._default(z.boolean(), true).check(z.describe('Cancel the running job and its build.')),
      ...common(),
    }),
  'rotate-secret': () =>
    z.strictObject({
      secretId: nonEmpty().check(z.describe('Secrets Manager secret ARN or name.')),
      rotation: z
        ._default(z.enum(['auto', 'random', 'buildkite-agent-token']), 'auto')
        .check(z.describe('Without a rotation Lambda: how to make the new value (auto: the `kitewatch:rotation` tag, else random).')),
      jsonKey: z.optional(nonEmpty()).check(z.describe('For random rotation of a JSON secret: the key to replace.')),
      idempotencyKey: z.optional(nonEmpty()).check(z.describe('Names this rotation: a retry with the same key does not rotate twice (default: correlationUid, else the current UTC hour).')),
      ...common(),
    }),
  'revoke-role-sessions': () =>
    z.strictObject({
      role: nonEmpty().check(z.describe('IAM role name or ARN.')),
      issuedBefore: z.optional(z.iso.datetime({ offset: true })).check(z.describe('Deny sessions issued before this instant (ISO 8601; default now).')),
      ...common(),
    }),
  'pause-queue': () =>
    z.strictObject({
      org: slug().check(z.describe('Organization slug.')),
      clusterId: uuid().check(z.describe('Cluster uuid.')),
      queueId: uuid().check(z.describe('Queue uuid.')),
      note: z.optional(z.string().check(z.minLength(1), z.maxLength(500))).check(z.describe('Dispatch-paused note shown in Buildkite (default: the reason).')),
      ...common(),
    }),
  'cancel-build': () =>
    z.strictObject({
      org: slug().check(z.describe('Organization slug.')),
      pipeline: slug().check(z.describe('Pipeline slug.')),
      buildNumber: z.int().check(z.positive(), z.describe('Build number (not the build uuid).')),
      ...common(),
    }),
  'archive-pipeline': () =>
    z
      .strictObject({
        org: slug().check(z.describe('Organization slug.')),
        pipeline: z.optional(slug()).check(z.describe('Pipeline slug (or pipelineId).')),
        pipelineId: z.optional(uuid()).check(z.describe('Pipeline uuid, when the slug is not known: the slug is looked up from Buildkite (GraphQL `pipeline(uuid:)`).')),
        ...common(),
      })
      .check(z.refine((i) => (i.pipeline === undefined) !== (i.pipelineId === undefined), { message: 'give exactly one of pipeline (slug) and pipelineId (uuid)' })),
  'revoke-grant': () =>
    z.strictObject({
      org: slug().check(z.describe('Organization slug.')),
      kind: z.enum(['member', 'invitation']).check(z.describe('member: demote the organization membership to MEMBER; invitation: revoke the pending invitation.')),
      uuid: uuid().check(z.describe('The membership uuid (OrganizationMember) or the invitation uuid.')),
      ...common(),
    }),
  'remove-member': () =>
    z.strictObject({
      org: slug().check(z.describe('Organization slug.')),
      userId: uuid().check(z.describe("The user's uuid (the actor uuid of audit events), not the membership's.")),
      ...common(),
    }),
  'cancel-job': () =>
    z.strictObject({
      org: z.optional(slug()).check(z.describe('Organization slug (for the report; the job is found by uuid).')),
      jobId: uuid().check(z.describe('Job uuid.')),
      ...common(),
    }),
  'approve-action': () =>
    z.strictObject({
      taskToken: nonEmpty().check(z.describe('The task token from the approval request (treat it as a secret: whoever holds it can decide).')),
      decision: z.enum(['approve', 'deny']).check(z.describe('approve runs the action; deny drops it.')),
      responder: nonEmpty().check(z.describe('Who decides (name or email), recorded in the Remediation Activity.')),
      reason: z.optional(z.string().check(z.minLength(1), z.maxLength(500))).check(z.describe('Why.')),
      request: z
        .optional(
          z.looseObject({
            approvalId: nonEmpty(),
            action: nonEmpty(),
            target: z.looseObject({ type: z.enum(PROTECTABLE_TYPES), uid: nonEmpty(), name: z.optional(z.string()), org: z.optional(z.string()) }),
            correlationUid: z.optional(z.string()),
            severityId: z.optional(z.int()),
          }),
        )
        .check(z.describe('The approval request as notified (lets the Remediation Activity name the action and target).')),
      dryRun: common().dryRun,
    }),
} satisfies Record<RunbookId, () => z.ZodMiniType>;

type Schemas = { readonly [R in RunbookId]: ReturnType<(typeof builders)[R]> };
const built: Partial<Record<RunbookId, z.ZodMiniType>> = {};

/** One zod schema per runbook (built when first read). */
export const RunbookInputs: Schemas = Object.defineProperties({} as Schemas, Object.fromEntries(RUNBOOK_IDS.map((id) => [id, { enumerable: true, get: () => (built[id] ??= builders[id]()) }])));

export type RunbookInput<R extends RunbookId> = z.infer<(typeof RunbookInputs)[R]>;

export class RunbookInputError extends Error {
  override readonly name = 'RunbookInputError';
  readonly runbook: RunbookId;
  /** Dotted paths of the invalid fields. */
  readonly fields: readonly string[];

  constructor(runbook: RunbookId, error: z.core.$ZodError) {
    super(`${runbook} input is invalid: ${describeIssues(error)}`);
    this.runbook = runbook;
    this.fields = error.issues.flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys.map((k) => [...i.path, k].join('.')) : [i.path.join('.') || '(root)']));
  }
}

export function parseRunbookInput<R extends RunbookId>(runbook: R, raw: unknown): RunbookInput<R> {
  const result = RunbookInputs[runbook].safeParse(raw);
  if (!result.success) throw new RunbookInputError(runbook, result.error);
  return result.data as RunbookInput<R>;
}

/** The runbook input that performs `action` on `target` (what the approval state machine runs). */
export function runbookInputFor(
  action: ActionId,
  target: Target,
  extra: { correlationUid?: string; reason?: string; rotation?: 'auto' | 'random' | 'buildkite-agent-token'; jsonKey?: string },
): Record<string, unknown> {
  const base = {
    dryRun: false,
    ...(extra.correlationUid !== undefined ? { correlationUid: extra.correlationUid } : {}),
    ...(extra.reason !== undefined ? { reason: extra.reason.slice(0, 500) } : {}),
  };
  const cluster = target.attrs?.['cluster_id'];
  switch (action) {
    case 'revoke-agent-token':
      return { org: target.org, tokenId: target.uid, ...(cluster !== undefined ? { clusterId: String(cluster) } : {}), ...base };
    case 'stop-agent':
      return { org: target.org, agentId: target.uid, force: true, ...base };
    case 'rotate-secret':
      return {
        secretId: target.uid,
        rotation: extra.rotation ?? 'auto',
        ...(extra.jsonKey !== undefined ? { jsonKey: extra.jsonKey } : {}),
        ...(extra.correlationUid !== undefined ? { idempotencyKey: extra.correlationUid } : {}),
        ...base,
      };
    case 'revoke-role-sessions':
      return { role: target.uid, ...base };
    case 'pause-queue':
      return { org: target.org, clusterId: cluster === undefined ? undefined : String(cluster), queueId: target.uid, ...base };
    case 'cancel-build':
      return { org: target.org, pipeline: target.attrs?.['pipeline'], buildNumber: Number(target.attrs?.['number']), ...base };
    case 'archive-pipeline':
      // A finding's pipeline goes by uuid (the runbook looks its slug up), never by the finding's name.
      return target.attrs?.['slug'] !== undefined ? { org: target.org, pipeline: target.attrs['slug'], ...base } : { org: target.org, pipelineId: target.uid, ...base };
    case 'revoke-grant':
      return { org: target.org, kind: target.type === 'OrganizationInvitation' ? 'invitation' : 'member', uuid: target.uid, ...base };
    case 'remove-member':
      return { org: target.org, userId: target.uid, ...base };
    case 'cancel-job':
      return { ...(target.org !== undefined ? { org: target.org } : {}), jobId: target.uid, ...base };
  }
}

/** The target a runbook input names. */
export function targetOf(action: ActionId, input: Record<string, unknown>): Target {
  const s = (k: string): string => String(input[k]);
  const org = typeof input['org'] === 'string' ? input['org'] : undefined;
  const withOrg = (t: Omit<Target, 'org'>): Target => (org === undefined ? t : { ...t, org });
  const types: Record<ActionId, TargetType> = {
    'revoke-agent-token': 'AgentToken',
    'stop-agent': 'Agent',
    'rotate-secret': 'SecretsManagerSecret',
    'revoke-role-sessions': 'IamRole',
    'pause-queue': 'Queue',
    'cancel-build': 'Build',
    'archive-pipeline': 'Pipeline',
    'revoke-grant': input['kind'] === 'invitation' ? 'OrganizationInvitation' : 'OrganizationMember',
    'remove-member': 'Actor',
    'cancel-job': 'Job',
  };
  const type = types[action];
  switch (action) {
    case 'revoke-agent-token':
      return withOrg({ type, uid: s('tokenId'), ...(input['clusterId'] !== undefined ? { attrs: { cluster_id: s('clusterId') } } : {}) });
    case 'stop-agent':
      return withOrg({ type, uid: s('agentId') });
    case 'rotate-secret':
      return { type, uid: s('secretId'), name: secretNameOf(s('secretId')) };
    case 'revoke-role-sessions':
      return { type, uid: s('role'), name: roleNameOf(s('role')) };
    case 'pause-queue':
      return withOrg({ type, uid: s('queueId'), attrs: { cluster_id: s('clusterId') } });
    case 'cancel-build':
      return withOrg({ type, uid: `${s('pipeline')}/${s('buildNumber')}`, name: `${s('pipeline')}#${s('buildNumber')}`, attrs: { pipeline: s('pipeline'), number: Number(input['buildNumber']) } });
    case 'archive-pipeline':
      return input['pipelineId'] !== undefined ? withOrg({ type, uid: s('pipelineId') }) : withOrg({ type, uid: s('pipeline'), name: s('pipeline'), attrs: { slug: s('pipeline') } });
    case 'revoke-grant':
      return withOrg({ type, uid: s('uuid') });
    case 'remove-member':
      return withOrg({ type, uid: s('userId') });
    case 'cancel-job':
      return withOrg({ type, uid: s('jobId') });
  }
}
