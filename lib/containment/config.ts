import * as z from 'zod';
import { ENTITY_TYPES } from '../findings/contract.ts';
import { ACTION_IDS, ACTIONS, PROTECTABLE_TYPES, type ActionId } from './actions.ts';

export { PROTECTABLE_TYPES };

/**
 * `containment` in kitewatch.config.json: mode, policy (which actions follow which detector at
 * which severity), protected entities, blast-radius limits, approvals and the mappings from
 * Buildkite entities to AWS resources. Owned by the containment module (issue 5).
 */

export const SEVERITY_NAMES = ['informational', 'low', 'medium', 'high', 'critical'] as const;
export type SeverityName = (typeof SEVERITY_NAMES)[number];
/** OCSF severity_id of each name. */
export const SEVERITY_IDS: Readonly<Record<SeverityName, number>> = { informational: 1, low: 2, medium: 3, high: 4, critical: 5 };

const ActionIdSchema = z.enum(ACTION_IDS);

export const PolicyRule = z
  .object({
    detector: z.string().min(1).describe('Detector id, as in the finding\'s `finding_info.analytic.uid` (e.g. `unusual-ip`).'),
    minSeverity: z
      .enum(SEVERITY_NAMES)
      .default('low')
      .describe('Lowest finding severity the rule applies to (OCSF severity: informational, low, medium, high, critical).'),
    targetTypes: z
      .array(z.enum(ENTITY_TYPES))
      .min(1)
      .optional()
      .describe("Apply only when the finding's target resource has one of these types (e.g. `AgentToken`, `ClusterToken`). Absent: any target."),
    actions: z
      .array(ActionIdSchema)
      .default([])
      .describe('Actions, in order, for the finding\'s entities. Empty: notify only (the finding still goes to the SIEM).'),
  })
  .strict()
  .superRefine((rule, ctx) => {
    rule.actions.forEach((a, i) => {
      if (!ACTIONS[a].automatic) {
        ctx.addIssue({ code: 'custom', path: ['actions', i], message: `"${a}" is a runbook-only action (no finding names its target); run it with \`kitewatch runbook ${a}\`` });
      }
    });
  });
export type PolicyRule = z.infer<typeof PolicyRule>;

/** The default policy (docs/runbooks.md explains it). */
export const DEFAULT_POLICY: readonly z.input<typeof PolicyRule>[] = [
  { detector: 'unusual-ip', minSeverity: 'low', targetTypes: ['AgentToken', 'ClusterToken'], actions: ['revoke-agent-token', 'stop-agent'] },
  { detector: 'token-spike', minSeverity: 'low', targetTypes: ['AgentToken', 'ClusterToken'], actions: ['revoke-agent-token', 'stop-agent'] },
  { detector: 'secret-access', minSeverity: 'low', actions: ['rotate-secret'] },
  { detector: 'break-glass-edit', actions: [] },
  { detector: 'monitoring-disabled', actions: [] },
];

export const ProtectedEntity = z
  .object({
    type: z.enum(PROTECTABLE_TYPES).optional().describe('Entity type (e.g. `AgentToken`, `Agent`, `SecretsManagerSecret`, `IamRole`). Absent: any type.'),
    uid: z.string().min(1).optional().describe('Exact uuid / ARN of the entity.'),
    name: z
      .string()
      .min(1)
      .optional()
      .describe('Name of the entity (agent name, token description, pipeline slug, secret name); `*` matches any run of characters.'),
    reason: z.string().optional().describe('Why it is protected; shown in the skipped Remediation Activity.'),
  })
  .strict()
  .refine((p) => p.uid !== undefined || p.name !== undefined, { message: 'a protected entity needs a uid or a name' });
export type ProtectedEntity = z.infer<typeof ProtectedEntity>;

const perHour = (n: number, what: string) =>
  z.number().int().min(0).default(n).describe(`Most ${what} per hour; past it, further ones wait for approval. 0: always wait.`);

export const BlastRadiusConfig = z
  .object({
    'revoke-agent-token': perHour(5, 'agent tokens revoked'),
    'stop-agent': perHour(20, 'agents stopped'),
    'rotate-secret': perHour(5, 'secrets rotated'),
    'revoke-role-sessions': perHour(3, 'roles whose sessions are revoked'),
    'pause-queue': perHour(2, 'queues paused'),
    'cancel-build': perHour(20, 'builds canceled'),
    'archive-pipeline': perHour(2, 'pipelines archived'),
  })
  .strict()
  .prefault({})
  .describe('Blast-radius limit: automatic actions of each kind per hour (wall clock), counted in the state store.');

