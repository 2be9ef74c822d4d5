/**
 * Containment in other AWS accounts. Buildkite shops keep agents' secrets and OIDC roles in
 * several accounts; rotate-secret and revoke-role-sessions act there by assuming that account's
 * containment role (deployed by lib/infra/target-account-stack.ts) through STS, with the
 * account's external id and session tags naming the finding, so CloudTrail in the target account
 * says which finding made each call. The account comes from the target's ARN, which the
 * organization controls; a target named without an ARN is in Kitewatch's own account.
 */
import type { AssumeRoleCommandInput, Credentials } from '@aws-sdk/client-sts';
import type { IAMClient } from '@aws-sdk/client-iam';
import * as z from 'zod/mini';
import type { SecretsManagerPort } from './rotation.ts';

/** The role name the target-account stack creates unless configured otherwise. */
export const DEFAULT_CONTAINMENT_ROLE_NAME = 'kitewatch-containment';

/** Session tag keys: the target account's trust policy allows exactly these. */
export const SESSION_TAG = { finding: 'kitewatch:finding', action: 'kitewatch:action' } as const;

// `id`, not `account`: checkov's CKV_AWS_45 reads "account": <12 digits> in a Lambda environment
// (where this config travels) as a hard-coded secret. An account id is not a secret.
export const TargetAccount = z.strictObject({
  id: z.string().check(z.regex(/^\d{12}$/, 'must be a 12-digit AWS account id'), z.describe('AWS account id where targets (secrets, OIDC roles) live.')),
  externalId: z
    .string()
    .check(
      z.regex(/^[\w+=,.@:/-]{2,1224}$/, 'must be 2-1224 characters of letters, digits and +=,.@:/-_ (the sts:ExternalId format)'),
      z.describe("The external id the account's containment role requires (sts:ExternalId): the same value in this config and in that account's stack."),
    ),
  roleName: z
    ._default(z.string().check(z.regex(/^[\w+=,.@-]{1,64}$/, 'must be an IAM role name')), DEFAULT_CONTAINMENT_ROLE_NAME)
    .check(z.describe('Name of the containment role in that account (lib/infra/target-account-stack.ts creates it).')),
});
export type TargetAccount = z.infer<typeof TargetAccount>;

/** The account id in an ARN (`arn:aws:secretsmanager:eu-west-1:111122223333:secret:x`, `arn:aws:iam::111122223333:role/y`). */
export function accountOfArn(value: string): string | undefined {
  if (!value.startsWith('arn:')) return undefined;
  const account = value.split(':')[4];
  return account !== undefined && /^\d{12}$/.test(account) ? account : undefined;
}

/** The region in an ARN, when it has one (IAM ARNs do not). */
export function regionOfArn(value: string): string | undefined {
  const region = value.startsWith('arn:') ? value.split(':')[3] : undefined;
  return region === '' ? undefined : region;
}

function partitionOfArn(value: string): string {
  return value.startsWith('arn:') ? (value.split(':')[1] ?? 'aws') : 'aws';
}

export interface AssumedRole {
  readonly account: string;
  readonly roleArn: string;
  readonly externalId: string;
}

/** The role `execute` would assume for a target, or undefined when the target is in Kitewatch's own account (or not an ARN). */
export function roleForTarget(accounts: readonly TargetAccount[], targetUid: string): AssumedRole | undefined {
  const account = accountOfArn(targetUid);
  const entry = account === undefined ? undefined : accounts.find((a) => a.id === account);
  if (entry === undefined) return undefined;
  return { account: entry.id, roleArn: `arn:${partitionOfArn(targetUid)}:iam::${entry.id}:role/${entry.roleName}`, externalId: entry.externalId };
}

/** The AssumeRole request: external id, a session named after the action, tags naming the finding. */
export function assumeRoleRequest(role: AssumedRole, session: { readonly action: string; readonly findingUid: string }): AssumeRoleCommandInput {
  return {
    RoleArn: role.roleArn,
    RoleSessionName: `kitewatch-${session.action}`.slice(0, 64),
    ExternalId: role.externalId,
    DurationSeconds: 900,
    Tags: [
      { Key: SESSION_TAG.finding, Value: sessionTagValue(session.findingUid) },
      { Key: SESSION_TAG.action, Value: session.action },
    ],
  };
}

/** Session tag values allow letters, digits, spaces and _.:/=+-@, up to 256 characters. */
function sessionTagValue(value: string): string {
  const clean = value.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '_').slice(0, 256);
  return clean === '' ? 'unknown' : clean;
}

/** The clients an action uses in one account. */
export interface AccountClients {
  readonly secretsManager: SecretsManagerPort;
  readonly iam: Pick<IAMClient, 'send'>;
}

/** Assumes a role; the adapter wraps STS (lib/aws) so this module stays free of the SDK client. */
export type AssumeRole = (request: AssumeRoleCommandInput) => Promise<Credentials>;

export interface CrossAccountDeps {
  readonly accounts: readonly TargetAccount[];
  readonly assumeRole: AssumeRole;
  /** Clients acting with the assumed credentials (Secrets Manager in the target's region). */
  readonly clientsWith: (credentials: Credentials, region: string | undefined) => AccountClients;
}

/** What the executors ask: the role for a target (dry-run says it), and clients acting in its account. */
export interface CrossAccountAccess {
  roleFor(targetUid: string): AssumedRole | undefined;
  clientsFor(targetUid: string, session: { readonly action: string; readonly findingUid: string }): Promise<{ role: AssumedRole; clients: AccountClients } | undefined>;
}

export function createCrossAccountAccess(deps: CrossAccountDeps): CrossAccountAccess {
  return {
    roleFor: (targetUid) => roleForTarget(deps.accounts, targetUid),
    clientsFor: async (targetUid, session) => {
      const role = roleForTarget(deps.accounts, targetUid);
      if (role === undefined) return undefined;
      const credentials = await deps.assumeRole(assumeRoleRequest(role, session));
      return { role, clients: deps.clientsWith(credentials, regionOfArn(targetUid)) };
    },
  };
}
