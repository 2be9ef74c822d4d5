import { randomUUID } from 'node:crypto';
import { CreateRoleCommand, GetRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateSecretCommand, DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BuildkiteClient } from '../../lib/buildkite/client.ts';
import { envTokenProvider } from '../../lib/buildkite/token.ts';
import { ACTION_IDS } from '../../lib/containment/actions.ts';
import { approvalStateMachineDefinition, DENIED_ERROR } from '../../lib/containment/approval.ts';
import { REVOKE_SESSIONS_POLICY } from '../../lib/containment/executors.ts';
import { RunbookInputError } from '../../lib/containment/runbook-inputs.ts';
import { runRunbook, type RunbookDeps } from '../../lib/containment/runbooks.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { createLogger } from '../../lambdas/shared/logger.ts';
import { DRY_RUN_ALIAS } from '../../lambdas/runbooks/env.ts';
import { createRunbookLambda, invokedThroughDryRunAlias } from '../../lambdas/runbooks/shared.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';
import { awsClientConfig, uniqueName } from '../support/moto.ts';
import { expectValidOcsf } from '../support/ocsf-assertions.ts';
import { recording, textOf, type SentCommand } from './helpers.ts';

let bk: FakeBuildkite;
let sm: SecretsManagerClient;
let iam: IAMClient;
let sts: STSClient;
let logs: string[];
let published: OcsfEvent[];

function deps(overrides: Partial<RunbookDeps['execution']> = {}, sfn?: Pick<SFNClient, 'send'>): RunbookDeps {
  return {
    execution: {
      buildkite: new BuildkiteClient({ apiUrl: bk.url, graphqlUrl: bk.graphqlUrl, token: envTokenProvider({ BUILDKITE_API_TOKEN: bk.token }) }),
      secretsManager: sm,
      iam,
      now: Date.now,
      log: (l) => void logs.push(l),
      ...overrides,
    },
    ...(sfn !== undefined ? { sfn } : {}),
    publish: async (events) => void published.push(...events),
  };
}

beforeAll(() => {
  sm = new SecretsManagerClient(awsClientConfig());
  iam = new IAMClient(awsClientConfig());
  sts = new STSClient(awsClientConfig());
});
afterAll(() => {
  sm.destroy();
  iam.destroy();
  sts.destroy();
});
beforeEach(async () => {
  bk = await FakeBuildkite.start();
  logs = [];
  published = [];
});
afterEach(async () => {
  expect(logs.join('\n')).not.toContain(bk.token);
  await bk.close();
});

describe('runbook inputs', () => {
  it.each([
    ['revoke-agent-token', { org: 'acme' }, ['tokenId']],
    ['revoke-agent-token', { org: 'acme', tokenId: 'not-a-uuid' }, ['tokenId']],
    ['stop-agent', { org: 'Acme Inc', agentId: randomUUID() }, ['org']],
    ['cancel-build', { org: 'acme', pipeline: 'p', buildNumber: '12' }, ['buildNumber']],
    ['rotate-secret', { secretId: 's', dryrun: false }, ['dryrun']],
    ['revoke-role-sessions', { role: 'r', issuedBefore: 'yesterday' }, ['issuedBefore']],
    ['pause-queue', { org: 'acme', clusterId: randomUUID() }, ['queueId']],
    ['approve-action', { taskToken: 't', decision: 'maybe', responder: 'a' }, ['decision']],
  ] as const)('%s rejects %j naming %j', async (runbook, input, fields) => {
    const error = await runRunbook(runbook, input, deps()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunbookInputError);
    expect((error as RunbookInputError).fields).toEqual(fields);
    for (const f of fields) expect((error as Error).message).toContain(f);
    expect(bk.calls).toEqual([]);
  });
});

