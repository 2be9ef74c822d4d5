/**
 * Least privilege for the containment actions, as IAM statements built from the `containment`
 * config: the secrets and roles it names, never "any secret" or "any role". Shared by the contain
 * Lambda and the runbook Lambdas, so an action has the same reach whoever runs it.
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { ActionId } from '../containment/actions.ts';
import type { ContainmentConfig } from '../containment/config.ts';
import { TAG } from '../containment/rotation.ts';
import { roleResource, secretResource } from './arns.ts';
import { nagResource, suppress } from './suppressions.ts';

/** Actions that call the Buildkite API (rotate-secret does for agent token secrets). */
export const BUILDKITE_ACTIONS: ReadonlySet<ActionId> = new Set<ActionId>([
  'revoke-agent-token',
  'stop-agent',
  'rotate-secret',
  'pause-queue',
  'cancel-build',
  'archive-pipeline',
  'revoke-grant',
  'remove-member',
  'cancel-job',
]);

/** What rotate-secret calls on a secret (lib/containment/rotation.ts): the four-step protocol or RotateSecret. */
export const ROTATE_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
  'secretsmanager:RotateSecret',
] as const;

/** Tags by which rotate-secret finds secrets that no mapping names (containment.secretTagLookup). */
export const SECRET_LOOKUP_TAGS = [TAG.buildkiteUid, TAG.buildkiteName] as const;

export interface ContainmentAccessProps {
  readonly containment: ContainmentConfig;
  /** aws.containment.oidcRoleBoundaryPolicy: the boundary a role must carry for revoke-role-sessions to write to it. */
  readonly oidcRoleBoundaryPolicy?: string | undefined;
}

/**
 * Grants for what an action touches in AWS. Each method adds statements to one role and, where
 * a wildcard cannot be avoided, acknowledges exactly that finding on that role with its reason.
 */
export class ContainmentAccess {
  readonly #config: ContainmentConfig;
  readonly #boundary: string | undefined;

  constructor(props: ContainmentAccessProps) {
    this.#config = props.containment;
    this.#boundary = props.oidcRoleBoundaryPolicy;
    if (this.#config.oidcRoles.length > 0 && this.#boundary === undefined) {
      throw new Error(
        'containment.oidcRoles is set but aws.containment.oidcRoleBoundaryPolicy is not. IAM cannot limit which document iam:PutRolePolicy writes, ' +
          'so revoke-role-sessions may only write to roles capped by a permissions boundary: attach one to each OIDC role and name it there (docs/deploy.md).',
      );
    }
  }

  /** The secrets rotate-secret may rotate by mapping (exact resources, deduplicated). */
  mappedSecretResources(stack: Stack): string[] {
    const refs = this.#config.secretMappings.flatMap((m) => m.secretsManager);
    return [...new Set(refs.map((ref) => secretResource(stack, ref)))].sort();
  }

  /** The OIDC roles revoke-role-sessions may put its deny policy on. */
  roleResources(stack: Stack): string[] {
    return [...new Set(this.#config.oidcRoles.map((r) => roleResource(stack, r.role)))].sort();
  }

  /** rotate-secret: the mapped secrets by ARN; tagged secrets by tag condition when tag lookup is on. */
  grantRotateSecrets(role: iam.Role): void {
    const stack = Stack.of(role);
    const mapped = this.mappedSecretResources(stack);
    if (mapped.length > 0) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'RotateMappedSecrets', actions: [...ROTATE_SECRET_ACTIONS], resources: mapped }));
    }
    // A new random value for secrets without a rotation Lambda; the API has no resource.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'RandomSecretValues', actions: ['secretsmanager:GetRandomPassword'], resources: ['*'] }));
    suppress(role, {
      nag: ['AwsSolutions-IAM5[Resource::*]'],
      reason: 'secretsmanager:GetRandomPassword and ListSecrets (tag lookup) have no resource-level permissions: the Secrets Manager API takes no secret for them.',
    });
    if (!this.#config.secretTagLookup) return;

    const anySecret = stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    SECRET_LOOKUP_TAGS.forEach((tag, i) => {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: `RotateSecretsTagged${i}`,
          actions: [...ROTATE_SECRET_ACTIONS],
          resources: [anySecret],
          // Null false: the tag is present. Whoever may tag a secret may make it rotatable.
          conditions: { Null: { [`aws:ResourceTag/${tag}`]: 'false' } },
        }),
      );
    });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'FindSecretsByTag', actions: ['secretsmanager:ListSecrets'], resources: ['*'] }));
    suppress(role, {
      nag: [`AwsSolutions-IAM5[${nagResource(role, anySecret)}]`],
      reason: `containment.secretTagLookup: rotate-secret may act on any secret, but only one carrying the ${SECRET_LOOKUP_TAGS.join(' or ')} tag (an IAM Null condition on aws:ResourceTag); mapped secrets are named exactly.`,
    });
  }

  /** revoke-role-sessions: iam:PutRolePolicy on the configured OIDC roles only (none configured: no statement). */
  grantRevokeRoleSessions(role: iam.Role): void {
    const stack = Stack.of(role);
    const roles = this.roleResources(stack);
    if (roles.length === 0 || this.#boundary === undefined) return;
    // IAM has no condition key for an inline policy's name or document, so the statement cannot
    // pin what is written. iam:PermissionsBoundary can: only roles capped by the boundary qualify,
    // and no inline policy lifts a role above its boundary.
    const boundaries = [...new Set(roles.map((arn) => boundaryArn(stack, arn, this.#boundary as string)))].sort();
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DenyOlderSessionsOfOidcRoles',
        actions: ['iam:PutRolePolicy'],
        resources: roles,
        conditions: { StringEquals: { 'iam:PermissionsBoundary': boundaries } },
      }),
    );
  }

  /** Everything `actions` need in AWS (Buildkite access is the API token, granted separately). */
  grantActions(role: iam.Role, actions: ReadonlySet<ActionId>): void {
    if (actions.has('rotate-secret')) this.grantRotateSecrets(role);
    if (actions.has('revoke-role-sessions')) this.grantRevokeRoleSessions(role);
  }
}

/** The actions the policy can schedule automatically. */
export function policyActions(containment: ContainmentConfig): Set<ActionId> {
  return new Set(containment.policy.flatMap((rule) => rule.actions));
}

/** The boundary policy ARN in the account of `roleArn` (a role named without an ARN is in this stack's account). */
export function boundaryArn(stack: Stack, roleArn: string, policy: string): string {
  const account = /^arn:aws[a-z-]*:iam::(\d{12}):role\//.exec(roleArn)?.[1];
  if (account === undefined) return stack.formatArn({ service: 'iam', region: '', resource: 'policy', resourceName: policy });
  return `arn:${stack.partition}:iam::${account}:policy/${policy}`;
}
