import { ENTITY_TYPES, type EntityType } from '../findings/contract.ts';

/**
 * The containment actions. Ids are a public contract (`command_uid` of every Remediation
 * Activity, runbook names, config keys); the metadata here feeds the events, the runbook
 * docs (docs/runbooks.md) and the policy validation.
 */
export const ACTION_IDS = [
  'revoke-agent-token',
  'stop-agent',
  'rotate-secret',
  'revoke-role-sessions',
  'pause-queue',
  'cancel-build',
  'archive-pipeline',
  'revoke-grant',
  'remove-member',
  'cancel-job',
] as const;
export type ActionId = (typeof ACTION_IDS)[number];

/** Runbooks: one per action, plus the approval answer. */
export const RUNBOOK_IDS = [...ACTION_IDS, 'approve-action'] as const;
export type RunbookId = (typeof RUNBOOK_IDS)[number];

/** The kind of thing an action changes (or skips): `type` in `unmapped.kitewatch.target`. */
export type TargetType = EntityType | 'SecretsManagerSecret' | 'IamRole' | 'Build';

/** What a protection or mapping can name: Buildkite entities plus the AWS resources actions touch. */
export const PROTECTABLE_TYPES = [...ENTITY_TYPES, 'SecretsManagerSecret', 'IamRole', 'Build'] as const;

export interface ActionSpec {
  readonly id: ActionId;
  readonly title: string;
  /** OCSF 7001 activity: 1 Isolate, 2 Evict, 4 Harden. */
  readonly activityId: 1 | 2 | 4;
  /** D3FEND countermeasure for `countermeasures[]`. */
  readonly d3fend: { readonly tactic: string; readonly technique?: { readonly uid: string; readonly name: string } };
  /**
   * Idempotency scope. `target`: once done for a target it is done (a revoked token stays
   * revoked), whichever finding asks again. `finding`: each new finding may do it again (a secret
   * read suspiciously after its rotation needs another rotation).
   */
  readonly dedupe: 'target' | 'finding';
  /** Policy can schedule it from a finding (cancel-build needs a build number no finding carries). */
  readonly automatic: boolean;
  readonly whenToUse: string;
  readonly changes: string;
  readonly undo: string;
  readonly permissions: string;
}

