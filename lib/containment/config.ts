import * as z from 'zod/mini';
import '../config/zod-en.ts';
import { ENTITY_TYPES } from '../findings/contract.ts';
import { ACTION_IDS, ACTIONS, PROTECTABLE_TYPES, type ActionId } from './actions.ts';
import { SLUG_PATTERN, UUID_PATTERN } from '../contracts/ids.ts';
import { TargetAccount } from './cross-account.ts';

export { PROTECTABLE_TYPES };

/**
 * `containment` in kitewatch.config.json: mode, policy (which actions follow which detector at
 * which severity), protected entities, blast-radius limits, approvals and the mappings from
 * Buildkite entities to AWS resources. Owned by the containment module.
 */

export const SEVERITY_NAMES = ['informational', 'low', 'medium', 'high', 'critical'] as const;
export type SeverityName = (typeof SEVERITY_NAMES)[number];
/** OCSF severity_id of each name. */
export const SEVERITY_IDS: Readonly<Record<SeverityName, number>> = { informational: 1, low: 2, medium: 3, high: 4, critical: 5 };

const ActionIdSchema = z.enum(ACTION_IDS);
const nonEmpty = () => z.string().check(z.minLength(1));

export const PolicyRule = z
  .strictObject({
    detector: nonEmpty().check(z.describe("Detector id, as in the finding's `finding_info.analytic.uid` (e.g. `unusual-ip`).")),
    minSeverity: z._default(z.enum(SEVERITY_NAMES), 'low').check(z.describe('Lowest finding severity the rule applies to (OCSF severity: informational, low, medium, high, critical).')),
    targetTypes: z
      .optional(z.array(z.enum(ENTITY_TYPES)).check(z.minLength(1)))
      .check(z.describe("Apply only when the finding's target resource has one of these types (e.g. `AgentToken`, `ClusterToken`). Absent: any target.")),
    actions: z._default(z.array(ActionIdSchema), []).check(z.describe("Actions, in order, for the finding's entities. Empty: notify only (the finding still goes to the SIEM).")),
  })
  .check(
    z.superRefine((rule, ctx) => {
      rule.actions.forEach((a, i) => {
        if (!ACTIONS[a].automatic) {
          ctx.addIssue({ code: 'custom', path: ['actions', i], message: `"${a}" is a runbook-only action (no finding names its target); run it with \`kitewatch runbook ${a}\`` });
        }
      });
    }),
  );
export type PolicyRule = z.infer<typeof PolicyRule>;

/** The default policy (docs/runbooks.md explains it). */
export const DEFAULT_POLICY: readonly z.input<typeof PolicyRule>[] = [
  { detector: 'unusual-ip', minSeverity: 'low', targetTypes: ['AgentToken', 'ClusterToken'], actions: ['revoke-agent-token', 'stop-agent'] },
  { detector: 'token-spike', minSeverity: 'low', targetTypes: ['AgentToken', 'ClusterToken'], actions: ['revoke-agent-token', 'stop-agent'] },
  { detector: 'secret-access', minSeverity: 'low', actions: ['rotate-secret'] },
  { detector: 'break-glass-edit', actions: [] },
  { detector: 'monitoring-disabled', actions: [] },
  { detector: 'privilege-grant', minSeverity: 'high', actions: ['revoke-grant'] },
  // Buildkite's GraphQL API has no mutation that revokes an OAuth authorization or an API application.
  { detector: 'third-party-access', actions: [] },
  { detector: 'interactive-session', minSeverity: 'high', actions: ['cancel-job'] },
  { detector: 'account-takeover', minSeverity: 'high', actions: ['remove-member'] },
];

/**
 * Types whose names only admins (or AWS) set; a Buildkite secret's key is fixed by the cluster
 * maintainer who creates it. Everything else is named by whoever creates it:
 * agents name themselves (a leaked token picks "prod-deployer-rogue1"), users pick display names,
 * pipelines and API tokens are named by members. A name pattern protects only these.
 */
export const ADMIN_NAMED_TYPES = ['Cluster', 'Queue', 'Organization', 'Secret', 'SecretsManagerSecret', 'IamRole'] as const;
const isAdminNamed = (t: string | undefined): boolean => t !== undefined && (ADMIN_NAMED_TYPES as readonly string[]).includes(t);

