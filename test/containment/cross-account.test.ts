/**
 * Multi-account containment on moto: rotate-secret and revoke-role-sessions act in another account
 * by assuming its containment role (STS AssumeRole with the external id and session tags naming
 * the finding); dry-run names the role it would assume and calls nothing. moto's STS hands out
 * credentials for the role's account but does not enforce trust policies (external id, principal
 * tags): the trust policy itself is asserted on the synthesized template (test/infra).
 */
import { randomUUID } from 'node:crypto';
import { CreateRoleCommand, GetRolePolicyCommand, IAMClient, NoSuchEntityException } from '@aws-sdk/client-iam';
import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient, type AssumeRoleCommandInput } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stsCrossAccountAccess } from '../../lib/aws/cross-account.ts';
import { ContainmentConfig } from '../../lib/containment/config.ts';
import { createCrossAccountAccess, SESSION_TAG, type CrossAccountAccess, type TargetAccount } from '../../lib/containment/cross-account.ts';
import { execute, preview, REVOKE_SESSIONS_POLICY, type ExecuteRequest, type ExecutionDeps } from '../../lib/containment/executors.ts';
import { awsClientConfig, uniqueName } from '../support/moto.ts';

const OTHER = '210987654321';
const target: TargetAccount = { id: OTHER, externalId: 'kw-ext-7f3a', roleName: 'kitewatch-containment' };
const ROLE_ARN = `arn:aws:iam::${OTHER}:role/kitewatch-containment`;

const sts = new STSClient(awsClientConfig());
const ownSm = new SecretsManagerClient(awsClientConfig());
const ownIam = new IAMClient(awsClientConfig());
let otherSm: SecretsManagerClient;
let otherIam: IAMClient;
const sent: AssumeRoleCommandInput[] = [];
let recorded: CrossAccountAccess;

