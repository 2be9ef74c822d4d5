/**
 * Every Lambda's handler.ts as deployed: its module imported with the environment the construct
 * sets (pointed at moto, the local Buildkite API and the local audit API) and invoked once. The
 * handler only parses its environment, builds the real clients and calls compose() (the same
 * compose test/e2e/harness.ts runs the pipeline with), so each test here checks that wiring: a
 * handler that built its Lambda some other way, read a variable the construct does not set, or
 * pointed a client at the wrong resource would fail here. lambdas/lake-sources is invoked the same
 * way in test/forward/lake-sources.test.ts (against a local Security Lake: moto has none).
 */
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetFindingsCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, FirehoseTransformationEvent, FirehoseTransformationResult, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackfillEnv } from '../../lambdas/backfill/env.ts';
import { ContainEnv } from '../../lambdas/contain/env.ts';
import { DetectEnv } from '../../lambdas/detect/env.ts';
import { AckEnv } from '../../lambdas/detections-ack/env.ts';
import { ForwardEnv } from '../../lambdas/forward/env.ts';
import { NormalizeEnv } from '../../lambdas/normalize/env.ts';
import { RotateAgentTokenEnv } from '../../lambdas/rotate-agent-token/env.ts';
import { RunbookEnv } from '../../lambdas/runbooks/env.ts';
import { SecurityHubEnv } from '../../lambdas/securityhub/env.ts';
import { PowertoolsEnv } from '../../lambdas/shared/env.ts';
import { ACTION_IDS, type RunbookId } from '../../lib/containment/actions.ts';
import { toBusEnvelope } from '../../lib/engine/bus.ts';
import { asffId } from '../../lib/forward/asff.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { finding } from '../containment/helpers.ts';
import { FakeAuditApi, restAuditItem } from '../support/fake-audit-api.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';
import { sample } from '../support/fixtures.ts';
import { awsClientConfig, createStateTable, motoEndpoint, uniqueName } from '../support/moto.ts';
import { createIngestHarness, type IngestHarness } from './support/ingest-harness.ts';
import { lambdaContext, sqsEvent, sqsRecord } from './support/sqs-event.ts';

const ACCOUNT = '123456789012';
const ORG = { slug: 'acme', uuid: 'ae85860c-94f9-4275-91cb-3986590f45b5', graphqlId: 'T3Jn' };

type Handler<E, R> = (event: E, context: Context) => Promise<R>;

const db = new DynamoDBClient(awsClientConfig());
const sm = new SecretsManagerClient(awsClientConfig());
const sqs = new SQSClient(awsClientConfig());
let h: IngestHarness;
let bk: FakeBuildkite;
let table: string;
let tokenSecretArn: string;

/** What the bus has delivered since the last call (moto delivers during PutEvents). */
const everythingPublished = () => h.drainPublished(Number.POSITIVE_INFINITY);

/** Imports a handler module with `env` added to what the construct sets for every function. */
async function load<H>(path: string, env: Record<string, string>): Promise<H> {
  Object.assign(process.env, env);
  return ((await import(path)) as { handler: H }).handler;
}

beforeAll(async () => {
  h = await createIngestHarness();
  bk = await FakeBuildkite.start({ org: ORG.slug });
  table = uniqueName('kw-handlers');
  await createStateTable(db, table);
  tokenSecretArn = (await sm.send(new CreateSecretCommand({ Name: uniqueName('buildkite-api-token'), SecretString: bk.token }))).ARN as string;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: motoEndpoint(),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    [PowertoolsEnv.serviceName]: 'handlers-test',
    [PowertoolsEnv.logLevel]: 'SILENT',
    // Powertools metrics would print EMF to stdout; the test does not read it.
    POWERTOOLS_METRICS_DISABLED: 'true',
    [NormalizeEnv.eventBusName]: h.eventBusName,
    [ContainEnv.stateTable]: table,
  });
});
afterAll(async () => {
  await bk?.close();
});

/** The handler.ts files invoked below (and lake-sources, in its own test file). */
const INVOKED = new Set<string>(['lake-sources/handler.ts']);

/** Imports a handler module that this file invokes, with `env` added. */
async function invoked<H>(lambda: string, env: Record<string, string>): Promise<H> {
  INVOKED.add(`${lambda}/handler.ts`);
  return load<H>(`../../lambdas/${lambda}/handler.ts`, env);
}

