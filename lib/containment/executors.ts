import type { IAMClient } from '@aws-sdk/client-iam';
import { iamSdk, SdkLoadError } from '../aws/lazy.ts';
import { BuildkiteApi } from '../buildkite/api.ts';
import type { BuildkiteClient } from '../buildkite/client.ts';
import { BuildkiteApiError, BuildkiteGraphqlError, BuildkiteRequestError, MissingBuildkiteTokenError } from '../buildkite/errors.ts';
import { requireId } from '../contracts/ids.ts';
import { ACTIONS, type ActionId } from './actions.ts';
import { OUTCOME, type Outcome, type Target } from './activity.ts';
import { SESSION_TAG, type AccountClients, type CrossAccountAccess } from './cross-account.ts';
import { RotationError, SecretRotation, rotationKindOf, type SecretsManagerPort } from './rotation.ts';
import { targetIdProblem } from './target-ids.ts';
import { isSlug, isUuid } from '../contracts/ids.ts';
import { escapeControls } from '../contracts/terminal.ts';

/**
 * What each action does, against injected clients. `execute` never throws: every failure becomes
 * a Failure outcome naming the call and the status. `preview` describes, without calling anything,
 * what `execute` would do (dry-run).
 */
export interface ExecutionDeps {
  /** Undefined: no Buildkite API configured (actions that need it fail clearly). */
  readonly buildkite: BuildkiteClient | undefined;
  readonly secretsManager: SecretsManagerPort;
  readonly iam: Pick<IAMClient, 'send'>;
  readonly now: () => number;
  readonly log: (line: string) => void;
  /** Targets in other AWS accounts (containment.accounts): their role, assumed through STS. @default none */
  readonly crossAccount?: CrossAccountAccess | undefined;
}

export interface ExecuteRequest {
  readonly action: ActionId;
  readonly target: Target;
  /** Said to Buildkite where it takes a reason (legacy token revoke, queue pause note). */
  readonly reason: string;
  /** Names this run of the action: the ClientRequestToken of a rotation (a UUID). */
  readonly idempotencyToken: string;
  /** stop-agent: cancel the running job (default true). */
  readonly force?: boolean;
  /** rotate-secret: how to make the new value when no rotation Lambda is configured. */
  readonly rotation?: { readonly kind: 'auto' | 'random' | 'buildkite-agent-token'; readonly jsonKey?: string };
  /** revoke-role-sessions: deny sessions issued before this instant (default now). */
  readonly issuedBefore?: Date;
  /** The finding (or runbook correlation) the action answers: a session tag in another account. */
  readonly findingUid?: string;
}

export const REVOKE_SESSIONS_POLICY = 'KitewatchRevokeOlderSessions';

/** The inline policy that denies every session of a role issued before `before`. */
export function revokeOlderSessionsPolicy(before: Date): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: REVOKE_SESSIONS_POLICY,
        Effect: 'Deny',
        Action: ['*'],
        Resource: ['*'],
        Condition: { DateLessThan: { 'aws:TokenIssueTime': before.toISOString() } },
      },
    ],
  });
}

/** `arn:aws:iam::123:role/path/Name` or `Name` -> `Name`. */
export function roleNameOf(role: string): string {
  if (!role.startsWith('arn:')) return role;
  const resource = role.split(':').slice(5).join(':');
  return resource.slice(resource.lastIndexOf('/') + 1);
}