export const ProtectedEntity = z
  .strictObject({
    type: z.optional(z.enum(PROTECTABLE_TYPES)).check(z.describe('Entity type (e.g. `AgentToken`, `Agent`, `SecretsManagerSecret`, `IamRole`). Absent: any type.')),
    uid: z.optional(nonEmpty()).check(z.describe('Exact uuid / ARN of the entity.')),
    name: z
      .optional(nonEmpty())
      .check(
        z.describe(
          `Name of the entity; \`*\` matches any run of characters. Only for types whose names admins set (${ADMIN_NAMED_TYPES.join(', ')}): agents, users, pipelines and tokens are named by whoever creates them.`,
        ),
      ),
    cluster: z
      .optional(z.string().check(z.regex(UUID_PATTERN, 'must be a cluster UUID')))
      .check(z.describe('Agents only: protect every agent Buildkite placed in this cluster (looked up from Buildkite before acting, never from what the agent reports).')),
    queue: z.optional(nonEmpty()).check(z.describe('Agents only: protect every agent Buildkite placed in this queue: its UUID, or its key together with `cluster`.')),
    reason: z.optional(z.string()).check(z.describe('Why it is protected; shown in the skipped Remediation Activity.')),
  })
  .check(
    z.refine((p) => p.uid !== undefined || p.name !== undefined || p.cluster !== undefined || p.queue !== undefined, {
      message: 'a protected entity needs a uid, a name (admin-named types only), or for agents a cluster or queue',
    }),
    z.superRefine((p, ctx) => {
      if (p.name !== undefined && !isAdminNamed(p.type)) {
        ctx.addIssue({
          code: 'custom',
          path: ['name'],
          message: `a name pattern cannot protect ${p.type === undefined ? 'entities of any type' : `${/^[AEIOU]/.test(p.type) ? 'an' : 'a'} ${p.type}`}: its name is chosen by whoever creates it (an attacker with a leaked agent token names their agents "prod-deployer-*" too). Use its uid, or for agents the cluster or queue; names are allowed for ${ADMIN_NAMED_TYPES.join(', ')}`,
        });
      }
      if ((p.cluster !== undefined || p.queue !== undefined) && p.type !== 'Agent') {
        ctx.addIssue({ code: 'custom', path: [p.cluster !== undefined ? 'cluster' : 'queue'], message: 'cluster and queue protect agents: set type "Agent"' });
      }
      if (p.queue !== undefined && !UUID_PATTERN.test(p.queue) && p.cluster === undefined) {
        ctx.addIssue({ code: 'custom', path: ['queue'], message: 'a queue key is unique only within its cluster: give the queue UUID, or the cluster too' });
      }
    }),
  );
export type ProtectedEntity = z.infer<typeof ProtectedEntity>;

const perHour = (n: number, what: string) => z._default(z.int().check(z.gte(0)), n).check(z.describe(`Most ${what} per hour; past it, further ones wait for approval. 0: always wait.`));

export const BlastRadiusConfig = z
  .prefault(
    z.strictObject({
      'revoke-agent-token': perHour(5, 'agent tokens revoked'),
      'stop-agent': perHour(20, 'agents stopped'),
      'rotate-secret': perHour(5, 'secrets rotated'),
      'revoke-role-sessions': perHour(3, 'roles whose sessions are revoked'),
      'pause-queue': perHour(2, 'queues paused'),
      'cancel-build': perHour(20, 'builds canceled'),
      'archive-pipeline': perHour(2, 'pipelines archived'),
      'revoke-grant': perHour(3, 'admin grants revoked'),
      'remove-member': perHour(2, 'users removed from the organization'),
      'cancel-job': perHour(10, 'jobs canceled'),
    }),
    {},
  )
  .check(z.describe('Blast-radius limit: automatic actions of each kind per hour (wall clock), counted in the state store.'));

export const SecretMapping = z.strictObject({
  buildkite: z
    .strictObject({
      type: z._default(z.enum(ENTITY_TYPES), 'Secret').check(z.describe('Type of the Buildkite entity (default `Secret`, a Buildkite secret).')),
      uid: z.optional(nonEmpty()).check(z.describe('Its uuid.')),
      name: z
        .optional(nonEmpty())
        .check(
          z.describe(
            'For a Buildkite secret only: its key (fixed by the cluster maintainer who made it). Other entities go by uid: a user renamed "deploy-bot" must not get deploy-bot\'s credential rotated.',
          ),
        ),
    })
    .check(
      z.refine((b) => b.uid !== undefined || b.name !== undefined, { message: 'needs a uid or a name' }),
      z.superRefine((b, ctx) => {
        if (b.name !== undefined && b.type !== 'Secret') {
          ctx.addIssue({
            code: 'custom',
            path: ['name'],
            message: `${/^[AEIOU]/.test(b.type) ? 'an' : 'a'} ${b.type} is matched by its uid only: its name is chosen by whoever controls it (a user can rename themself after the identity whose credential this maps)`,
          });
        }
      }),
      z.describe('The Buildkite entity a finding names.'),
    ),
  secretsManager: z.array(nonEmpty()).check(z.minLength(1), z.describe('ARNs or names of the Secrets Manager secrets that hold the same credential.')),
  rotation: z
    ._default(z.enum(['auto', 'random', 'buildkite-agent-token']), 'auto')
    .check(z.describe('How to make the new value when the secret has no rotation Lambda: `auto` reads the `kitewatch:rotation` tag (default random).')),
  jsonKey: z.optional(nonEmpty()).check(z.describe('For `random` rotation of a JSON secret: the key whose value is replaced.')),
});
export type SecretMapping = z.infer<typeof SecretMapping>;