/** Credentials for the other account, the way an administrator there would act (moto maps them to OTHER). */
async function actAsOther(): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken: string }> {
  const out = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${OTHER}:role/admin`, RoleSessionName: 'setup' }));
  const c = out.Credentials;
  return { accessKeyId: c?.AccessKeyId ?? '', secretAccessKey: c?.SecretAccessKey ?? '', sessionToken: c?.SessionToken ?? '' };
}

function deps(crossAccount: CrossAccountAccess): ExecutionDeps {
  return { buildkite: undefined, secretsManager: ownSm, iam: ownIam, now: Date.now, log: () => undefined, crossAccount };
}

beforeAll(async () => {
  const credentials = await actAsOther();
  otherSm = new SecretsManagerClient({ ...awsClientConfig(), credentials });
  otherIam = new IAMClient({ ...awsClientConfig(), credentials });
  // The STS adapter, with every AssumeRole request recorded on its way out.
  recorded = createCrossAccountAccess({
    accounts: [target],
    assumeRole: async (request) => {
      sent.push(request);
      const out = await sts.send(new AssumeRoleCommand(request));
      if (out.Credentials === undefined) throw new Error('no credentials');
      return out.Credentials;
    },
    clientsWith: (c, region) => {
      const config = {
        ...awsClientConfig(),
        ...(region !== undefined ? { region } : {}),
        credentials: { accessKeyId: c.AccessKeyId ?? '', secretAccessKey: c.SecretAccessKey ?? '', sessionToken: c.SessionToken ?? '' },
      };
      return { secretsManager: new SecretsManagerClient(config), iam: new IAMClient(config) };
    },
  });
});

afterAll(() => {
  for (const c of [sts, ownSm, ownIam, otherSm, otherIam]) c.destroy();
});

function request(action: ExecuteRequest['action'], uid: string, findingUid: string): ExecuteRequest {
  return { action, target: { type: action === 'rotate-secret' ? 'Secret' : 'IamRole', uid }, reason: 'test', idempotencyToken: randomUUID(), findingUid };
}

describe('containment in another account', () => {
  it('rotates a secret of that account as its containment role, with the external id and the finding in the session tags', async () => {
    const name = uniqueName('kw-xacct-secret');
    const created = await otherSm.send(new CreateSecretCommand({ Name: name, SecretString: 'old-value-do-not-log' }));
    const arn = created.ARN as string;
    expect(arn).toContain(`:${OTHER}:secret:`);
    const req = request('rotate-secret', arn, 'unusual-ip:finding-42');

    const outcome = await execute(req, deps(stsCrossAccountAccess([target], awsClientConfig())));
    expect(outcome.code, outcome.message).toBe('done');
    expect(outcome.calls?.[0]).toBe(`sts:AssumeRole ${ROLE_ARN}`);
    const described = await otherSm.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(described.VersionIdsToStages?.[req.idempotencyToken]).toContain('AWSCURRENT');
    const now = await otherSm.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSCURRENT' }));
    expect(now.SecretString).not.toBe('old-value-do-not-log');
    // Kitewatch's own account has no such secret: the rotation happened over there.
    await expect(ownSm.send(new DescribeSecretCommand({ SecretId: name }))).rejects.toThrow();
  });

  it('denies older sessions of a role in that account; the AssumeRole request names the finding and the action', async () => {
    const roleName = uniqueName('buildkite-oidc').slice(0, 64);
    await otherIam.send(new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [] }) }));
    const before = sent.length;
    const outcome = await execute(request('revoke-role-sessions', `arn:aws:iam::${OTHER}:role/${roleName}`, 'secret-access:finding-7'), deps(recorded));
    expect(outcome.code, outcome.message).toBe('done');
    expect(sent.slice(before)).toEqual([
      {
        RoleArn: ROLE_ARN,
        RoleSessionName: 'kitewatch-revoke-role-sessions',
        ExternalId: 'kw-ext-7f3a',
        DurationSeconds: 900,
        Tags: [
          { Key: SESSION_TAG.finding, Value: 'secret-access:finding-7' },
          { Key: SESSION_TAG.action, Value: 'revoke-role-sessions' },
        ],
      },
    ]);
    const policy = await otherIam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: REVOKE_SESSIONS_POLICY }));
    expect(decodeURIComponent(policy.PolicyDocument ?? '')).toContain('aws:TokenIssueTime');
    await expect(ownIam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: REVOKE_SESSIONS_POLICY }))).rejects.toBeInstanceOf(NoSuchEntityException);
  });

  it('in dry-run names the account and the role it would assume, and calls nothing', () => {
    const before = sent.length;
    const outcome = preview(request('rotate-secret', `arn:aws:secretsmanager:us-east-1:${OTHER}:secret:ci/deploy-key-AbCdEf`, 'f-1'), recorded);
    expect(outcome.code).toBe('dry-run');
    expect(outcome.message).toContain(`in account ${OTHER} as ${ROLE_ARN} (dry-run, nothing called)`);
    expect(outcome.calls?.[0]).toBe(`sts:AssumeRole ${ROLE_ARN} (external id, session tags ${SESSION_TAG.finding}=f-1 ${SESSION_TAG.action}=rotate-secret)`);
    expect(sent.length).toBe(before);
    // A target in Kitewatch's own account (or named without an ARN) assumes nothing.
    expect(preview(request('revoke-role-sessions', 'buildkite-deploy', 'f-1'), recorded).calls).toEqual([`iam:PutRolePolicy buildkite-deploy ${REVOKE_SESSIONS_POLICY}`]);
  });

  it('reads the accounts from the containment config, with the default role name', () => {
    const config = ContainmentConfig.parse({ accounts: [{ id: OTHER, externalId: 'kw-ext-7f3a' }] });
    expect(config.accounts).toEqual([target]);
    expect(() => ContainmentConfig.parse({ accounts: [{ id: '12345', externalId: 'kw' }] })).toThrow(/12-digit/);
  });
});