function describeError(error: unknown): string {
  if (error instanceof MissingBuildkiteTokenError) return error.message;
  if (error instanceof BuildkiteApiError) return `${error.call} HTTP ${error.status}${error.apiMessage ? ` (${error.apiMessage})` : ''}`;
  if (error instanceof BuildkiteGraphqlError) return `${error.call} GraphQL errors (${error.messages.join('; ')})`;
  if (error instanceof BuildkiteRequestError) return error.message;
  if (error instanceof RotationError || error instanceof PreconditionError) return error.message;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Job states in which nothing runs any more (JobStates in data/buildkite/schema.graphql). */
const FINISHED_JOB_STATES: ReadonlySet<string> = new Set([
  'FINISHED',
  'CANCELED',
  'CANCELING',
  'EXPIRED',
  'TIMED_OUT',
  'TIMING_OUT',
  'SKIPPED',
  'BROKEN',
  'BLOCKED_FAILED',
  'UNBLOCKED_FAILED',
  'WAITING_FAILED',
]);

/** Something the action needs is unknown (no org slug, no cluster id): a clear failure, no call. */
class PreconditionError extends Error {
  override readonly name = 'PreconditionError';
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new PreconditionError(what);
  return value;
}

function label(t: Target): string {
  return t.name !== undefined && t.name !== t.uid ? `"${t.name}" (${t.uid})` : t.uid;
}

/** A target whose ids have the wrong format: a Failure naming why, and no call at all. */
function invalidTarget(req: ExecuteRequest): Outcome | undefined {
  const problem = targetIdProblem(req.action, req.target);
  return problem === undefined ? undefined : OUTCOME.failed(`invalid id: ${problem}`, `${ACTIONS[req.action].title}: not attempted, ${problem}`, { calls: [] });
}

/** What `execute` would call, for dry-run reports, with the role it would assume in another account. Calls nothing. */
export function preview(req: ExecuteRequest, crossAccount?: CrossAccountAccess): Outcome {
  const outcome = previewInOwnAccount(req);
  const role = req.action === 'rotate-secret' || req.action === 'revoke-role-sessions' ? crossAccount?.roleFor(req.target.uid) : undefined;
  if (role === undefined || outcome.code === 'failed') return outcome;
  const assume = `sts:AssumeRole ${role.roleArn} (external id, session tags ${SESSION_TAG.finding}=${req.findingUid ?? 'unknown'} ${SESSION_TAG.action}=${req.action})`;
  return {
    ...outcome,
    message: outcome.message.replace(' (dry-run, nothing called)', ` in account ${role.account} as ${role.roleArn} (dry-run, nothing called)`),
    calls: [assume, ...(outcome.calls ?? [])],
    facts: { ...outcome.facts, account: role.account, assumed_role: role.roleArn },
  };
}

function previewInOwnAccount(req: ExecuteRequest): Outcome {
  const invalid = invalidTarget(req);
  if (invalid !== undefined) return invalid;
  const t = req.target;
  const org = t.org ?? '{org}';
  let calls: string[];
  let would: string;
  switch (req.action) {
    case 'revoke-agent-token': {
      const cluster = t.attrs?.['cluster_id'];
      calls = [
        ...(cluster === undefined
          ? [`GET /v2/organizations/${org}/clusters`, `GET /v2/organizations/${org}/clusters/{cluster_id}/tokens`]
          : [`GET /v2/organizations/${org}/clusters/${cluster}/tokens`]),
        `DELETE /v2/organizations/${org}/clusters/{cluster_id}/tokens/${t.uid}`,
        'graphql KitewatchRevokeAgentToken (only if the token is a legacy unclustered one)',
      ];
      would = `would revoke agent token ${label(t)}`;
      break;
    }
    case 'stop-agent':
      calls = [`PUT /v2/organizations/${org}/agents/${t.uid}/stop {"force":${req.force ?? true}}`];
      would = `would stop agent ${label(t)}`;
      break;
    case 'rotate-secret':
      calls = ['secretsmanager:DescribeSecret', 'secretsmanager:RotateSecret (rotation Lambda configured) or createSecret/setSecret/testSecret/finishSecret in process'];
      would = `would rotate Secrets Manager secret ${label(t)}`;
      break;
    case 'revoke-role-sessions':
      calls = [`iam:PutRolePolicy ${roleNameOf(t.uid)} ${REVOKE_SESSIONS_POLICY}`];
      would = `would deny sessions of role ${label(t)} issued before now`;
      break;
    case 'pause-queue':
      calls = [`POST /v2/organizations/${org}/clusters/${t.attrs?.['cluster_id'] ?? '{cluster_id}'}/queues/${t.uid}/pause_dispatch`];
      would = `would pause dispatch on queue ${label(t)}`;
      break;
    case 'cancel-build':
      calls = [`PUT /v2/organizations/${org}/pipelines/${t.attrs?.['pipeline'] ?? '{pipeline}'}/builds/${t.attrs?.['number'] ?? '{number}'}/cancel`];
      would = `would cancel build ${label(t)}`;
      break;
    case 'archive-pipeline':
      calls = [...(t.attrs?.['slug'] === undefined ? ['graphql KitewatchPipelineByUuid'] : []), `POST /v2/organizations/${org}/pipelines/${t.attrs?.['slug'] ?? '{slug}'}/archive`];
      would = `would archive pipeline ${label(t)}`;
      break;
    case 'revoke-grant':
      if (t.type === 'OrganizationInvitation') {
        calls = [`graphql KitewatchFindOrganizationInvitation ${org}/${t.uid}`, 'graphql KitewatchRevokeOrganizationInvitation (while PENDING)'];
        would = `would revoke invitation ${label(t)}`;
      } else {
        calls = [`graphql KitewatchFindOrganizationMember ${org}/${t.uid}`, 'graphql KitewatchUpdateOrganizationMemberRole role MEMBER (unless already MEMBER)'];
        would = `would demote organization member ${label(t)} to MEMBER`;
      }
      break;
    case 'remove-member':
      calls = [`graphql KitewatchListOrganizationMembers ${org} (paged, to the membership of user ${t.uid})`, 'graphql KitewatchDeleteOrganizationMember'];
      would = `would remove user ${label(t)} from the organization`;
      break;
    case 'cancel-job':
      calls = [`graphql KitewatchFindJob ${t.uid}`, 'graphql KitewatchCancelJob (a command job that has not finished)'];
      would = `would cancel job ${label(t)}`;
      break;
  }
  return OUTCOME.other('dry-run', 'dry-run', `${ACTIONS[req.action].title}: ${would} (dry-run, nothing called)`, { calls });
}

export async function execute(req: ExecuteRequest, deps: ExecutionDeps): Promise<Outcome> {
  const invalid = invalidTarget(req);
  if (invalid !== undefined) return invalid;
  const calls: string[] = [];
  const record = (c: string): void => void calls.push(c);
  try {
    const outcome = await run(req, deps, record);
    return { ...outcome, calls };
  } catch (error) {
    // The AWS SDK itself did not load (lib/aws/lazy.ts): not this action's failure but the
    // function's. Throw, so the engine releases the claim and the delivery is retried.
    if (error instanceof SdkLoadError) throw error;
    const reason = describeError(error);
    deps.log(escapeControls(`containment ${req.action} on ${req.target.type} ${req.target.uid} failed: ${reason}`));
    return OUTCOME.failed(reason, `${ACTIONS[req.action].title} failed for ${label(req.target)}: ${reason}`, { calls });
  }
}

/**
 * The clients for the target's account: Kitewatch's own, or (a target ARN in an account of
 * containment.accounts) the ones acting as that account's containment role.
 */
async function accountOf(req: ExecuteRequest, deps: ExecutionDeps, record: (c: string) => void): Promise<{ clients: AccountClients }> {
  const role = deps.crossAccount?.roleFor(req.target.uid);
  if (role === undefined || deps.crossAccount === undefined) return { clients: deps };
  record(`sts:AssumeRole ${role.roleArn}`);
  const assumed = await deps.crossAccount.clientsFor(req.target.uid, { action: req.action, findingUid: req.findingUid ?? 'unknown' });
  if (assumed === undefined) throw new PreconditionError(`no containment role for account ${role.account}`);
  return { clients: assumed.clients };
}

function buildkiteApi(deps: ExecutionDeps, record: (c: string) => void): BuildkiteApi {
  if (deps.buildkite === undefined) throw new PreconditionError('the Buildkite API is not configured');
  return new BuildkiteApi(deps.buildkite, record);
}

async function run(req: ExecuteRequest, deps: ExecutionDeps, record: (c: string) => void): Promise<Outcome> {
  const t = req.target;
  switch (req.action) {
    case 'revoke-agent-token': {
      const api = buildkiteApi(deps, record);
      const org = need(t.org, 'the organization slug is unknown (no Organization resource in the finding)');
      const hint = t.attrs?.['cluster_id'];
      // The hinted cluster first; the full list only when it does not hold the token.
      const candidates: (() => Promise<string[]>)[] = [
        async () => (hint === undefined ? [] : [String(hint)]),
        // Ids from the API reach URLs too: only well-formed ones.
        async () => (await api.listClusters(org)).map((c) => c.id).filter((id) => id !== String(hint) && isUuid(id)),
      ];
      for (const next of candidates) {
        for (const clusterId of await next()) {
          const tokens = await api.listClusterTokens(org, clusterId);
          if (!tokens.some((tok) => tok.id === t.uid)) continue;
          const result = await api.revokeClusterToken(org, clusterId, t.uid);
          const facts = { cluster_id: clusterId, token_kind: 'cluster' };
          return result === 'gone'
            ? OUTCOME.alreadyGone('already gone (404)', `Agent token ${label(t)} was already gone from cluster ${clusterId}`, { facts })
            : OUTCOME.done(`Revoked cluster agent token ${label(t)} in cluster ${clusterId}; connected agents keep running until stopped`, { facts });
        }
      }
      const legacy = await api.findLegacyAgentToken(org, t.uid);
      if (legacy === undefined) {
        return OUTCOME.alreadyGone('already gone (not found)', `Agent token ${label(t)} is in no cluster and is not a legacy token: already gone`, { facts: { token_kind: 'unknown' } });
      }
      if (legacy.revokedAt !== null) {
        return OUTCOME.alreadyGone('already revoked', `Legacy agent token ${label(t)} was already revoked at ${legacy.revokedAt}`, { facts: { token_kind: 'legacy' } });
      }
      await api.revokeLegacyAgentToken(legacy.id, req.reason);
      return OUTCOME.done(`Revoked legacy (unclustered) agent token ${label(t)} through GraphQL agentTokenRevoke`, { facts: { token_kind: 'legacy' } });
    }
    case 'stop-agent': {
      const api = buildkiteApi(deps, record);
      const org = need(t.org, 'the organization slug is unknown (no Organization resource in the finding)');
      const result = await api.stopAgent(org, t.uid, req.force ?? true);
      if (result === 'gone') return OUTCOME.alreadyGone('already gone (404)', `Agent ${label(t)} no longer exists`);
      if (result === 'not-connected') return OUTCOME.alreadyGone('already disconnected (400)', `Agent ${label(t)} is not connected: nothing to stop`);
      return OUTCOME.done(`Stopped agent ${label(t)}${(req.force ?? true) ? ' (force: its running job was canceled)' : ''}`);
    }
    case 'rotate-secret': {
      const where = await accountOf(req, deps, record);
      const rotation = new SecretRotation({ secretsManager: where.clients.secretsManager, buildkite: deps.buildkite, record, log: deps.log });
      const desc = await rotation.describe(t.uid);
      const stages = desc.VersionIdsToStages?.[req.idempotencyToken] ?? [];
      if (stages.includes('AWSCURRENT')) {
        return OUTCOME.alreadyGone('already rotated', `Secret ${label(t)} was already rotated by this request (version ${req.idempotencyToken})`, { facts: { version_id: req.idempotencyToken } });
      }
      if (desc.RotationEnabled === true && desc.RotationLambdaARN !== undefined) {
        const versionId = await rotation.rotateWithLambda(t.uid, req.idempotencyToken);
        return OUTCOME.done(`Started rotation of ${label(t)} with its rotation Lambda (RotateSecret)`, {
          facts: { method: 'RotateSecret', version_id: versionId ?? req.idempotencyToken },
        });
      }
      const kind = rotationKindOf(desc, req.rotation?.kind ?? 'auto');
      const jsonKey = req.rotation?.jsonKey ?? desc.Tags?.find((x) => x.Key === 'kitewatch:rotation-json-key')?.Value;
      const result = await rotation.rotateInProcess({ secretId: t.uid, token: req.idempotencyToken, kind, ...(jsonKey !== undefined ? { jsonKey } : {}) });
      const facts: Record<string, unknown> = { method: 'four-step', rotation: kind, version_id: req.idempotencyToken };
      if (result.newTokenId !== undefined) facts['new_token_id'] = result.newTokenId;
      if (result.oldTokenId !== undefined) facts['old_token_id'] = result.oldTokenId;
      if (result.oldToken !== undefined) facts['old_token'] = result.oldToken;
      const oldNote =
        result.oldToken === 'revoked' || result.oldToken === 'gone'
          ? `; the old agent token ${result.oldTokenId ?? ''} is revoked`
          : result.oldToken === 'unknown-id'
            ? '; the old agent token id is unknown: revoke it by hand'
            : '';
      return OUTCOME.done(`Rotated ${label(t)} (${kind}: new version ${req.idempotencyToken} is AWSCURRENT${oldNote})`, { facts });
    }
    case 'revoke-role-sessions': {
      const before = req.issuedBefore ?? new Date(deps.now());
      const roleName = roleNameOf(t.uid);
      const { PutRolePolicyCommand } = await iamSdk();
      const where = await accountOf(req, deps, record);
      record(`iam:PutRolePolicy ${roleName} ${REVOKE_SESSIONS_POLICY}`);
      await where.clients.iam.send(new PutRolePolicyCommand({ RoleName: roleName, PolicyName: REVOKE_SESSIONS_POLICY, PolicyDocument: revokeOlderSessionsPolicy(before) }));
      return OUTCOME.done(`Denied every session of role ${label(t)} issued before ${before.toISOString()} (inline policy ${REVOKE_SESSIONS_POLICY})`, {
        facts: { issued_before: before.toISOString(), policy_name: REVOKE_SESSIONS_POLICY },
      });
    }
    case 'pause-queue': {
      const api = buildkiteApi(deps, record);
      const org = need(t.org, 'the organization slug is unknown');
      const clusterId = need(t.attrs?.['cluster_id'], "the queue's cluster id is unknown (data.cluster_id)");
      const result = await api.pauseQueueDispatch(org, String(clusterId), t.uid, req.reason);
      if (result === 'gone') return OUTCOME.alreadyGone('already gone (404)', `Queue ${label(t)} no longer exists`);
      if (typeof result === 'object') {
        if (/already paused/i.test(result.rejected)) return OUTCOME.alreadyGone('already paused (422)', `Queue ${label(t)} was already paused`);
        return OUTCOME.failed(`pauseQueueDispatch HTTP 422 (${result.rejected})`, `Could not pause queue ${label(t)}: ${result.rejected}`);
      }
      return OUTCOME.done(`Paused dispatch on queue ${label(t)}: running jobs finish, no new job starts`);
    }
    case 'cancel-build': {
      const api = buildkiteApi(deps, record);
      const org = need(t.org, 'the organization slug is unknown');
      const pipeline = String(need(t.attrs?.['pipeline'], "the build's pipeline is unknown"));
      const number = Number(need(t.attrs?.['number'], 'the build number is unknown'));
      const result = await api.cancelBuild(org, pipeline, number);
      if (result === 'gone') return OUTCOME.alreadyGone('already gone (404)', `Build ${pipeline}#${number} does not exist`);
      if (typeof result === 'object') {
        return OUTCOME.other('not-applicable', 'not cancelable (422)', `Build ${pipeline}#${number} was not canceled: ${result.rejected} (only scheduled, running or failing builds can be)`);
      }
      return OUTCOME.done(`Canceled build ${pipeline}#${number}`);
    }
    case 'archive-pipeline': {
      const api = buildkiteApi(deps, record);
      const org = need(t.org, 'the organization slug is unknown');
      const slug = await pipelineSlug(api, t, org);
      if (typeof slug === 'object') return slug.outcome;
      const result = await api.archivePipeline(org, slug);
      if (result === 'gone') return OUTCOME.alreadyGone('already gone (404)', `Pipeline ${slug} does not exist`);
      if (typeof result === 'object') return OUTCOME.failed(`archivePipeline HTTP 422 (${result.rejected})`, `Could not archive pipeline ${slug}: ${result.rejected}`);
      return OUTCOME.done(`Archived pipeline ${slug}: read-only, no new builds; history kept`);
    }
    case 'revoke-grant': {
      const api = buildkiteApi(deps, record);
      const org = requireId('slug', 'the organization slug', need(t.org, 'the organization slug is unknown'));
      const uuid = requireId('uuid', t.type === 'OrganizationInvitation' ? 'the invitation uuid' : 'the membership uuid', t.uid);
      if (t.type === 'OrganizationInvitation') {
        const invitation = await api.findOrganizationInvitation(org, uuid);
        if (invitation === undefined) return OUTCOME.alreadyGone('already gone (not found)', `Invitation ${label(t)} does not exist`);
        if (invitation.state === 'REVOKED' || invitation.state === 'EXPIRED')
          return OUTCOME.alreadyGone(`already ${invitation.state.toLowerCase()}`, `Invitation ${label(t)} is already ${invitation.state.toLowerCase()}`);
        if (invitation.state !== 'PENDING') {
          return OUTCOME.other(
            'not-applicable',
            `invitation ${invitation.state.toLowerCase()}`,
            `Invitation ${label(t)} was already ${invitation.state.toLowerCase()}: the grant is now a membership; demote or remove the member instead`,
          );
        }
        await api.revokeOrganizationInvitation(invitation.id);
        return OUTCOME.done(`Revoked invitation ${label(t)} (${invitation.role}): it can no longer be accepted`, { facts: { invitation_state: 'REVOKED' } });
      }
      if (t.type !== 'OrganizationMember') throw new PreconditionError(`revoke-grant acts on an OrganizationMember or OrganizationInvitation, not ${t.type}`);
      const member = await api.findOrganizationMember(org, uuid);
      if (member === undefined) return OUTCOME.alreadyGone('already gone (not found)', `Organization member ${label(t)} no longer exists`);
      if (member.role === 'MEMBER') return OUTCOME.alreadyGone('already a member', `Organization member ${label(t)} is already a plain MEMBER`);
      await api.setOrganizationMemberRole(member.id, 'MEMBER');
      return OUTCOME.done(`Demoted organization member ${label(t)} (user ${member.user.uuid}) from ${member.role} to MEMBER`, { facts: { user_uuid: member.user.uuid, role_before: member.role } });
    }
    case 'remove-member': {
      const api = buildkiteApi(deps, record);
      const org = requireId('slug', 'the organization slug', need(t.org, 'the organization slug is unknown'));
      const uuid = requireId('uuid', 'the user uuid', t.uid);
      const member = t.type === 'OrganizationMember' ? await api.findOrganizationMember(org, uuid) : await api.findMembershipOfUser(org, uuid);
      if (member === undefined) return OUTCOME.alreadyGone('already gone (not a member)', `User ${label(t)} is not a member of ${org}`);
      await api.deleteOrganizationMember(member.id);
      return OUTCOME.done(`Removed user ${label(t)} (membership ${member.uuid}, ${member.role}) from ${org}; invite them again once the account is recovered`, {
        facts: { membership_uuid: member.uuid, role_before: member.role },
      });
    }
    case 'cancel-job': {
      const api = buildkiteApi(deps, record);
      const uuid = requireId('uuid', 'the job uuid', t.uid);
      const job = await api.findJob(uuid);
      if (job === undefined) return OUTCOME.alreadyGone('already gone (not found)', `Job ${label(t)} does not exist`);
      if (!job.command) return OUTCOME.other('not-applicable', 'not a command job', `Job ${label(t)} is a block, trigger or wait job: nothing runs in it to cancel`);
      if (FINISHED_JOB_STATES.has(job.state)) return OUTCOME.alreadyGone(`already ${job.state.toLowerCase()}`, `Job ${label(t)} is already ${job.state.toLowerCase()}: nothing to cancel`);
      await api.cancelJob(job.id);
      return OUTCOME.done(`Canceled job ${label(t)} (was ${job.state.toLowerCase()}); an open terminal session ends with it`, { facts: { state_before: job.state } });
    }
  }
}

/**
 * The slug to archive: a responder's (runbook input, `attrs.slug`), else Buildkite's answer for the
 * pipeline's uuid. Never the name in the finding: an audit subject's name is a display name, so a
 * pipeline named "deploy-prod" would get the real deploy-prod archived.
 */
async function pipelineSlug(api: BuildkiteApi, t: Target, org: string): Promise<string | { outcome: Outcome }> {
  const given = t.attrs?.['slug'];
  if (given !== undefined) return String(given);
  const p = await api.pipelineByUuid(t.uid);
  if (p === undefined) return { outcome: OUTCOME.alreadyGone('already gone (not found)', `Pipeline ${label(t)} does not exist`) };
  if (p.uuid !== t.uid || p.org !== org || !isSlug(p.slug)) {
    return { outcome: OUTCOME.failed('pipeline lookup mismatch', `Pipeline ${label(t)}: Buildkite answered with another pipeline or organization; nothing archived`) };
  }
  return p.slug;
}