describe('runbooks act on Buildkite', () => {
  it('default to dry-run: a report of what would be called, and nothing called', async () => {
    const { client: smRec, sent: smSent } = recording(sm);
    const { client: iamRec, sent: iamSent } = recording(iam);
    const d = deps({ secretsManager: smRec, iam: iamRec });
    const inputs: Record<string, Record<string, unknown>> = {
      'revoke-agent-token': { org: 'acme', tokenId: randomUUID() },
      'stop-agent': { org: 'acme', agentId: randomUUID() },
      'rotate-secret': { secretId: 'some/secret' },
      'revoke-role-sessions': { role: 'deploy' },
      'pause-queue': { org: 'acme', clusterId: randomUUID(), queueId: randomUUID() },
      'cancel-build': { org: 'acme', pipeline: 'deploy', buildNumber: 7 },
      'archive-pipeline': { org: 'acme', pipeline: 'deploy' },
      'revoke-grant': { org: 'acme', kind: 'invitation', uuid: randomUUID() },
      'remove-member': { org: 'acme', userId: randomUUID() },
      'cancel-job': { org: 'acme', jobId: randomUUID() },
    };
    for (const id of ACTION_IDS) {
      const report = await runRunbook(id, inputs[id], d);
      expect(report).toMatchObject({ runbook: id, dryRun: true, outcome: 'dry-run', ok: true, detail: 'dry-run' });
      expect(report.calls.length).toBeGreaterThan(0);
      expect(report.activities).toHaveLength(1);
      expectValidOcsf(report.activities[0] as OcsfEvent);
    }
    expect(bk.calls).toEqual([]);
    expect(smSent).toEqual([]);
    expect(iamSent).toEqual([]);
  });

  it('revoke-grant, remove-member and cancel-job act when dryRun is false', async () => {
    const member = bk.addMember({ role: 'ADMIN' });
    const victim = bk.addMember({ role: 'MEMBER' });
    const job = bk.addJob();
    const reports = [
      await runRunbook('revoke-grant', { org: 'acme', kind: 'member', uuid: member.uuid, dryRun: false }, deps()),
      await runRunbook('remove-member', { org: 'acme', userId: victim.user.uuid, dryRun: false }, deps()),
      await runRunbook('cancel-job', { jobId: job.uuid, dryRun: false }, deps()),
    ];
    expect(reports.map((r) => [r.runbook, r.outcome, r.ok])).toEqual([
      ['revoke-grant', 'done', true],
      ['remove-member', 'done', true],
      ['cancel-job', 'done', true],
    ]);
    reports.forEach((r) => expectValidOcsf(r.activities[0] as OcsfEvent));
    expect([member.role, bk.members.has(victim.uuid), job.state]).toEqual(['MEMBER', false, 'CANCELING']);
  });

  it('revoke-agent-token and stop-agent act when dryRun is false, correlated with the given finding', async () => {
    const cluster = bk.addCluster();
    const token = bk.addClusterToken(cluster);
    const agent = bk.addAgent();
    const r1 = await runRunbook('revoke-agent-token', { org: 'acme', tokenId: token.id, clusterId: cluster, dryRun: false, correlationUid: 'finding-1' }, deps());
    const r2 = await runRunbook('stop-agent', { org: 'acme', agentId: agent.id, force: false, dryRun: false }, deps());
    expect(r1).toMatchObject({ outcome: 'done', ok: true, calls: [`GET /v2/organizations/acme/clusters/${cluster}/tokens`, `DELETE /v2/organizations/acme/clusters/${cluster}/tokens/${token.id}`] });
    expect(r1.activities[0]?.metadata.correlation_uid).toBe('finding-1');
    expect(r2).toMatchObject({ outcome: 'done' });
    expect(bk.calls.at(-1)?.body).toEqual({ force: false });
    expect(published).toHaveLength(2);
    published.forEach(expectValidOcsf);
    // Retrying is safe: the token is gone, the agent is stopped.
    const again = await runRunbook('revoke-agent-token', { org: 'acme', tokenId: token.id, clusterId: cluster, dryRun: false }, deps());
    expect(again).toMatchObject({ ok: true, detail: 'already gone (not found)' });
    expect(await runRunbook('stop-agent', { org: 'acme', agentId: agent.id, dryRun: false }, deps())).toMatchObject({ ok: true, detail: 'already disconnected (400)' });
  });

  it('pause-queue, cancel-build and archive-pipeline', async () => {
    const cluster = bk.addCluster();
    const queue = bk.addQueue(cluster);
    bk.addPipeline('deploy');
    bk.addBuild('deploy', 41, 'passed');
    bk.addBuild('deploy', 42, 'running');
    const pause = await runRunbook('pause-queue', { org: 'acme', clusterId: cluster, queueId: queue.id, note: 'IR-7', dryRun: false }, deps());
    expect(pause).toMatchObject({ outcome: 'done' });
    expect(queue).toMatchObject({ dispatch_paused: true, dispatch_paused_note: 'IR-7' });
    expect(await runRunbook('pause-queue', { org: 'acme', clusterId: cluster, queueId: queue.id, dryRun: false }, deps())).toMatchObject({ ok: true, detail: 'already paused (422)' });
    expect(await runRunbook('cancel-build', { org: 'acme', pipeline: 'deploy', buildNumber: 42, dryRun: false }, deps())).toMatchObject({ outcome: 'done' });
    const finished = await runRunbook('cancel-build', { org: 'acme', pipeline: 'deploy', buildNumber: 41, dryRun: false }, deps());
    expect(finished).toMatchObject({ ok: true, outcome: 'not-applicable', detail: 'not cancelable (422)' });
    expect(await runRunbook('archive-pipeline', { org: 'acme', pipeline: 'deploy', dryRun: false }, deps())).toMatchObject({ outcome: 'done' });
    expect(await runRunbook('archive-pipeline', { org: 'acme', pipeline: 'gone', dryRun: false }, deps())).toMatchObject({ detail: 'already gone (404)' });
    expect(bk.callLines()).toEqual([
      `POST /v2/organizations/acme/clusters/${cluster}/queues/${queue.id}/pause_dispatch`,
      `POST /v2/organizations/acme/clusters/${cluster}/queues/${queue.id}/pause_dispatch`,
      'PUT /v2/organizations/acme/pipelines/deploy/builds/42/cancel',
      'PUT /v2/organizations/acme/pipelines/deploy/builds/41/cancel',
      'POST /v2/organizations/acme/pipelines/deploy/archive',
      'POST /v2/organizations/acme/pipelines/gone/archive',
    ]);
    published.forEach(expectValidOcsf);
  });

  it('without a Buildkite API token a runbook reports the failure (no crash)', async () => {
    const d = deps({ buildkite: new BuildkiteClient({ apiUrl: bk.url, token: envTokenProvider({}) }) });
    const r = await runRunbook('stop-agent', { org: 'acme', agentId: randomUUID(), dryRun: false }, d);
    expect(r).toMatchObject({ ok: false, outcome: 'failed', detail: 'failed: missing Buildkite API token: BUILDKITE_API_TOKEN is not set' });
    expect(bk.calls).toEqual([]);
  });
});