export const OidcRole = z.strictObject({
  role: nonEmpty().check(z.describe('IAM role name or ARN assumed by Buildkite jobs through OIDC (AssumeRoleWithWebIdentity).')),
  pipelines: z
    .optional(z.array(z.string().check(z.refine((v) => UUID_PATTERN.test(v) || SLUG_PATTERN.test(v), { message: 'must be a pipeline UUID or slug' }))).check(z.minLength(1)))
    .check(
      z.describe(
        "Pipelines whose jobs assume it, by uuid or by slug (the OIDC token's `pipeline_slug` claim). A finding's pipeline selects the role by its uuid, or by the slug Buildkite reports for that uuid (enforce mode), never by the name in the event. Absent: any finding of the policy rule.",
      ),
    ),
});
export type OidcRole = z.infer<typeof OidcRole>;

export const ApprovalConfig = z.prefault(
  z.strictObject({
    required: z
      ._default(z.array(ActionIdSchema), ['revoke-role-sessions', 'pause-queue', 'archive-pipeline', 'revoke-grant', 'remove-member', 'cancel-job'])
      .check(z.describe("High-impact actions that always wait for a responder's approval when scheduled automatically.")),
    deadlineMinutes: z._default(z.int().check(z.gte(5), z.lte(7 * 24 * 60)), 60).check(z.describe('How long an approval request waits; past it the action is not run.')),
  }),
  {},
);

export const ContainmentConfig = z.prefault(
  z.strictObject({
    mode: z._default(z.enum(['off', 'dry-run', 'enforce']), 'dry-run').check(z.describe('off: no actions; dry-run: report what would be done; enforce: act.')),
    policy: z
      ._default(z.array(PolicyRule), () => DEFAULT_POLICY.map((r) => PolicyRule.parse(r)))
      .check(
        z.describe(
          'Rules from detector and severity to actions. Replaces the default policy (unusual-ip and token-spike about an agent token: revoke-agent-token + stop-agent; secret-access: rotate-secret; break-glass-edit and monitoring-disabled: notify only).',
        ),
      ),
    protected: z
      ._default(z.array(ProtectedEntity), [])
      .check(z.describe('Entities never acted on automatically (a skipped Remediation Activity says why). Runbooks run by a responder are not affected.')),
    blastRadius: BlastRadiusConfig,
    approval: ApprovalConfig.check(z.describe('Approval of high-impact actions (a Step Functions task token on AWS; pending only, locally).')),
    secretMappings: z
      ._default(z.array(SecretMapping), [])
      .check(z.describe('Buildkite entity -> Secrets Manager secrets, for rotate-secret. Secrets tagged `kitewatch:buildkite-uid` or `kitewatch:buildkite-name` are found too.')),
    secretTagLookup: z._default(z.boolean(), true).check(z.describe('Also find Secrets Manager secrets by their `kitewatch:buildkite-uid` / `kitewatch:buildkite-name` tags (ListSecrets).')),
    oidcRoles: z._default(z.array(OidcRole), []).check(z.describe('AWS roles assumed by Buildkite jobs through OIDC, for revoke-role-sessions.')),
    accounts: z
      ._default(z.array(TargetAccount), [])
      .check(
        z.describe(
          "Other AWS accounts holding targets: rotate-secret and revoke-role-sessions act on a secret or role whose ARN names one of them by assuming that account's containment role (STS, external id, session tags naming the finding).",
        ),
      ),
    retentionDays: z._default(z.int().check(z.gte(1), z.lte(400)), 30).check(z.describe('How long completed actions are remembered, so a redelivered or replayed finding does not repeat them.')),
  }),
  {},
);
export type ContainmentConfig = z.infer<typeof ContainmentConfig>;
export type ContainmentConfigInput = z.input<typeof ContainmentConfig>;

/** The hourly limit for an action. */
export function hourlyLimit(config: ContainmentConfig, action: ActionId): number {
  return config.blastRadius[action];
}
