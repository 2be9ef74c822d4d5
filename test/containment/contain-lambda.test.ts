import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EventBridgeClient, PutEventsCommandOutput, PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BuildkiteClient } from '../../lib/buildkite/client.ts';
import { secretsManagerTokenProvider } from '../../lib/buildkite/token.ts';
import { stepFunctionsApprovalGateway } from '../../lib/containment/approval.ts';
import { ContainmentConfig, type ContainmentConfigInput } from '../../lib/containment/config.ts';
import { ContainmentEngine, type ApprovalRequest } from '../../lib/containment/engine.ts';
import { parseRunbookInput } from '../../lib/containment/runbook-inputs.ts';
import { toBusEnvelope } from '../../lib/engine/bus.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { DynamoDbState } from '../../lib/state/dynamodb.ts';
import { SqliteState } from '../../lib/state/sqlite.ts';
import { ContainEnv, parseContainEnv } from '../../lambdas/contain/env.ts';
import { createContainProcessor } from '../../lambdas/contain/process.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';
import { awsClientConfig, createStateTable, uniqueName } from '../support/moto.ts';
import { expectValidOcsf } from '../support/ocsf-assertions.ts';
import { finding, recording, type ResourceSpec } from './helpers.ts';

let db: DynamoDBClient;
let sm: SecretsManagerClient;
let iam: IAMClient;
let table: string;
let tokenSecret: string;
let bk: FakeBuildkite;
let logs: string[];

interface Published {
  entries: PutEventsRequestEntry[];
  failNext: number;
}

function eventBridge(pub: Published): Pick<EventBridgeClient, 'send'> {
  return {
    send: (async (command: { input: { Entries?: PutEventsRequestEntry[] } }): Promise<PutEventsCommandOutput> => {
      const entries = command.input.Entries ?? [];
      if (pub.failNext > 0) {
        pub.failNext--;
        return { $metadata: {}, FailedEntryCount: entries.length, Entries: entries.map(() => ({ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' })) };
      }
      pub.entries.push(...entries);
      return { $metadata: {}, FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: randomUUID() })) };
    }) as EventBridgeClient['send'],
  };
}

/** One "cold start" of the contain Lambda: its own clients and engine, the shared table. */
function coldStart(config: ContainmentConfigInput, pub: Published, extra: { approvals?: Pick<SFNClient, 'send'> } = {}) {
  const engine = new ContainmentEngine({
    config: ContainmentConfig.parse(config),
    mode: 'enforce',
    state: new DynamoDbState({ client: db, tableName: table }),
    execution: {
      buildkite: new BuildkiteClient({ apiUrl: bk.url, graphqlUrl: bk.graphqlUrl, token: secretsManagerTokenProvider({ client: sm, secretId: tokenSecret }) }),
      secretsManager: sm,
      iam,
      now: Date.now,
      log: (l) => void logs.push(l),
    },
    ...(extra.approvals !== undefined ? { approvals: stepFunctionsApprovalGateway(extra.approvals, 'arn:aws:states:us-east-1:123456789012:stateMachine:kitewatch-approval') } : {}),
  });
  return createContainProcessor({
    contain: (f) => engine.contain(f),
    eventBridge: eventBridge(pub),
    eventBusName: 'kitewatch',
    logger: {
      info: (...a: unknown[]) => void logs.push(JSON.stringify(a)),
      warn: (...a: unknown[]) => void logs.push(JSON.stringify(a)),
      error: (...a: unknown[]) => void logs.push(JSON.stringify(a)),
    },
  });
}

function sqsRecord(f: OcsfEvent, messageId: string = randomUUID()): SQSRecord {
  return {
    messageId,
    receiptHandle: 'rh',
    body: JSON.stringify(toBusEnvelope(f)),
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'x', ApproximateFirstReceiveTimestamp: String(Date.now()) },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:contain',
    awsRegion: 'us-east-1',
  };
}

function tokenFinding(uid = `unusual-ip:${randomUUID()}`): { f: OcsfEvent; tokenId: string; agents: string[] } {
  const cluster = bk.addCluster();
  const token = bk.addClusterToken(cluster);
  const agents = [bk.addAgent(), bk.addAgent()];
  const resources: ResourceSpec[] = [{ uid: token.id, type: 'ClusterToken', role: 'target' }, ...agents.map((a) => ({ uid: a.id, name: a.name, type: 'Agent' as const, role: 'implicated' as const }))];
  return { f: finding({ detector: 'unusual-ip', uid, resources }), tokenId: token.id, agents: agents.map((a) => a.id) };
}

beforeAll(async () => {
  db = new DynamoDBClient(awsClientConfig());
  sm = new SecretsManagerClient(awsClientConfig());
  iam = new IAMClient(awsClientConfig());
  table = uniqueName('kw-contain-state');
  await createStateTable(db, table);
});
afterAll(() => {
  db.destroy();
  sm.destroy();
  iam.destroy();
});
beforeEach(async () => {
  bk = await FakeBuildkite.start();
  tokenSecret = uniqueName('bk-api-token');
  await sm.send(new CreateSecretCommand({ Name: tokenSecret, SecretString: bk.token }));
  logs = [];
});
afterEach(async () => {
  expect(logs.join('\n')).not.toContain(bk.token);
  await bk.close();
});