describe('the pipeline Lambdas, from handler.ts', () => {
  it('normalize: publishes to the bus and quarantines to the bucket the environment names', async () => {
    const handler = await invoked<Handler<SQSEvent, SQSBatchResponse>>('normalize', { [NormalizeEnv.quarantineBucket]: h.quarantineBucket });
    const good = sqsRecord(JSON.stringify(sample('agent-connected')));
    const bad = sqsRecord('not an envelope');
    expect(await handler(sqsEvent([good, bad]), lambdaContext('kitewatch-normalize'))).toEqual({ batchItemFailures: [] });
    expect(await everythingPublished()).toEqual([expect.objectContaining({ source: 'kitewatch', 'detail-type': 'OCSF Event' })]);
    expect([...(await h.quarantined()).values()]).toEqual([expect.objectContaining({ origin: `sqs:${bad.messageId}` })]);
  });

  it('detect: keeps state in the table and reads the IP tables from KITEWATCH_IP_DATA_DIR', async () => {
    // The layer's layout (lib/infra/ip-data-layer.ts), made of the installed packages and the repository's cloud ranges.
    const require = createRequire(import.meta.url);
    const layer = mkdtempSync(join(tmpdir(), 'kw-ip-layer-'));
    symlinkSync(dirname(require.resolve('@ip-location-db/asn/package.json')), join(layer, 'asn'));
    symlinkSync(dirname(require.resolve('@ip-location-db/geo-whois-asn-country/package.json')), join(layer, 'geo-whois-asn-country'));
    mkdirSync(join(layer, 'cloud-ranges'));
    symlinkSync(fileURLToPath(new URL('../../data/cloud-ranges/cloud-regions.json', import.meta.url)), join(layer, 'cloud-ranges', 'cloud-regions.json'));
    const handler = await invoked<Handler<SQSEvent, SQSBatchResponse>>('detect', { [DetectEnv.ipDataDir]: layer, [DetectEnv.detectorsConfig]: '{}' });
    const normalized = normalizeEnvelope(sample('agent-connected'));
    if (!normalized.ok) throw new Error(normalized.reason);
    const envelope = toBusEnvelope(normalized.event);
    const record = sqsRecord(JSON.stringify({ source: envelope.source, 'detail-type': envelope['detail-type'], detail: envelope.detail }));
    expect(await handler(sqsEvent([record]), lambdaContext('kitewatch-detect'))).toEqual({ batchItemFailures: [] });
    // unusual-ip remembers the agent token's network: an ASN from the tables in the layer.
    const items = await db.send(new ScanCommand({ TableName: table }));
    expect(JSON.stringify(items.Items)).toMatch(/14618|AS14618|Amazon/);
  });

  it('contain: publishes the Remediation Activities of a finding to the bus (dry-run)', async () => {
    const handler = await invoked<Handler<SQSEvent, SQSBatchResponse>>('contain', {
      [ContainEnv.config]: JSON.stringify({ mode: 'dry-run' }),
      [ContainEnv.apiTokenSecretArn]: tokenSecretArn,
      [ContainEnv.apiUrl]: bk.url,
      [ContainEnv.graphqlUrl]: bk.graphqlUrl,
    });
    const f = finding({ detector: 'unusual-ip', uid: `unusual-ip:${randomUUID()}`, resources: [{ uid: randomUUID(), type: 'ClusterToken', role: 'target' }] });
    const record = sqsRecord(JSON.stringify(toBusEnvelope(f)));
    expect(await handler(sqsEvent([record]), lambdaContext('kitewatch-contain'))).toEqual({ batchItemFailures: [] });
    const published = (await everythingPublished()).map((e) => e['detail'] as OcsfEvent);
    expect(published.length).toBeGreaterThan(0);
    for (const a of published) expect(a).toMatchObject({ class_uid: 7001, metadata: { correlation_uid: (f['finding_info'] as { uid: string }).uid } });
    expect(bk.calls).toEqual([]);
  });

  it('securityhub: imports a finding into the account and region the environment names', async () => {
    const handler = await invoked<Handler<SQSEvent, SQSBatchResponse>>('securityhub', { [SecurityHubEnv.accountId]: ACCOUNT, [SecurityHubEnv.region]: 'us-east-1' });
    const f = finding({ detector: 'break-glass-edit', uid: `break-glass-edit:${randomUUID()}`, resources: [{ uid: randomUUID(), type: 'Pipeline', role: 'target' }] });
    expect(await handler(sqsEvent([sqsRecord(JSON.stringify(toBusEnvelope(f)))]), lambdaContext('kitewatch-securityhub'))).toEqual({ batchItemFailures: [] });
    const hub = new SecurityHubClient(awsClientConfig());
    const id = asffId((f['finding_info'] as { uid: string }).uid);
    // moto ignores GetFindings filters: page through everything (other files share the server) and pick by Id.
    const ids: string[] = [];
    let next: string | undefined;
    do {
      const page = await hub.send(new GetFindingsCommand({ MaxResults: 100, NextToken: next }));
      ids.push(...(page.Findings ?? []).map((x) => x.Id ?? '').filter((x) => x === id));
      next = page.NextToken === '' ? undefined : page.NextToken;
    } while (next !== undefined);
    expect(ids).toEqual([id]);
  });

  it('forward: transforms for the routed stream and drops a uid an earlier buffer delivered (the state table)', async () => {
    const stream = uniqueName('kw-fwd-http');
    const handler = await invoked<Handler<FirehoseTransformationEvent, FirehoseTransformationResult>>('forward', {
      [ForwardEnv.routes]: JSON.stringify({ [stream]: { format: 'ndjson' } }),
      [ForwardEnv.stateTable]: table,
    });
    const normalized = normalizeEnvelope(sample('agent-connected'));
    if (!normalized.ok) throw new Error(normalized.reason);
    const buffer = (recordId: string): FirehoseTransformationEvent => ({
      invocationId: randomUUID(),
      deliveryStreamArn: `arn:aws:firehose:us-east-1:${ACCOUNT}:deliverystream/${stream}`,
      region: 'us-east-1',
      records: [{ recordId, approximateArrivalTimestamp: Date.now(), data: Buffer.from(JSON.stringify(normalized.event)).toString('base64') }],
    });
    expect((await handler(buffer('1'), lambdaContext('kitewatch-forward'))).records.map((r) => r.result)).toEqual(['Ok']);
    expect((await handler(buffer('2'), lambdaContext('kitewatch-forward'))).records.map((r) => r.result)).toEqual(['Dropped']);
  });

  it('backfill: reads the audit API with the token from Secrets Manager and fills the ingest queue', async () => {
    const token = `bkua_${randomUUID().replaceAll('-', '')}`;
    const now = Date.now();
    const items = Array.from({ length: 3 }, (_, i) =>
      restAuditItem({ uuid: `01931fa7-b1c0-7abc-8abc-${i.toString(16).padStart(12, '0')}`, occurredAt: new Date(now - (i + 1) * 60_000).toISOString(), type: 'PipelineUpdatedEvent' }),
    );
    const api = await new FakeAuditApi({ token, org: ORG, items }).start();
    try {
      const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('backfill-ingest') }))).QueueUrl as string;
      const secret = await sm.send(new CreateSecretCommand({ Name: uniqueName('backfill-token'), SecretString: token }));
      const handler = await invoked<Handler<unknown, { sent: number }>>('backfill', {
        [BackfillEnv.apiTokenSecretArn]: secret.ARN as string,
        [BackfillEnv.apiUrl]: api.url,
        [BackfillEnv.org]: ORG.slug,
        [BackfillEnv.ingestQueueUrl]: queueUrl,
        [BackfillEnv.seedDays]: '1',
        [BackfillEnv.silenceMinutes]: '60',
        [BackfillEnv.silenceAlarmName]: 'kitewatch-silence',
      });
      const report = await handler({ since: new Date(now - 3_600_000).toISOString() }, lambdaContext('kitewatch-backfill'));
      expect(report).toMatchObject({ trigger: 'manual', fetched: 3, sent: 3 });
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
      expect(got.Messages).toHaveLength(3);
    } finally {
      await api.stop();
    }
  });

  it('detections-ack: acknowledges into the state table', async () => {
    const handler = await invoked<Handler<unknown, { acknowledged: boolean }>>('detections-ack', { [AckEnv.stateTableName]: table });
    const entity = randomUUID();
    expect(await handler({ entityType: 'AgentToken', entity, networks: ['AS14618'] }, lambdaContext('kitewatch-detections-ack'))).toMatchObject({ acknowledged: true, entity });
    const items = await db.send(new ScanCommand({ TableName: table }));
    expect(JSON.stringify(items.Items)).toContain(entity);
  });

  it('rotate-agent-token: reads the secret being rotated from Secrets Manager (and refuses one without rotation)', async () => {
    const handler = await invoked<Handler<unknown, void>>('rotate-agent-token', {
      [RotateAgentTokenEnv.apiTokenSecretArn]: tokenSecretArn,
      [RotateAgentTokenEnv.apiUrl]: bk.url,
    });
    const secret = await sm.send(new CreateSecretCommand({ Name: uniqueName('agent-token'), SecretString: JSON.stringify({ token: 'x', token_id: randomUUID() }) }));
    await expect(handler({ SecretId: secret.ARN, ClientRequestToken: randomUUID(), Step: 'createSecret' }, lambdaContext('kitewatch-rotate-agent-token'))).rejects.toThrow(
      /does not have rotation enabled/,
    );
  });
});