describe('runbooks act on AWS', () => {
  it('rotate-secret rotates once per idempotency key', async () => {
    const name = uniqueName('rb-secret');
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'runbook-old-value-0001' }));
    const input = { secretId: name, dryRun: false, idempotencyKey: 'IR-42' };
    const r1 = await runRunbook('rotate-secret', input, deps());
    const r2 = await runRunbook('rotate-secret', input, deps());
    expect(r1).toMatchObject({ outcome: 'done', ok: true });
    expect(r2).toMatchObject({ outcome: 'already-gone', detail: 'already rotated', ok: true });
    const versions = (await sm.send(new DescribeSecretCommand({ SecretId: name }))).VersionIdsToStages ?? {};
    expect(Object.keys(versions)).toHaveLength(2);
    expect(textOf([r1, r2])).not.toContain('runbook-old-value-0001');
  });

  it('revoke-role-sessions denies sessions issued before now with an inline policy on aws:TokenIssueTime', async () => {
    const roleName = uniqueName('bk-oidc-deploy');
    const role = await iam.send(
      new CreateRoleCommand({
        RoleName: roleName,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Federated: 'arn:aws:iam::123456789012:oidc-provider/agent.buildkite.com' }, Action: 'sts:AssumeRoleWithWebIdentity' }],
        }),
      }),
    );
    // A session a job obtained earlier (moto does not enforce trust policies).
    const session = await sts.send(new AssumeRoleCommand({ RoleArn: role.Role?.Arn, RoleSessionName: 'buildkite-job-01951944-87df-428f-ad92-90709ee78a59', DurationSeconds: 900 }));
    const issuedAt = (session.Credentials?.Expiration?.getTime() ?? 0) - 900_000;
    const { client: iamRec, sent } = recording(iam);
    const r = await runRunbook('revoke-role-sessions', { role: role.Role?.Arn, dryRun: false, reason: 'OIDC token leaked' }, deps({ iam: iamRec }));
    expect(r).toMatchObject({ outcome: 'done', ok: true, target: { type: 'IamRole', uid: role.Role?.Arn, name: roleName } });
    expect(sent.map((c: SentCommand) => [c.name, c.input['RoleName'], c.input['PolicyName']])).toEqual([['PutRolePolicy', roleName, REVOKE_SESSIONS_POLICY]]);
    const policy = await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: REVOKE_SESSIONS_POLICY }));
    const doc = JSON.parse(decodeURIComponent(policy.PolicyDocument ?? '')) as {
      Statement: { Effect: string; Action: string[]; Resource: string[]; Condition: { DateLessThan: Record<string, string> } }[];
    };
    const stmt = doc.Statement[0];
    expect(stmt).toMatchObject({ Effect: 'Deny', Action: ['*'], Resource: ['*'] });
    const cutoff = Date.parse(stmt?.Condition.DateLessThan['aws:TokenIssueTime'] ?? '');
    expect(cutoff).toBeGreaterThanOrEqual(issuedAt); // the earlier session is denied
    expect(cutoff).toBeLessThanOrEqual(Date.now());
    expect(r.activities[0]).toMatchObject({ activity_name: 'Evict', status_detail: 'done' });

    const explicit = await runRunbook('revoke-role-sessions', { role: roleName, issuedBefore: '2026-01-01T00:00:00Z', dryRun: false }, deps());
    expect(explicit.facts).toMatchObject({ issued_before: '2026-01-01T00:00:00.000Z' });
  });

  it('revoke-role-sessions on a role that does not exist fails clearly', async () => {
    const r = await runRunbook('revoke-role-sessions', { role: uniqueName('missing-role'), dryRun: false }, deps());
    expect(r).toMatchObject({ ok: false, outcome: 'failed' });
    expect(r.detail).toMatch(/^failed: NoSuchEntity/);
  });
});

