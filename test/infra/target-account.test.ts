/**
 * The containment role for target accounts (lib/infra/target-account-stack.ts), on the synthesized
 * template: one environment-agnostic template (StackSets), the external id a parameter, trusted
 * only from Kitewatch's tagged containment roles with session tags naming the finding; and the
 * Kitewatch side: who may assume it, and what the runbooks are told.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunbookEnv } from '../../lambdas/runbooks/env.ts';
import { SESSION_TAG } from '../../lib/containment/cross-account.ts';
import type { ContainmentStack } from '../../lib/infra/containment-stack.ts';
import { REPO_ROOT } from '../../lib/infra/kitewatch-function.ts';
import { CONTAINMENT_PRINCIPAL_TAG } from '../../lib/infra/target-account-stack.ts';
import { tempDir } from '../support/cli.ts';
import { CDK_CONTEXT, logicalId, synthKitewatch, TEST_CONFIG, type Synthesized } from './support/synth.ts';
import { actions, inlineStatements, resource, resourcesOfType, type Statement } from './support/template.ts';

let s: Synthesized;
let t: Template;

beforeAll(() => {
  s = synthKitewatch(TEST_CONFIG, { bundle: false, targetAccount: true });
  const stack = s.targetAccount;
  if (stack === undefined) throw new Error('no target-account stack');
  t = Template.fromJSON(s.app.synth().getStackByName(stack.stackName).template as Record<string, unknown>);
}, 120_000);

afterAll(() => s.cleanup());

describe('target-account containment role', () => {
  it('is one environment-agnostic template with no assets, the external id a NoEcho parameter', () => {
    const stack = s.targetAccount!;
    expect(stack.environment).toBe('aws://unknown-account/unknown-region');
    expect(t.toJSON()['Parameters']).toMatchObject({ ExternalId: { Type: 'String', NoEcho: true } });
    expect(resourcesOfType(t, 'AWS::Lambda::Function')).toEqual([]);
    expect(JSON.stringify(t.toJSON())).not.toContain('210987654321');
  });

  it('trusts only Kitewatch’s account, with the external id, from roles tagged for containment, with session tags naming the finding', () => {
    const role = resource(t, logicalId(s.targetAccount!.role));
    expect(role.Properties?.['RoleName']).toBe('kitewatch-containment');
    const trust = (role.Properties?.['AssumeRolePolicyDocument'] as { Statement: Statement[] }).Statement;
    const principal = { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:root']] } };
    expect(trust).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: principal,
        Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'ExternalId' }, [`aws:PrincipalTag/${CONTAINMENT_PRINCIPAL_TAG}`]: 'Kitewatch' } },
      },
      {
        Action: 'sts:TagSession',
        Effect: 'Allow',
        Principal: principal,
        Condition: {
          StringEquals: { [`aws:PrincipalTag/${CONTAINMENT_PRINCIPAL_TAG}`]: 'Kitewatch' },
          'ForAllValues:StringEquals': { 'aws:TagKeys': [SESSION_TAG.finding, SESSION_TAG.action] },
          Null: { [`aws:RequestTag/${SESSION_TAG.finding}`]: 'false' },
        },
      },
    ]);
  });

  it('may rotate only tagged secrets and write only to roles carrying the OIDC boundary', () => {
    const policy = resourcesOfType(t, 'AWS::IAM::ManagedPolicy')[0]?.[1];
    const statements = (policy?.Properties?.['PolicyDocument'] as { Statement: Statement[] }).Statement;
    for (const st of statements) {
      const star = JSON.stringify(st.Resource) === '"*"';
      if (star) expect(actions(st).sort()).toEqual(['secretsmanager:GetRandomPassword', 'secretsmanager:ListSecrets']);
      else expect(st.Condition, st.Sid).toBeDefined();
    }
    const put = statements.find((st) => actions(st).includes('iam:PutRolePolicy'));
    expect(put?.Condition).toEqual({
      StringEquals: { 'iam:PermissionsBoundary': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':policy/boundaries/buildkite-oidc']] } },
    });
    const rotate = statements.filter((st) => actions(st).includes('secretsmanager:PutSecretValue'));
    expect(rotate.map((st) => st.Condition)).toEqual([{ Null: { 'aws:ResourceTag/kitewatch:buildkite-uid': 'false' } }, { Null: { 'aws:ResourceTag/kitewatch:buildkite-name': 'false' } }]);
  });

  it('is assumed by the contain Lambda and the two runbooks that act in AWS, which carry the tag and the accounts', () => {
    const c = s.stacks.containment as ContainmentStack;
    const ct = s.containment!;
    const assumers = [c.contain.role, c.runbooks['rotate-secret'].role, c.runbooks['revoke-role-sessions'].role];
    for (const role of assumers) {
      const st = inlineStatements(ct, logicalId(role)).find((x) => actions(x).includes('sts:AssumeRole'));
      expect(st, role.node.path).toMatchObject({ Action: ['sts:AssumeRole', 'sts:TagSession'], Resource: 'arn:aws:iam::210987654321:role/kitewatch-containment' });
      const tags = resource(ct, logicalId(role)).Properties?.['Tags'] as { Key: string; Value: string }[];
      expect(tags).toContainEqual({ Key: CONTAINMENT_PRINCIPAL_TAG, Value: 'Kitewatch' });
    }
    const others = [c.runbooks['stop-agent'].role, c.runbooks['approve-action'].role];
    for (const role of others) expect(inlineStatements(ct, logicalId(role)).some((x) => actions(x).includes('sts:AssumeRole'))).toBe(false);
    const env = (resource(ct, logicalId(c.runbooks['rotate-secret'].fn)).Properties?.['Environment'] as { Variables: Record<string, string> }).Variables;
    expect(JSON.parse(env[RunbookEnv.accounts] ?? '[]')).toEqual([{ id: '210987654321', externalId: 'kw-ext-test', roleName: 'kitewatch-containment' }]);
  });
});

describe('bin/target-account.ts, its own CDK app', () => {
  // The CLI's default, as the test synth has it.
  const PATH_METADATA = { 'aws:cdk:enable-path-metadata': true };
  // What `cdk synth --app "node bin/target-account.ts"` does: the CLI passes the context and the output folder in these variables.
  const synthApp = (config: unknown) => {
    const outdir = tempDir('kitewatch-target-');
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/target-account.ts')], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ ...CDK_CONTEXT, ...PATH_METADATA, config: JSON.stringify(config) }) },
    });
    return { ...r, outdir };
  };

  it('synthesizes only the target-account stack, from the same config as the Kitewatch app', () => {
    const r = synthApp(TEST_CONFIG);
    expect(r.status, r.stderr).toBe(0);
    const templates = readdirSync(r.outdir).filter((f) => f.endsWith('.template.json'));
    expect(templates).toEqual(['Kitewatch-TargetAccount.template.json']);
    const template = JSON.parse(readFileSync(join(r.outdir, templates[0] as string), 'utf8')) as Record<string, unknown>;
    expect(template).toEqual(t.toJSON());
  });

  it('says why when the config names no account, in one line', () => {
    const r = synthApp({ ...TEST_CONFIG, containment: { ...TEST_CONFIG.containment, accounts: [] } });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('kitewatch: containment.accounts names no account: no target-account role to synthesize');
  });
});