export const SecretMapping = z
  .object({
    buildkite: z
      .object({
        type: z.enum(ENTITY_TYPES).default('Secret').describe('Type of the Buildkite entity (default `Secret`, a Buildkite secret).'),
        uid: z.string().min(1).optional().describe('Its uuid.'),
        name: z.string().min(1).optional().describe('Its name (for a Buildkite secret: its key).'),
      })
      .strict()
      .refine((b) => b.uid !== undefined || b.name !== undefined, { message: 'needs a uid or a name' })
      .describe('The Buildkite entity a finding names.'),
    secretsManager: z
      .array(z.string().min(1))
      .min(1)
      .describe('ARNs or names of the Secrets Manager secrets that hold the same credential.'),
    rotation: z
      .enum(['auto', 'random', 'buildkite-agent-token'])
      .default('auto')
      .describe('How to make the new value when the secret has no rotation Lambda: `auto` reads the `kitewatch:rotation` tag (default random).'),
    jsonKey: z.string().min(1).optional().describe('For `random` rotation of a JSON secret: the key whose value is replaced.'),
  })
  .strict();
export type SecretMapping = z.infer<typeof SecretMapping>;

export const OidcRole = z
  .object({
    role: z.string().min(1).describe('IAM role name or ARN assumed by Buildkite jobs through OIDC (AssumeRoleWithWebIdentity).'),
    pipelines: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Pipeline slugs whose jobs assume it; a finding naming one of them selects the role. Absent: any finding of the policy rule.'),
  })
  .strict();
export type OidcRole = z.infer<typeof OidcRole>;

export const ApprovalConfig = z
  .object({
    required: z
      .array(ActionIdSchema)
      .default(['revoke-role-sessions', 'pause-queue', 'archive-pipeline'])
      .describe('High-impact actions that always wait for a responder\'s approval when scheduled automatically.'),
    deadlineMinutes: z
      .number()
      .int()
      .min(5)
      .max(7 * 24 * 60)
      .default(60)
      .describe('How long an approval request waits; past it the action is not run.'),
  })
  .strict()
  .prefault({});

export const ContainmentConfig = z
  .object({
    mode: z
      .enum(['off', 'dry-run', 'enforce'])
      .default('dry-run')
      .describe('off: no actions; dry-run: report what would be done; enforce: act.'),
    policy: z
      .array(PolicyRule)
      .default(() => DEFAULT_POLICY.map((r) => PolicyRule.parse(r)))
      .describe(
        'Rules from detector and severity to actions. Replaces the default policy (unusual-ip and token-spike about an agent token: revoke-agent-token + stop-agent; secret-access: rotate-secret; break-glass-edit and monitoring-disabled: notify only).',
      ),
    protected: z
      .array(ProtectedEntity)
      .default([])
      .describe('Entities never acted on automatically (a skipped Remediation Activity says why). Runbooks run by a responder are not affected.'),
    blastRadius: BlastRadiusConfig,
    approval: ApprovalConfig.describe('Approval of high-impact actions (a Step Functions task token on AWS; pending only, locally).'),
    secretMappings: z
      .array(SecretMapping)
      .default([])
      .describe('Buildkite entity -> Secrets Manager secrets, for rotate-secret. Secrets tagged `kitewatch:buildkite-uid` or `kitewatch:buildkite-name` are found too.'),
    secretTagLookup: z
      .boolean()
      .default(true)
      .describe('Also find Secrets Manager secrets by their `kitewatch:buildkite-uid` / `kitewatch:buildkite-name` tags (ListSecrets).'),
    oidcRoles: z
      .array(OidcRole)
      .default([])
      .describe('AWS roles assumed by Buildkite jobs through OIDC, for revoke-role-sessions.'),
    retentionDays: z
      .number()
      .int()
      .min(1)
      .max(400)
      .default(30)
      .describe('How long completed actions are remembered, so a redelivered or replayed finding does not repeat them.'),
  })
  .strict()
  .prefault({});
export type ContainmentConfig = z.infer<typeof ContainmentConfig>;
export type ContainmentConfigInput = z.input<typeof ContainmentConfig>;

/** The hourly limit for an action. */
export function hourlyLimit(config: ContainmentConfig, action: ActionId): number {
  return config.blastRadius[action];
}