describe('approve-action', () => {
  const taskToken = `AAAAKgAAAAIAAAAAAAAAA${randomUUID().replace(/-/g, '')}secret-task-token`;
  const request = {
    approvalId: 'appr-1',
    action: 'revoke-agent-token',
    target: { type: 'ClusterToken', uid: randomUUID(), name: 'Linux agents', org: 'acme' },
    correlationUid: 'finding-9',
    severityId: 4,
  };

  it('approve sends SendTaskSuccess with who approved; deny sends SendTaskFailure; both emit an activity', async () => {
    const { client: sfn, sent } = recording({ send: async () => ({}) } as unknown as SFNClient);
    const approved = await runRunbook('approve-action', { taskToken, decision: 'approve', responder: 'alice', reason: 'confirmed', request, dryRun: false }, deps({}, sfn));
    const denied = await runRunbook('approve-action', { taskToken, decision: 'deny', responder: 'bob', request, dryRun: false }, deps({}, sfn));
    expect(sent.map((c) => c.name)).toEqual(['SendTaskSuccess', 'SendTaskFailure']);
    expect(JSON.parse(String(sent[0]?.input['output']))).toMatchObject({ approval: { responder: 'alice', reason: 'confirmed', approvalId: 'appr-1' } });
    expect(sent[1]?.input).toMatchObject({ taskToken, error: DENIED_ERROR, cause: 'denied by bob' });
    expect(approved).toMatchObject({ outcome: 'approved', detail: 'approved by alice', ok: true });
    expect(denied).toMatchObject({ outcome: 'denied', detail: 'denied by bob', ok: true });
    for (const r of [approved, denied]) {
      const e = r.activities[0] as OcsfEvent;
      expectValidOcsf(e);
      expect(e).toMatchObject({ command_uid: 'revoke-agent-token', severity_id: 4, metadata: { correlation_uid: 'finding-9' } });
      expect(textOf(r)).not.toContain(taskToken);
    }
  });

  it('dry-run sends nothing; an expired or answered request fails without echoing the token', async () => {
    const { client: sfn, sent } = recording({ send: async () => ({}) } as unknown as SFNClient);
    const dry = await runRunbook('approve-action', { taskToken, decision: 'approve', responder: 'alice' }, deps({}, sfn));
    expect(dry).toMatchObject({ dryRun: true, outcome: 'dry-run', activities: [] });
    expect(sent).toEqual([]);
    const expired = recording({
      send: async () => {
        throw Object.assign(new Error(`Task Timed Out: 'Provided task ${taskToken} has timed out'`), { name: 'TaskTimedOut' });
      },
    } as unknown as SFNClient);
    const r = await runRunbook('approve-action', { taskToken, decision: 'approve', responder: 'alice', request, dryRun: false }, deps({}, expired.client));
    expect(r).toMatchObject({ ok: false, detail: 'failed: TaskTimedOut: the request expired, was already answered, or the token is wrong' });
    expect(textOf(r)).not.toContain(taskToken);
  });

  it('the approved runbook input, as the state machine builds it, runs the action and says who approved', async () => {
    const cluster = bk.addCluster();
    const token = bk.addClusterToken(cluster);
    const runbookInput = { org: 'acme', tokenId: token.id, clusterId: cluster, dryRun: false, correlationUid: 'finding-9' };
    // States.JsonMerge($.runbookInput, $.decision): the decision is SendTaskSuccess's output.
    const merged = { ...runbookInput, approval: { responder: 'alice', approvalId: 'appr-1', decidedAt: new Date().toISOString() } };
    const r = await runRunbook('revoke-agent-token', merged, deps());
    expect(r).toMatchObject({ outcome: 'done', facts: { approved_by: 'alice' } });
    expect(r.message).toContain('(approved by alice)');
  });

  it('the state machine waits for a task token with the deadline, and runs the runbook of the approved action', () => {
    const arns = Object.fromEntries(ACTION_IDS.map((a) => [a, `arn:aws:lambda:us-east-1:123456789012:function:kw-runbook-${a}`])) as Record<(typeof ACTION_IDS)[number], string>;
    const def = approvalStateMachineDefinition({ eventBusName: 'kitewatch', runbookFunctionArns: arns, deadlineSeconds: 3600 }) as { StartAt: string; States: Record<string, Record<string, unknown>> };
    const wait = def.States[def.StartAt] as {
      Resource: string;
      TimeoutSeconds: number;
      Catch: { ErrorEquals: string[]; Next: string }[];
      Parameters: { Entries: { Detail: Record<string, string> }[] };
    };
    expect(wait.Resource).toBe('arn:aws:states:::events:putEvents.waitForTaskToken');
    expect(wait.TimeoutSeconds).toBe(3600);
    expect(wait.Parameters.Entries[0]?.Detail['taskToken.$']).toBe('$$.Task.Token');
    expect(wait.Catch.map((c) => [c.ErrorEquals[0], c.Next])).toEqual([
      [DENIED_ERROR, 'Denied'],
      ['States.Timeout', 'Expired'],
    ]);
    for (const a of ACTION_IDS) {
      expect(def.States[`Run ${a}`]).toMatchObject({
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: arns[a], 'Payload.$': 'States.JsonMerge($.runbookInput, $.decision, false)' },
      });
    }
    expect(def.States['Expired']).toMatchObject({ Parameters: { Entries: [{ 'Detail.$': '$.expiredActivity', DetailType: 'OCSF Remediation Activity' }] } });
  });
});