describe('contain Lambda (DynamoDB state, API token from Secrets Manager)', () => {
  it('a redelivered finding, on a fresh cold start, re-emits the same events and calls nothing', async () => {
    const { f, tokenId } = tokenFinding();
    const pub: Published = { entries: [], failNext: 0 };
    const res = await coldStart({}, pub).processBatch({ Records: [sqsRecord(f)] });
    expect(res.batchItemFailures).toEqual([]);
    expect(bk.calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toEqual([expect.stringContaining(tokenId)]);
    expect(bk.calls.filter((c) => c.method === 'PUT')).toHaveLength(2);
    const emitted = pub.entries.map((e) => JSON.parse(e.Detail ?? '{}') as OcsfEvent);
    expect(emitted.map((e) => e.status_detail)).toEqual(['done', 'done', 'done']);
    for (const e of pub.entries) {
      expect(e).toMatchObject({ Source: 'kitewatch', DetailType: 'OCSF Remediation Activity', EventBusName: 'kitewatch' });
      expectValidOcsf(JSON.parse(e.Detail ?? '{}') as OcsfEvent);
    }

    const before = bk.calls.length;
    const pub2: Published = { entries: [], failNext: 0 };
    await coldStart({}, pub2).processBatch({ Records: [sqsRecord(f)] });
    expect(bk.calls.length).toBe(before);
    expect(pub2.entries.map((e) => JSON.parse(e.Detail ?? '{}') as OcsfEvent)).toEqual(emitted);
  });

  it('concurrent deliveries of one finding act once (conditional claims)', async () => {
    // moto serves concurrent conditional writes without DynamoDB's atomicity, so the race runs
    // on the embedded adapter, whose conditional writes are atomic, with the same engine.
    const { f, tokenId } = tokenFinding();
    const shared = new SqliteState({ path: ':memory:' });
    const engine = (): ContainmentEngine =>
      new ContainmentEngine({
        config: ContainmentConfig.parse({}),
        mode: 'enforce',
        state: shared,
        execution: {
          buildkite: new BuildkiteClient({ apiUrl: bk.url, graphqlUrl: bk.graphqlUrl, token: secretsManagerTokenProvider({ client: sm, secretId: tokenSecret }) }),
          secretsManager: sm,
          iam,
          now: Date.now,
          log: (l) => void logs.push(l),
        },
      });
    const settled = await Promise.allSettled([engine().contain(f), engine().contain(f), engine().contain(f)]);
    expect(bk.calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toEqual([expect.stringContaining(tokenId)]);
    expect(bk.calls.filter((c) => c.method === 'PUT')).toHaveLength(2);
    // A delivery that finds its own finding's claim held fails (SQS retries it) instead of reporting a skip.
    for (const r of settled) if (r.status === 'rejected') expect((r.reason as Error).name).toBe('ClaimBusyError');
    const all = settled.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
    expect(new Set(all.filter((e) => e.status_detail === 'done').map((e) => e.metadata.uid)).size).toBe(3);
    expect(all.every((e) => e.status_detail === 'done')).toBe(true);
    // The retry finds the actions done: the same events again, nothing called.
    const calls = bk.calls.length;
    const retried = await engine().contain(f);
    expect(bk.calls.length).toBe(calls);
    expect(new Set(retried.map((e) => e.metadata.uid))).toEqual(new Set(all.filter((e) => e.status_detail === 'done').map((e) => e.metadata.uid)));
    await shared.close();
  });

  it('a failed publish fails the record; the redelivery publishes the same events without acting again', async () => {
    const { f } = tokenFinding();
    // InternalFailure is retryable: the publisher sends it three times before the record fails.
    const pub: Published = { entries: [], failNext: 3 };
    const record = sqsRecord(f, 'm-1');
    // A batch whose every record failed is thrown whole (Powertools), so SQS redelivers it.
    await expect(coldStart({}, pub).processBatch({ Records: [record] })).rejects.toThrow(/All records failed/);
    const calls = bk.calls.length;
    const second = await coldStart({}, pub).processBatch({ Records: [record] });
    expect(second.batchItemFailures).toEqual([]);
    expect(bk.calls.length).toBe(calls);
    expect(pub.entries.map((e) => (JSON.parse(e.Detail ?? '{}') as OcsfEvent).status_detail)).toEqual(['done', 'done', 'done']);
  });

  it('a message without a finding fails (to the DLQ after retries), never silently dropped', async () => {
    const pub: Published = { entries: [], failNext: 0 };
    const bad = { ...sqsRecord(finding({ detector: 'x', resources: [] }), 'm-bad'), body: '{"detail": {"class_uid": 3002}}' };
    const good = sqsRecord(finding({ detector: 'break-glass-edit', resources: [] }), 'm-good');
    const res = await coldStart({}, pub).processBatch({ Records: [bad, good] });
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'm-bad' }]);
  });

  it('starts the approval state machine for actions needing approval, once per approval id', async () => {
    const { f, tokenId } = tokenFinding();
    const { client: sfn, sent } = recording({ send: async () => ({ executionArn: 'arn:x', startDate: new Date() }) } as unknown as SFNClient);
    const pub: Published = { entries: [], failNext: 0 };
    const config: ContainmentConfigInput = { approval: { required: ['revoke-agent-token'], deadlineMinutes: 30 } };
    await coldStart(config, pub, { approvals: sfn }).processBatch({ Records: [sqsRecord(f)] });
    await coldStart(config, pub, { approvals: sfn }).processBatch({ Records: [sqsRecord(f)] });
    expect(bk.calls.some((c) => c.method === 'DELETE')).toBe(false);
    expect(sent.map((c) => c.name)).toEqual(['StartExecution']);
    const input = JSON.parse(String(sent[0]?.input['input'])) as ApprovalRequest;
    expect(sent[0]?.input['name']).toBe(input.approvalId);
    expect(input).toMatchObject({ action: 'revoke-agent-token', target: { uid: tokenId, org: 'acme' }, why: 'approval required' });
    expect(parseRunbookInput('revoke-agent-token', input.runbookInput)).toMatchObject({ tokenId, org: 'acme', dryRun: false, correlationUid: input.correlationUid });
    expectValidOcsf(input.expiredActivity);
    expect(input.expiredActivity.status_detail).toBe('expired: approval deadline passed');
    const pending = pub.entries.map((e) => JSON.parse(e.Detail ?? '{}') as OcsfEvent).filter((e) => e.command_uid === 'revoke-agent-token');
    expect(pending.map((e) => e.status_detail)).toEqual(['pending approval: approval required', 'pending approval: approval required']);
    expect(pending[0]?.metadata.uid).toBe(pending[1]?.metadata.uid);
  });

  it('a token-spike look-alike agent: stop-agent starts the approval state machine for it, and stops only the implicated agent', async () => {
    const cluster = bk.addCluster();
    const token = bk.addClusterToken(cluster);
    const [rogue, lookAlike] = [bk.addAgent(), bk.addAgent()];
    const resources: ResourceSpec[] = [
      { uid: token.id, type: 'ClusterToken', role: 'target' },
      { uid: rogue.id, name: rogue.name, type: 'Agent', role: 'implicated' },
      { uid: lookAlike.id, name: lookAlike.name, type: 'Agent', role: 'related', data: { like_fleet: true } },
    ];
    const f = finding({ detector: 'token-spike', uid: `token-spike:${randomUUID()}`, resources });
    const { client: sfn, sent } = recording({ send: async () => ({ executionArn: 'arn:x', startDate: new Date() }) } as unknown as SFNClient);
    const pub: Published = { entries: [], failNext: 0 };
    await coldStart({}, pub, { approvals: sfn }).processBatch({ Records: [sqsRecord(f)] });
    expect(bk.agents.get(rogue.id)?.stopped).toBeDefined();
    expect(bk.agents.get(lookAlike.id)?.stopped).toBeUndefined();
    expect(sent.map((c) => c.name)).toEqual(['StartExecution']);
    const input = JSON.parse(String(sent[0]?.input['input'])) as ApprovalRequest;
    expect(input).toMatchObject({ action: 'stop-agent', target: { uid: lookAlike.id, org: 'acme' }, why: "the agent looks like its token's fleet (stopped only if a responder approves)" });
    expect(parseRunbookInput('stop-agent', input.runbookInput)).toMatchObject({ agentId: lookAlike.id, org: 'acme', dryRun: false });
    const stops = pub.entries.map((e) => JSON.parse(e.Detail ?? '{}') as OcsfEvent).filter((e) => e.command_uid === 'stop-agent');
    expect(stops.map((e) => [(e.unmapped as { kitewatch: { target: { uid: string } } }).kitewatch.target.uid, e.status_detail])).toEqual([
      [rogue.id, 'done'],
      [lookAlike.id, "pending approval: the agent looks like its token's fleet (stopped only if a responder approves)"],
    ]);
  });

  it('parses its environment once, naming what is missing or invalid', () => {
    expect(() => parseContainEnv({})).toThrow(/KITEWATCH_EVENT_BUS_NAME/);
    const env = { [ContainEnv.eventBusName]: 'kw', [ContainEnv.stateTable]: 't', [ContainEnv.apiTokenSecretArn]: 'arn:s' };
    expect(parseContainEnv(env)).toMatchObject({ apiUrl: 'https://api.buildkite.com', graphqlUrl: 'https://graphql.buildkite.com/v1', config: { mode: 'dry-run' } });
    expect(() => parseContainEnv({ ...env, [ContainEnv.config]: '{"mode":"enforce","bogus":1}' })).toThrow(/KITEWATCH_CONTAINMENT_CONFIG: unknown key "bogus"/);
  });
});