describe('the runbook Lambdas, from handler.ts', () => {
  const inputs: Record<RunbookId, Record<string, unknown>> = {
    'revoke-agent-token': { org: ORG.slug, tokenId: randomUUID() },
    'stop-agent': { org: ORG.slug, agentId: randomUUID() },
    'rotate-secret': { secretId: 'some/secret' },
    'revoke-role-sessions': { role: 'deploy' },
    'pause-queue': { org: ORG.slug, clusterId: randomUUID(), queueId: randomUUID() },
    'cancel-build': { org: ORG.slug, pipeline: 'deploy', buildNumber: 7 },
    'archive-pipeline': { org: ORG.slug, pipeline: 'deploy' },
    'revoke-grant': { org: ORG.slug, kind: 'invitation', uuid: randomUUID() },
    'remove-member': { org: ORG.slug, userId: randomUUID() },
    'cancel-job': { org: ORG.slug, jobId: randomUUID() },
    'approve-action': { taskToken: 'task-token', decision: 'deny', responder: 'carol' },
  };
  type RunbookHandler = Handler<unknown, { runbook: string; outcome: string; dryRun: boolean }>;
  const runbookEnv = () => ({ [RunbookEnv.apiTokenSecretArn]: tokenSecretArn, [RunbookEnv.apiUrl]: bk.url, [RunbookEnv.graphqlUrl]: bk.graphqlUrl });

  it.each(ACTION_IDS.map((id) => [id]))('%s: a dry run (the default) reports, publishes its Remediation Activity, and calls nothing', async (id) => {
    const handler = await invoked<RunbookHandler>(`runbooks/${id}`, runbookEnv());
    const calls = bk.calls.length;
    const report = await handler(inputs[id], lambdaContext(`kitewatch-runbook-${id}`));
    expect(report).toMatchObject({ runbook: id, dryRun: true, outcome: 'dry-run' });
    expect((await everythingPublished()).map((e) => (e['detail'] as OcsfEvent).class_uid)).toEqual([7001]);
    expect(bk.calls.length).toBe(calls);
  });

  it('approve-action answers the waiting task through Step Functions', async () => {
    const handler = await invoked<Handler<unknown, { outcome: string; calls: string[] }>>('runbooks/approve-action', runbookEnv());
    const report = await handler({ ...inputs['approve-action'], dryRun: false }, lambdaContext('kitewatch-runbook-approve-action'));
    expect(report).toMatchObject({ outcome: 'denied', calls: ['states:SendTaskFailure'] });
  });

  it('stop-agent acts through the Buildkite API with the token from Secrets Manager', async () => {
    const handler = await invoked<RunbookHandler>('runbooks/stop-agent', runbookEnv());
    const agent = bk.addAgent();
    const report = await handler({ org: ORG.slug, agentId: agent.id, dryRun: false }, lambdaContext('kitewatch-runbook-stop-agent'));
    expect(report).toMatchObject({ runbook: 'stop-agent', dryRun: false, outcome: 'done' });
    expect(bk.calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toContain(`PUT /v2/organizations/${ORG.slug}/agents/${agent.id}/stop 204`);
    await everythingPublished();
  });
});

// Last in the file (tests run in order): every handler above has been imported by now.
it('invokes every handler.ts under lambdas/ (a Lambda added without a test here would deploy wiring nothing runs)', () => {
  const handlers = readdirSync(fileURLToPath(new URL('../../lambdas', import.meta.url)), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('handler.ts'));
  expect(handlers.filter((f) => !INVOKED.has(f))).toEqual([]);
});