describe('runbook Lambdas', () => {
  it('invoked through the dry-run alias, run as a dry run whatever the input says (responders hold only that alias)', async () => {
    const logger = createLogger({ serviceName: 'runbook-test', logLevel: 'SILENT' });
    const stop = createRunbookLambda('stop-agent', deps(), logger);
    const agent = bk.addAgent();
    const calls = bk.calls.length;
    const viaAlias = { ...context, invokedFunctionArn: `${context.invokedFunctionArn}:${DRY_RUN_ALIAS}` } as Context;
    const report = await stop({ org: 'acme', agentId: agent.id, dryRun: false }, viaAlias);
    expect(report).toMatchObject({ runbook: 'stop-agent', dryRun: true, outcome: 'dry-run' });
    expect(bk.calls.length).toBe(calls);
    // Another qualifier (a version) is not the alias.
    expect(invokedThroughDryRunAlias(`${context.invokedFunctionArn}:7`)).toBe(false);
    expect(invokedThroughDryRunAlias(context.invokedFunctionArn)).toBe(false);
  });

  const context = {
    functionName: 'kw-runbook',
    awsRequestId: 'req-1',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:kw-runbook',
    memoryLimitInMB: '256',
    functionVersion: '$LATEST',
    getRemainingTimeInMillis: () => 30_000,
  } as unknown as Context;

  it('return the report; an invalid input fails naming the field; the task token never reaches the log', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    };
    try {
      const logger = createLogger({ serviceName: 'runbook-test' });
      const stop = createRunbookLambda('stop-agent', deps(), logger);
      const agent = bk.addAgent();
      const report = await stop({ org: 'acme', agentId: agent.id, dryRun: false }, context);
      expect(report).toMatchObject({ runbook: 'stop-agent', outcome: 'done' });
      await expect(stop({ org: 'acme' }, context)).rejects.toThrow(/stop-agent input is invalid: agentId/);
      const { client: sfn } = recording({ send: async () => ({}) } as unknown as SFNClient);
      const approve = createRunbookLambda('approve-action', deps({}, sfn), logger);
      const secretToken = `tt-${randomUUID()}-do-not-log`;
      await approve({ taskToken: secretToken, decision: 'deny', responder: 'carol', dryRun: false }, context);
      expect(out.join('')).toContain('runbook finished');
      expect(out.join('')).not.toContain(secretToken);
      expect(out.join('')).not.toContain(bk.token);
    } finally {
      process.stdout.write = write;
    }
  });
});
