/**
 * The containment stack: the contain Lambda and its route, the runbook Lambdas, the approval
 * state machine, the agent-token rotation, and for each of them exactly the permissions the
 * config implies (named secrets and roles, the one state machine, the one bus).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainEnv, parseContainEnv } from '../../lambdas/contain/env.ts';
import { RotateAgentTokenEnv } from '../../lambdas/rotate-agent-token/env.ts';
import { DRY_RUN_ALIAS, RunbookEnv } from '../../lambdas/runbooks/env.ts';
import { PowertoolsEnv } from '../../lambdas/shared/env.ts';
import { ConfigError } from '../../lib/config/load.ts';
import type { KitewatchConfigInput } from '../../lib/config/schema.ts';
import { ACTION_IDS, ACTIONS, RUNBOOK_IDS, type RunbookId } from '../../lib/containment/actions.ts';
import { APPROVAL_REQUESTED_DETAIL_TYPE } from '../../lib/containment/approval.ts';
import { DeployConfigError } from '../../lib/infra/config.ts';
import { FeatureOffStack } from '../../lib/infra/feature-off-stack.ts';
import type { ContainmentStack } from '../../lib/infra/containment-stack.ts';
import { REPO_ROOT } from '../../lib/infra/kitewatch-function.ts';
import { importOf, logicalId, synthKitewatch, TEST_ARNS, TEST_CONFIG, type Synthesized } from './support/synth.ts';
import { actions, allActions, grants, inlineStatements, ref, resource, resourcesOfType, type Statement } from './support/template.ts';

const aws = TEST_CONFIG.aws;
const c = aws.containment;
const REGION = aws.region;
const ACCOUNT = aws.account;
const secretArn = (name: string): string => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}`;
const ANY_TAGGED_SECRET = secretArn('*');
const MAPPED_SECRETS = [secretArn(`${TEST_ARNS.mappedByName}-??????`), TEST_ARNS.mappedByArn].sort();
const OIDC_ROLES = [`arn:aws:iam::${ACCOUNT}:role/${TEST_ARNS.oidcRoleName}`, TEST_ARNS.oidcRoleArn].sort();
const ROTATE_ACTIONS = ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:RotateSecret', 'secretsmanager:UpdateSecretVersionStage'];

let s: Synthesized;
let stack: ContainmentStack;
let t: Template;
let ids: {
  sm: string;
  smRole: string;
  smLogGroup: string;
  key: string;
  bus: string;
  table: string;
  alarmTopic: string;
  rotator: string;
  contain: string;
  containRole: string;
  queue: string;
  dlq: string;
};

beforeAll(() => {
  s = synthKitewatch(TEST_CONFIG, { bundle: false });
  stack = s.stacks.containment as ContainmentStack;
  t = s.containment as Template;
  ids = {
    sm: logicalId(stack.approval.stateMachine),
    smRole: logicalId(stack.approval.role),
    smLogGroup: logicalId(stack.approval.logGroup),
    key: logicalId(s.stacks.stateful.key),
    bus: logicalId(s.stacks.stateful.kitewatchBus),
    table: logicalId(s.stacks.stateful.stateTable),
    alarmTopic: logicalId(s.stacks.stateful.alarmTopic),
    rotator: logicalId(stack.agentTokenRotation?.fn ?? stack),
    contain: logicalId(stack.contain.fn),
    containRole: logicalId(stack.contain.role),
    queue: logicalId(stack.route.queue),
    dlq: logicalId(stack.route.deadLetterQueue),
  };
});
afterAll(() => s?.cleanup());

const keyArn = (): unknown => importOf(s.stateful, ids.key, 'Arn');
const busArn = (): string => ref(importOf(s.stateful, ids.bus, 'Arn'));
const smArn = (): string => ref({ Ref: ids.sm });
const smKeyContext = (): Statement => ({
  Effect: 'Allow',
  Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
  Resource: keyArn(),
  Condition: { StringEquals: { 'kms:EncryptionContext:aws:states:stateMachineArn': `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Kitewatch-approval` } },
});
const roleOf = (runbook: RunbookId): string => logicalId(stack.runbooks[runbook].role);
const envOf = (fnId: string): Record<string, unknown> => (resource(t, fnId).Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables;

describe('contain Lambda', () => {
  it('runs Node.js 24 on arm64 with the aws.containment sizing', () => {
    expect(resource(t, ids.contain).Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: c.memoryMiB,
      Timeout: c.timeoutSeconds,
      ReservedConcurrentExecutions: aws.reservedConcurrency,
      TracingConfig: { Mode: 'Active' },
      KmsKeyArn: keyArn(),
    });
  });

  it("sets the variables env.ts declares; the handler's parser reads back the containment block", () => {
    const env = envOf(ids.contain);
    expect(env).toEqual({
      [PowertoolsEnv.serviceName]: 'contain',
      [PowertoolsEnv.metricsNamespace]: 'Kitewatch',
      [PowertoolsEnv.logLevel]: 'INFO',
      [ContainEnv.eventBusName]: importOf(s.stateful, ids.bus),
      [ContainEnv.stateTable]: importOf(s.stateful, ids.table),
      [ContainEnv.config]: JSON.stringify(s.config.containment),
      [ContainEnv.apiTokenSecretArn]: TEST_ARNS.apiToken,
      [ContainEnv.approvalStateMachineArn]: { Ref: ids.sm },
    });
    const settings = parseContainEnv({
      [ContainEnv.eventBusName]: 'bus',
      [ContainEnv.stateTable]: 'table',
      [ContainEnv.config]: env[ContainEnv.config] as string,
      [ContainEnv.apiTokenSecretArn]: TEST_ARNS.apiToken,
    });
    expect(settings.config).toEqual(s.config.containment);
    expect(settings.config.mode).toBe('enforce');
  });

  it('reads findings from its own queue (rules/findings-to-containment.json), in small batches', () => {
    const ruleFile = JSON.parse(readFileSync(join(REPO_ROOT, 'rules/findings-to-containment.json'), 'utf8')) as { eventPattern: unknown };
    expect(resource(t, logicalId(stack.route.rule)).Properties).toMatchObject({ EventBusName: importOf(s.stateful, ids.bus), EventPattern: ruleFile.eventPattern });
    for (const id of [ids.queue, ids.dlq]) expect(resource(t, id).Properties?.['KmsMasterKeyId']).toEqual(keyArn());
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [ids.queue, 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: c.batchSize,
      MaximumBatchingWindowInSeconds: c.maxBatchingWindowSeconds,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ids.dlq, 'QueueName'] } }],
      Threshold: 1,
      AlarmActions: [importOf(s.stateful, ids.alarmTopic)],
    });
  });
});

describe('contain permissions in enforce mode (least privilege)', () => {
  let statements: Statement[];
  beforeAll(() => {
    statements = inlineStatements(t, ids.containRole);
  });

  it('names each secret, role, table, bus and state machine it may touch', () => {
    const g = grants(statements);
    expect(g['secretsmanager:GetSecretValue']).toEqual([TEST_ARNS.apiToken, ...MAPPED_SECRETS].sort());
    expect(g['secretsmanager:PutSecretValue']).toEqual(MAPPED_SECRETS);
    expect(g['secretsmanager:RotateSecret']).toEqual(MAPPED_SECRETS);
    const conditional = grants(statements, { conditional: true });
    expect(conditional['iam:PutRolePolicy']).toEqual(OIDC_ROLES);
    expect(conditional['events:PutEvents']).toEqual([busArn()]);
    expect(g['states:StartExecution']).toEqual([smArn()]);
    expect(conditional['dynamodb:PutItem']).toEqual([ref(importOf(s.stateful, ids.table, 'Arn'))]);
    expect(g['lambda:InvokeFunction']).toEqual([ref({ 'Fn::GetAtt': [ids.rotator, 'Arn'] })]);
    expect(g['sqs:ReceiveMessage']).toEqual([ref({ 'Fn::GetAtt': [ids.queue, 'Arn'] })]);
  });

  it('acts on unmapped secrets only when they carry a kitewatch lookup tag', () => {
    const tagged = statements.filter((st) => JSON.stringify(st.Resource) === JSON.stringify(ANY_TAGGED_SECRET));
    expect(tagged.map((st) => st.Condition)).toEqual([{ Null: { 'aws:ResourceTag/kitewatch:buildkite-uid': 'false' } }, { Null: { 'aws:ResourceTag/kitewatch:buildkite-name': 'false' } }]);
    for (const st of tagged) expect([...(st.Action as string[])].sort()).toEqual(ROTATE_ACTIONS);
  });

  it('uses "*" only for APIs without resources', () => {
    const star = Object.entries(grants(statements))
      .filter(([, r]) => r.includes('*'))
      .map(([a]) => a);
    expect(star).toEqual(['secretsmanager:GetRandomPassword', 'secretsmanager:ListSecrets', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  it('uses the key for the state machine only within its encryption context', () => {
    expect(statements).toContainEqual(smKeyContext());
  });

  it('may write inline policies only to OIDC roles capped by the configured permissions boundary', () => {
    for (const role of [ids.containRole, logicalId(stack.runbooks['revoke-role-sessions'].role)]) {
      const put = inlineStatements(t, role).filter((st) => actions(st).includes('iam:PutRolePolicy'));
      expect(put, role).toHaveLength(1);
      expect(put[0]?.Resource).toEqual(OIDC_ROLES);
      expect(put[0]?.Condition).toEqual({
        StringEquals: { 'iam:PermissionsBoundary': [`arn:aws:iam::${ACCOUNT}:policy/boundaries/buildkite-oidc`] },
      });
    }
  });

  it('refuses to synthesize OIDC roles without a boundary, saying why', () => {
    const { oidcRoleBoundaryPolicy: _, ...withoutBoundary } = TEST_CONFIG.aws.containment;
    expect(() => synthKitewatch({ ...TEST_CONFIG, aws: { ...TEST_CONFIG.aws, containment: withoutBoundary } }, { bundle: false })).toThrow(
      /containment\.oidcRoles is set but aws\.containment\.oidcRoleBoundaryPolicy is not\. IAM cannot limit which document iam:PutRolePolicy writes/,
    );
  });

  it('has no IAM action but PutRolePolicy, and no managed policy', () => {
    expect(allActions(statements).filter((a) => a.startsWith('iam:'))).toEqual(['iam:PutRolePolicy']);
    expect(resource(t, ids.containRole).Properties?.['ManagedPolicyArns']).toBeUndefined();
  });
});

describe('runbook Lambdas', () => {
  const buildkite = new Set<RunbookId>(['revoke-agent-token', 'stop-agent', 'rotate-secret', 'pause-queue', 'cancel-build', 'archive-pipeline', 'revoke-grant', 'remove-member', 'cancel-job']);

  it.each(RUNBOOK_IDS.map((r) => [r]))('%s: named for responders, with the token only if it calls Buildkite', (runbook) => {
    const fn = resource(t, logicalId(stack.runbooks[runbook].fn));
    expect(fn.Properties).toMatchObject({
      FunctionName: `Kitewatch-${runbook}`,
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: c.runbookTimeoutSeconds,
      Handler: 'index.handler',
    });
    const env = envOf(logicalId(stack.runbooks[runbook].fn));
    expect(env[RunbookEnv.eventBusName]).toEqual(importOf(s.stateful, ids.bus));
    expect(env[RunbookEnv.apiTokenSecretArn]).toBe(buildkite.has(runbook) ? TEST_ARNS.apiToken : undefined);
  });

  const expected: Record<RunbookId, Record<string, string[]>> = {} as Record<RunbookId, Record<string, string[]>>;
  beforeAll(() => {
    const token = { 'secretsmanager:DescribeSecret': [TEST_ARNS.apiToken], 'secretsmanager:GetSecretValue': [TEST_ARNS.apiToken] };
    for (const r of ['revoke-agent-token', 'stop-agent', 'pause-queue', 'cancel-build', 'archive-pipeline', 'revoke-grant', 'remove-member', 'cancel-job'] as const) expected[r] = token;
    // Its iam:PutRolePolicy is conditional (the boundary): asserted below.
    const assumeTargets = { 'sts:AssumeRole': ['arn:aws:iam::210987654321:role/kitewatch-containment'], 'sts:TagSession': ['arn:aws:iam::210987654321:role/kitewatch-containment'] };
    expected['revoke-role-sessions'] = { ...assumeTargets };
    expected['approve-action'] = {
      'states:SendTaskFailure': [smArn()],
      'states:SendTaskHeartbeat': [smArn()],
      'states:SendTaskSuccess': [smArn()],
    };
    const withToken = [TEST_ARNS.apiToken, ...MAPPED_SECRETS].sort();
    expected['rotate-secret'] = {
      'lambda:InvokeFunction': [ref({ 'Fn::GetAtt': [ids.rotator, 'Arn'] })],
      'secretsmanager:DescribeSecret': withToken,
      'secretsmanager:GetRandomPassword': ['*'],
      'secretsmanager:GetSecretValue': withToken,
      'secretsmanager:ListSecrets': ['*'],
      'secretsmanager:PutSecretValue': MAPPED_SECRETS,
      'secretsmanager:RotateSecret': MAPPED_SECRETS,
      'secretsmanager:UpdateSecretVersionStage': MAPPED_SECRETS,
      ...assumeTargets,
    };
  });

  it.each(RUNBOOK_IDS.map((r) => [r]))('%s: may do exactly what its action needs, and publish its activity', (runbook) => {
    const g = grants(inlineStatements(t, roleOf(runbook)));
    const own = Object.fromEntries(Object.entries(g).filter(([a]) => !/^(logs|xray|events):/.test(a)));
    expect(own).toEqual(expected[runbook]);
    expect(grants(inlineStatements(t, roleOf(runbook)), { conditional: true })['events:PutEvents']).toEqual([busArn()]);
  });

  it('approve-action may use the key only within the state machine context', () => {
    expect(inlineStatements(t, roleOf('approve-action'))).toContainEqual(smKeyContext());
  });

  it('gives responders approve-action and the dry-run alias of each action runbook, never an action runbook itself', () => {
    const policy = resource(t, logicalId(stack.responderPolicy));
    const statements = (policy.Properties?.['PolicyDocument'] as { Statement: Statement[] }).Statement;
    expect(grants(statements)).toEqual({
      'lambda:InvokeFunction': [ref({ 'Fn::GetAtt': [logicalId(stack.runbooks['approve-action'].fn), 'Arn'] }), ...ACTION_IDS.map((a) => ref({ Ref: logicalId(stack.dryRunAliases[a]) }))].sort(),
    });
    for (const a of ACTION_IDS) {
      expect(resource(t, logicalId(stack.dryRunAliases[a])).Properties).toMatchObject({ Name: DRY_RUN_ALIAS, FunctionName: { Ref: logicalId(stack.runbooks[a].fn) } });
    }
  });

  it('lets responders run actions directly only with aws.containment.respondersMayActDirectly', () => {
    const direct = synthKitewatch({ ...TEST_CONFIG, aws: { ...TEST_CONFIG.aws, containment: { ...TEST_CONFIG.aws.containment, respondersMayActDirectly: true } } }, { bundle: false });
    try {
      const c = direct.stacks.containment as ContainmentStack;
      const statements = (resource(direct.containment!, logicalId(c.responderPolicy)).Properties?.['PolicyDocument'] as { Statement: Statement[] }).Statement;
      expect(grants(statements)['lambda:InvokeFunction']).toEqual(
        [...RUNBOOK_IDS.map((r) => ref({ 'Fn::GetAtt': [logicalId(c.runbooks[r].fn), 'Arn'] })), ...ACTION_IDS.map((a) => ref({ Ref: logicalId(c.dryRunAliases[a]) }))].sort(),
      );
    } finally {
      direct.cleanup();
    }
  }, 120_000);
});

describe('the permissions each action documents', () => {
  /** `svc:Action` tokens of the text; a bare `Action` after one belongs to the same service. */
  function citedIamActions(text: string): string[] {
    const out: string[] = [];
    let service: string | undefined;
    for (const [, token] of text.matchAll(/`([^`]+)`/g)) {
      const m = /^([a-z0-9-]+):([A-Za-z*]+)$/.exec(token ?? '');
      if (m !== null) {
        service = m[1];
        out.push(token as string);
      } else if (service !== undefined && /^[A-Z][A-Za-z]+$/.test(token ?? '')) out.push(`${service}:${token}`);
    }
    return out;
  }

  it.each(ACTION_IDS)('%s: every IAM action its documentation cites is granted to its runbook', (action) => {
    const granted = allActions(inlineStatements(t, roleOf(action)));
    for (const cited of citedIamActions(ACTIONS[action].permissions)) expect(granted, `${action} cites ${cited}`).toContain(cited);
  });
});

describe('approval state machine', () => {
  /** The definition with each intrinsic replaced by a marker, parsed. */
  function definition(): { json: Record<string, unknown>; intrinsics: unknown[] } {
    const join = (resource(t, ids.sm).Properties?.['DefinitionString'] as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
    const intrinsics: unknown[] = [];
    const text = join.map((part) => (typeof part === 'string' ? part : `@@${intrinsics.push(part) - 1}@@`)).join('');
    return { json: JSON.parse(text) as Record<string, unknown>, intrinsics };
  }

  it('is a Standard state machine encrypted with the key, logging without execution data, traced', () => {
    expect(resource(t, ids.sm).Properties).toMatchObject({
      StateMachineName: 'Kitewatch-approval',
      StateMachineType: 'STANDARD',
      EncryptionConfiguration: { Type: 'CUSTOMER_MANAGED_KMS_KEY', KmsKeyId: keyArn() },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [ids.smLogGroup, 'Arn'] } } }],
      },
      TracingConfiguration: { Enabled: true },
    });
    expect(resource(t, ids.smLogGroup).Properties).toMatchObject({
      LogGroupName: { 'Fn::Join': ['', ['/aws/vendedlogs/states/Kitewatch-approval-', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }]] },
      RetentionInDays: aws.logRetentionDays,
      KmsKeyId: keyArn(),
    });
  });

  it('waits for a task token until containment.approval.deadlineMinutes, then expires', () => {
    const { json, intrinsics } = definition();
    const states = json['States'] as Record<string, { Type: string; Resource?: string; TimeoutSeconds?: number; Parameters?: Record<string, unknown> }>;
    const wait = states['Request approval'];
    expect(wait?.Resource).toBe('arn:aws:states:::events:putEvents.waitForTaskToken');
    expect(wait?.TimeoutSeconds).toBe(TEST_CONFIG.containment.approval.deadlineMinutes * 60);
    expect(json['TimeoutSeconds']).toBe(TEST_CONFIG.containment.approval.deadlineMinutes * 60 + 900);
    const entry = (wait?.Parameters?.['Entries'] as { EventBusName: string; DetailType: string }[])[0];
    expect(entry?.DetailType).toBe(APPROVAL_REQUESTED_DETAIL_TYPE);
    expect(intrinsics[Number(/@@(\d+)@@/.exec(entry?.EventBusName ?? '')?.[1])]).toEqual(importOf(s.stateful, ids.bus));
    expect(states['Expired']?.Type).toBe('Task');
  });

  it("runs each action's runbook Lambda once approved", () => {
    const { json, intrinsics } = definition();
    const states = json['States'] as Record<string, { Parameters?: { FunctionName?: string } }>;
    for (const action of ACTION_IDS) {
      const marker = states[`Run ${action}`]?.Parameters?.FunctionName ?? '';
      expect(intrinsics[Number(/@@(\d+)@@/.exec(marker)?.[1])], action).toEqual({ 'Fn::GetAtt': [logicalId(stack.runbooks[action].fn), 'Arn'] });
    }
  });

  it('may invoke every action runbook (not approve-action) and publish on the bus', () => {
    const g = grants(inlineStatements(t, ids.smRole));
    expect(g['lambda:InvokeFunction']).toEqual(ACTION_IDS.map((a) => ref({ 'Fn::GetAtt': [logicalId(stack.runbooks[a].fn), 'Arn'] })).sort());
    expect(grants(inlineStatements(t, ids.smRole), { conditional: true })['events:PutEvents']).toEqual([busArn()]);
    expect(resource(t, ids.smRole).Properties?.['AssumeRolePolicyDocument']).toMatchObject({
      Statement: [expect.objectContaining({ Principal: { Service: 'states.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } } })],
    });
  });
});

describe('approval requests reach a responder', () => {
  it('routes the request event to the alarm topic with a DLQ, naming the approve-action function', () => {
    const rule = resource(t, logicalId(stack.approvalNotifications));
    expect(rule.Properties?.['EventPattern']).toEqual({ source: ['kitewatch'], 'detail-type': [APPROVAL_REQUESTED_DETAIL_TYPE] });
    const [target] = rule.Properties?.['Targets'] as {
      Arn: unknown;
      DeadLetterConfig: unknown;
      RetryPolicy: unknown;
      InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string };
    }[];
    expect(target?.Arn).toEqual(importOf(s.stateful, ids.alarmTopic));
    expect(target?.DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': [logicalId(stack.ruleDeadLetters.queue), 'Arn'] } });
    expect(target?.RetryPolicy).toEqual({ MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 });
    const template = target?.InputTransformer.InputTemplate ?? '';
    expect(template).toContain('--function-name Kitewatch-approve-action');
    // Every <placeholder> must be a mapped path, or EventBridge rejects the target.
    const placeholders = [...template.matchAll(/<([^>]+)>/g)].map((m) => m[1] as string);
    expect(placeholders.length).toBeGreaterThan(5);
    for (const p of placeholders) expect(Object.keys(target?.InputTransformer.InputPathsMap ?? {})).toContain(p);
  });
});

describe('agent-token rotation', () => {
  it('schedules rotation of each configured agent-token secret, never immediately on deploy', () => {
    const schedules = resourcesOfType(t, 'AWS::SecretsManager::RotationSchedule');
    expect(schedules.map(([, r]) => r.Properties)).toEqual([
      {
        SecretId: TEST_ARNS.agentToken,
        RotationLambdaARN: { 'Fn::GetAtt': [ids.rotator, 'Arn'] },
        RotationRules: { ScheduleExpression: `rate(${c.agentTokenRotationDays} days)` },
        RotateImmediatelyOnUpdate: false,
      },
    ]);
  });

  it('lets only Secrets Manager of this account invoke the rotation Lambda', () => {
    const permissions = resourcesOfType(t, 'AWS::Lambda::Permission').filter(([, p]) => JSON.stringify(p.Properties?.['FunctionName']).includes(ids.rotator));
    expect(permissions.map(([, p]) => p.Properties)).toEqual([
      { Action: 'lambda:InvokeFunction', FunctionName: { 'Fn::GetAtt': [ids.rotator, 'Arn'] }, Principal: 'secretsmanager.amazonaws.com', SourceAccount: ACCOUNT },
    ]);
  });

  it('may rotate that secret only, and read the Buildkite API token', () => {
    const rotator = stack.agentTokenRotation;
    if (rotator === undefined) throw new Error('no rotation function');
    const g = grants(inlineStatements(t, logicalId(rotator.role)));
    expect(g['secretsmanager:PutSecretValue']).toEqual([TEST_ARNS.agentToken]);
    expect(g['secretsmanager:UpdateSecretVersionStage']).toEqual([TEST_ARNS.agentToken]);
    expect(g['secretsmanager:GetSecretValue']).toEqual([TEST_ARNS.agentToken, TEST_ARNS.apiToken].sort());
    expect(g['secretsmanager:DescribeSecret']).toEqual([TEST_ARNS.agentToken, TEST_ARNS.apiToken].sort());
    expect(envOf(ids.rotator)[RotateAgentTokenEnv.apiTokenSecretArn]).toBe(TEST_ARNS.apiToken);
  });
});

describe('other containment modes', () => {
  const variant = (containment: KitewatchConfigInput['containment'], aws: Record<string, unknown> = TEST_CONFIG.aws): KitewatchConfigInput => ({
    ...TEST_CONFIG,
    aws: { ...TEST_CONFIG.aws, ...aws },
    containment,
  });

  it('dry-run: the contain Lambda can publish but not act (no secrets, roles, state or approvals)', () => {
    const dry = synthKitewatch(variant({ ...TEST_CONFIG.containment, mode: 'dry-run' }), { bundle: false });
    try {
      const st = dry.stacks.containment as ContainmentStack;
      const actions = allActions(inlineStatements(dry.containment as Template, logicalId(st.contain.role)));
      expect(actions.filter((a) => !/^(logs|xray|sqs|kms):/.test(a))).toEqual(['events:PutEvents']);
      // Runbooks are for responders: same reach in every mode.
      const rotate = grants(inlineStatements(dry.containment as Template, logicalId(st.runbooks['rotate-secret'].role)));
      expect(rotate['secretsmanager:RotateSecret']).toBeDefined();
    } finally {
      dry.cleanup();
    }
  });

  it('off: a containment stack with nothing that acts (so a deploy removes what was there)', () => {
    const off = synthKitewatch(variant({ mode: 'off' }), { bundle: false });
    try {
      expect(off.stacks.containment).toBeInstanceOf(FeatureOffStack);
      expect(Object.values(off.containment.toJSON().Resources as Record<string, { Type: string }>).map((r) => r.Type)).toEqual(['AWS::SSM::Parameter']);
      off.containment.hasResourceProperties('AWS::SSM::Parameter', { Type: 'String', Value: 'off' });
    } finally {
      off.cleanup();
    }
  });

  it('stops the synth naming the key when the Buildkite API token secret is missing', () => {
    const { containment: deploy, ...rest } = TEST_CONFIG.aws;
    const { buildkiteApiTokenSecretArn: _token, ...withoutToken } = deploy;
    expect(() => synthKitewatch({ ...TEST_CONFIG, aws: { ...rest, containment: withoutToken } }, { bundle: false })).toThrow(DeployConfigError);
    expect(() => synthKitewatch({ ...TEST_CONFIG, aws: { ...rest, containment: withoutToken } }, { bundle: false })).toThrow(
      /aws\.containment\.buildkiteApiTokenSecretArn is not set, and containment\.mode is "enforce".*containment\.mode: "off"/,
    );
  });

  it("stops the synth when the containment block outgrows Lambda's 4 KB environment", () => {
    const protectedEntities = Array.from({ length: 60 }, (_, i) => ({ type: 'Queue' as const, name: `release-queue-${i}-*`, reason: 'release infrastructure' }));
    expect(() => synthKitewatch(variant({ ...TEST_CONFIG.containment, protected: protectedEntities }), { bundle: false })).toThrow(
      /environment of Kitewatch-Containment\/Contain takes about \d+ bytes, over Lambda's 4096/,
    );
  });

  it('refuses a secret ARN without its suffix (IAM would not match the secret)', () => {
    expect(() =>
      synthKitewatch(variant(TEST_CONFIG.containment, { containment: { buildkiteApiTokenSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kitewatch/token' } }), {
        bundle: false,
      }),
    ).toThrow(ConfigError);
  });
});
