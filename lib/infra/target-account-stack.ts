import { ArnFormat, CfnOutput, CfnParameter, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { DEFAULT_CONTAINMENT_ROLE_NAME, SESSION_TAG } from '../containment/cross-account.ts';
import { ROTATE_SECRET_ACTIONS, SECRET_LOOKUP_TAGS } from './containment-access.ts';
import { suppress } from './suppressions.ts';

/** The role tag Kitewatch's containment roles carry; the target accounts trust only roles with it. */
export const CONTAINMENT_PRINCIPAL_TAG = 'kitewatch:containment';

export interface TargetAccountStackProps extends StackProps {
  /** The account Kitewatch runs in: its containment roles assume this role. */
  readonly kitewatchAccount: string;
  /** aws.stackPrefix: the value of the kitewatch:containment tag on the roles allowed in. */
  readonly stackPrefix: string;
  /** @default kitewatch-containment */
  readonly roleName?: string;
  /** aws.containment.oidcRoleBoundaryPolicy; without it the role gets no iam:PutRolePolicy. */
  readonly oidcRoleBoundaryPolicy?: string | undefined;
}

/**
 * The containment role in one target account, environment-agnostic so that one template serves
 * every account (deploy it with CloudFormation StackSets; the external id is a parameter, set per
 * account instance). Kitewatch's contain and runbook roles may assume it only with the external
 * id, only when they carry the kitewatch:containment tag, and only with session tags naming the
 * finding and the action. It may rotate secrets tagged for Kitewatch and deny older sessions of
 * roles capped by the OIDC boundary: nothing else.
 */
export class TargetAccountStack extends Stack {
  readonly role: iam.Role;
  readonly externalId: CfnParameter;

  constructor(scope: Construct, id: string, props: TargetAccountStackProps) {
    super(scope, id, props);
    this.externalId = new CfnParameter(this, 'ExternalId', {
      type: 'String',
      noEcho: true,
      minLength: 2,
      maxLength: 1224,
      allowedPattern: '[\\w+=,.@:/-]*',
      description: "The external id for this account: containment.accounts[].externalId in Kitewatch's config.",
    });
    const kitewatch = new iam.AccountPrincipal(props.kitewatchAccount);
    const taggedCaller = { [`aws:PrincipalTag/${CONTAINMENT_PRINCIPAL_TAG}`]: props.stackPrefix };
    this.role = new iam.Role(this, 'Role', {
      roleName: props.roleName ?? DEFAULT_CONTAINMENT_ROLE_NAME,
      description: `Kitewatch containment from account ${props.kitewatchAccount}: rotate tagged secrets, deny older sessions of boundary-capped roles`,
      assumedBy: kitewatch.withConditions({ StringEquals: { 'sts:ExternalId': this.externalId.valueAsString, ...taggedCaller } }),
    });
    this.role.assumeRolePolicy?.addStatements(
      new iam.PolicyStatement({
        actions: ['sts:TagSession'],
        principals: [kitewatch],
        conditions: {
          StringEquals: taggedCaller,
          'ForAllValues:StringEquals': { 'aws:TagKeys': [SESSION_TAG.finding, SESSION_TAG.action] },
          Null: { [`aws:RequestTag/${SESSION_TAG.finding}`]: 'false' },
        },
      }),
    );

    const anySecret = this.formatArn({ service: 'secretsmanager', region: '*', resource: 'secret', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const statements = SECRET_LOOKUP_TAGS.map(
      (tag, i) =>
        new iam.PolicyStatement({
          sid: `RotateSecretsTagged${i}`,
          actions: [...ROTATE_SECRET_ACTIONS],
          resources: [anySecret],
          conditions: { Null: { [`aws:ResourceTag/${tag}`]: 'false' } },
        }),
    );
    statements.push(
      new iam.PolicyStatement({ sid: 'FindSecretsAndNewValues', actions: ['secretsmanager:ListSecrets', 'secretsmanager:GetRandomPassword'], resources: ['*'] }),
      new iam.PolicyStatement({
        sid: 'SecretsEncryptedWithKeysOfThisAccount',
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [this.formatArn({ service: 'kms', region: '*', resource: 'key', resourceName: '*' })],
        conditions: { StringLike: { 'kms:ViaService': 'secretsmanager.*.amazonaws.com' } },
      }),
    );
    if (props.oidcRoleBoundaryPolicy !== undefined) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'DenyOlderSessionsOfBoundedRoles',
          actions: ['iam:PutRolePolicy'],
          resources: [this.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: '*' })],
          conditions: { StringEquals: { 'iam:PermissionsBoundary': this.formatArn({ service: 'iam', region: '', resource: 'policy', resourceName: props.oidcRoleBoundaryPolicy }) } },
        }),
      );
    }
    const policy = new iam.ManagedPolicy(this, 'Policy', {
      description: 'Kitewatch containment: rotate secrets tagged kitewatch:buildkite-uid/-name; deny older sessions of roles with the OIDC boundary',
      statements,
      roles: [this.role],
    });
    suppress(policy, {
      nag: [
        'AwsSolutions-IAM5[Resource::*]',
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:*:<AWS::AccountId>:secret:*]`,
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:*:<AWS::AccountId>:key/*]`,
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*]`,
      ],
      reason:
        'One template for every target account (StackSets): secrets qualify by the kitewatch tag (Null condition on aws:ResourceTag), keys only via Secrets Manager, roles only with the OIDC permissions boundary (iam:PermissionsBoundary); ListSecrets and GetRandomPassword have no resources.',
    });
    suppress(policy, {
      checkov: ['CKV_AWS_111', 'CKV_AWS_109', 'CKV_AWS_108', 'CKV_AWS_110', 'CKV_AWS_107'],
      reason:
        'Write access is constrained by conditions checkov does not read: the kitewatch secret tags, kms:ViaService secretsmanager, iam:PermissionsBoundary on the roles; the trust policy requires the external id and the caller tag.',
    });
    new CfnOutput(this, 'RoleArn', { value: this.role.roleArn, description: 'The containment role Kitewatch assumes in this account' });
  }
}