export const ACTIONS: Readonly<Record<ActionId, ActionSpec>> = {
  'revoke-agent-token': {
    id: 'revoke-agent-token',
    title: 'Revoke a Buildkite agent token',
    activityId: 2,
    d3fend: { tactic: 'Evict', technique: { uid: 'D3-CR', name: 'Credential Revoking' } },
    dedupe: 'target',
    automatic: true,
    whenToUse:
      'An agent token is used from an unexpected network, in an unusual burst, or is known to be leaked. Revoke it, then stop the agents that connected with it (revoking does not disconnect them).',
    changes:
      "Cluster tokens: finds the token's cluster (`GET /v2/organizations/{org}/clusters`, then `GET .../clusters/{cluster_id}/tokens`) and `DELETE .../clusters/{cluster_id}/tokens/{id}`. Legacy unclustered tokens: GraphQL `agentTokenRevoke` with a reason. A token already gone (404, not found, already revoked) counts as done. No new agent can register with the token; connected agents keep running.",
    undo: 'A revoked token cannot be restored. Create a new token for the cluster (Agents > cluster > Agent Tokens > New Token, or `POST .../clusters/{cluster_id}/tokens`), store it where your agents read it (for Secrets Manager, `rotate-secret` on the secret that holds it does this), and restart the agents.',
    permissions: 'Buildkite API token scopes `read_clusters`, `write_clusters`; GraphQL access for legacy tokens.',
  },
  'stop-agent': {
    id: 'stop-agent',
    title: 'Stop a Buildkite agent',
    activityId: 2,
    d3fend: { tactic: 'Evict', technique: { uid: 'D3-PT', name: 'Process Termination' } },
    dedupe: 'target',
    automatic: true,
    whenToUse: 'An agent connected with a compromised token from an unexpected network or in a suspicious burst, and is still connected. Revoke the token first so the agent cannot come back.',
    changes:
      '`PUT /v2/organizations/{org}/agents/{id}/stop` with `{"force": true}`: the agent stops accepting jobs and shuts down; a running job and its build are canceled. An agent no longer connected (400) or gone (404) counts as done.',
    undo: 'Start the agent again on its host (with a new token if the old one was revoked). Rebuild the canceled build from the Buildkite UI or `POST .../builds/{number}/rebuild`.',
    permissions: 'Buildkite API token scope `write_agents` of an admin user (or a user with the Stop Agents permission).',
  },
  'rotate-secret': {
    id: 'rotate-secret',
    title: 'Rotate an AWS Secrets Manager secret',
    activityId: 4,
    d3fend: { tactic: 'Harden', technique: { uid: 'D3-CRO', name: 'Credential Rotation' } },
    dedupe: 'finding',
    automatic: true,
    whenToUse:
      'A Buildkite secret was read by an unexpected pipeline, job or actor, and the credential behind it lives in AWS Secrets Manager (mapped in `containment.secretMappings` or tagged `kitewatch:buildkite-uid` / `kitewatch:buildkite-name`).',
    changes:
      'Where the secret has rotation configured: `RotateSecret` (its rotation Lambda does the work). Otherwise the four-step protocol in process: a new version staged AWSPENDING (`createSecret`), set, tested, then promoted to AWSCURRENT (`finishSecret`). A secret tagged `kitewatch:rotation=buildkite-agent-token` gets a new cluster agent token, and the old token is revoked only after the new one is current; others get a random value (or a random value in the JSON key named by `kitewatch:rotation-json-key`).',
    undo: 'The previous value stays available as the AWSPREVIOUS version: `aws secretsmanager update-secret-version-stage --secret-id ID --version-stage AWSCURRENT --move-to-version-id <AWSPREVIOUS id> --remove-from-version-id <AWSCURRENT id>`. A revoked agent token cannot be restored; keep the new one.',
    permissions:
      'IAM on the secret: `secretsmanager:DescribeSecret`, `GetSecretValue`, `PutSecretValue`, `UpdateSecretVersionStage`, `RotateSecret`, `GetRandomPassword`, `ListSecrets` (tag lookup); Buildkite `read_clusters`, `write_clusters` for agent token secrets.',
  },
  'revoke-role-sessions': {
    id: 'revoke-role-sessions',
    title: 'Revoke the sessions of an AWS role assumed through Buildkite OIDC',
    activityId: 2,
    d3fend: { tactic: 'Evict', technique: { uid: 'D3-ST', name: 'Session Termination' } },
    dedupe: 'finding',
    automatic: true,
    whenToUse:
      'A job that assumed an AWS role through Buildkite OIDC (AssumeRoleWithWebIdentity) is suspected of misuse, or its OIDC token leaked: temporary credentials stay valid until they expire unless denied.',
    changes:
      'Puts the inline policy `KitewatchRevokeOlderSessions` on the role: Deny `*` on `*` when `aws:TokenIssueTime` is before now. Credentials issued before that instant stop working at once; jobs that assume the role again get fresh, working credentials.',
    undo: 'Delete the inline policy: `aws iam delete-role-policy --role-name ROLE --policy-name KitewatchRevokeOlderSessions` (after the old sessions have expired, it no longer matters).',
    permissions: 'IAM `iam:PutRolePolicy` on the listed roles (configured in containment.oidcRoles), nothing else: the report is built from the call it made.',
  },
  'pause-queue': {
    id: 'pause-queue',
    title: "Pause a cluster queue's dispatch",
    activityId: 1,
    d3fend: { tactic: 'Isolate', technique: { uid: 'D3-EI', name: 'Execution Isolation' } },
    dedupe: 'finding',
    automatic: true,
    whenToUse: 'Jobs on a queue must not run while you investigate (its agents or the secrets they can read are suspected), without stopping the agents.',
    changes: "`POST /v2/organizations/{org}/clusters/{cluster_id}/queues/{id}/pause_dispatch` with a `dispatch_paused_note`: no new job is dispatched to the queue's agents; running jobs finish.",
    undo: 'Resume dispatch: `POST .../queues/{id}/resume_dispatch` (or Agents > cluster > queue > Resume).',
    permissions: 'Buildkite API token scope `write_clusters`.',
  },
  'cancel-build': {
    id: 'cancel-build',
    title: 'Cancel a build',
    activityId: 2,
    d3fend: { tactic: 'Evict', technique: { uid: 'D3-PT', name: 'Process Termination' } },
    dedupe: 'target',
    automatic: false,
    whenToUse: 'A running build is doing something it must not (exfiltration, a tampered pipeline step, a deploy that must not land).',
    changes:
      '`PUT /v2/organizations/{org}/pipelines/{pipeline}/builds/{number}/cancel` (build number, not UUID): a scheduled, running or failing build is canceled. A finished build (422) is left as it is and reported.',
    undo: 'Rebuild it: the Rebuild button, or `PUT .../builds/{number}/rebuild`.',
    permissions: 'Buildkite API token scope `write_builds`.',
  },
  'archive-pipeline': {
    id: 'archive-pipeline',
    title: 'Archive a pipeline',
    activityId: 1,
    d3fend: { tactic: 'Isolate' },
    // A responder may unarchive after review; a new finding must be able to archive again.
    dedupe: 'finding',
    automatic: true,
    whenToUse: 'A pipeline was tampered with (steps, repository, secrets access) and must not build until reviewed.',
    changes: '`POST /v2/organizations/{org}/pipelines/{slug}/archive`: the pipeline becomes read-only and hidden; no build can start. Builds, logs and artifacts are kept.',
    undo: 'Unarchive it: `POST .../pipelines/{slug}/unarchive` (or the pipeline settings page).',
    permissions: 'Buildkite API token scope `write_pipelines`.',
  },
  'revoke-grant': {
    id: 'revoke-grant',
    title: 'Revoke an admin grant (demote the member, or revoke the invitation)',
    activityId: 2,
    d3fend: { tactic: 'Evict', technique: { uid: 'D3-AL', name: 'Account Locking' } },
    dedupe: 'target',
    automatic: true,
    whenToUse: 'Organization admin rights were granted to a member or an invitation outside IaC (privilege-grant) and the grantor or the grantee is not trusted.',
    changes:
      'Membership: GraphQL `organizationMember(slug: "org/uuid")`, then `organizationMemberUpdate` with role MEMBER (a member already MEMBER counts as done). Invitation: `organizationInvitation(slug)`, then `organizationInvitationRevoke` while it is PENDING (ACCEPTED, EXPIRED or REVOKED counts as done or not applicable). Team maintainer grants are not revoked: the schema has no lookup of a team membership by its uuid; change the role in the team\'s settings.',
    undo: 'Grant the role again: `organizationMemberUpdate` with role ADMIN (Organization Settings > Users), or invite the person again.',
    permissions: 'Buildkite API token of an organization admin with GraphQL access.',
  },
  'remove-member': {
    id: 'remove-member',
    title: 'Remove a user from the organization',
    activityId: 2,
    d3fend: { tactic: 'Evict', technique: { uid: 'D3-AL', name: 'Account Locking' } },
    dedupe: 'target',
    automatic: true,
    whenToUse: 'A user account looks taken over (account-takeover): Buildkite has no suspend, so removing the membership is how the account loses access to the organization at once.',
    changes:
      "GraphQL `organization(slug).members` paged until the membership of the user uuid is found (a membership target is looked up directly with `organizationMember`), then `organizationMemberDelete`. A user who is no longer a member counts as done. The user's API tokens lose access to the organization with the membership.",
    undo: 'Invite the person again once they have recovered the account (Organization Settings > Users > Invite); team memberships and roles must be restored by hand or by IaC.',
    permissions: 'Buildkite API token of an organization admin with GraphQL access.',
  },
  'cancel-job': {
    id: 'cancel-job',
    title: 'Cancel a job',
    activityId: 2,
    d3fend: { tactic: 'Evict', technique: { uid: 'D3-PT', name: 'Process Termination' } },
    dedupe: 'target',
    automatic: true,
    whenToUse: 'Someone opened an interactive shell inside a running job (interactive-session) and it must end, with the job, now.',
    changes:
      'GraphQL `job(uuid)`, then `jobTypeCommandCancel` for a command job that has not finished. A finished or canceled job is left as it is and reported; block, trigger and wait jobs cannot be canceled this way.',
    undo: 'Retry the job (`jobTypeCommandRetry`, or the Retry button in the build).',
    permissions: 'Buildkite API token with GraphQL access and permission to cancel builds of the pipeline.',
  },
};

export function isActionId(value: string): value is ActionId {
  return (ACTION_IDS as readonly string[]).includes(value);
}
