/**
 * lambdas/detect/process.ts in process, against moto: the real DynamoDB state adapter and a real
 * EventBridge bus whose findings rule delivers to an SQS queue we read back.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteTableCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { CreateEventBusCommand, DeleteEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand, RemoveTargetsCommand, DeleteRuleCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, DeleteMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import { createDetectStage } from '../../lib/detections/stage.ts';
import { toBusEnvelope } from '../../lib/engine/bus.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { DynamoDbState } from '../../lib/state/dynamodb.ts';
import { SqliteState } from '../../lib/state/sqlite.ts';
import { DetectEnv, EnvError, parseDetectEnv } from '../../lambdas/detect/env.ts';
import { createDetector } from '../../lambdas/detect/process.ts';
import { DIR, SCENARIO_CONFIG } from '../fixtures/scenarios/generate.ts';
import { awsClientConfig, createStateTable, uniqueName } from '../support/moto.ts';
import { expectValidFinding, info } from './support.ts';

let db: DynamoDBClient;
let eb: EventBridgeClient;
let sqs: SQSClient;
let tableName: string;
let busName: string;
let ruleName: string;
let queueUrl: string;

const config = parseConfig(SCENARIO_CONFIG);

interface Logged {
  level: string;
  message: string;
  extra: unknown;
}

function fakes() {
  const lines: Logged[] = [];
  const metrics: Array<[string, number]> = [];
  const log =
    (level: string) =>
    (message: string, ...extra: Record<string, unknown>[]): void =>
      void lines.push({ level, message, extra });
  return {
    lines,
    metrics,
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    metricsSink: { addMetric: (name: string, _unit: string, value: number): void => void metrics.push([name, value]) },
  };
}

let seq = 0;
function sqsRecord(body: string): SQSRecord {
  seq++;
  return {
    messageId: `msg-${seq}`,
    receiptHandle: `rh-${seq}`,
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1773100000000', SenderId: 'x', ApproximateFirstReceiveTimestamp: '1773100000000' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:kitewatch-detect',
    awsRegion: 'us-east-1',
  };
}

/** A normalized event as the detect queue receives it: the EventBridge event as JSON. */
function body(event: OcsfEvent): string {
  return JSON.stringify({ version: '0', id: event.metadata.uid, account: '123456789012', region: 'us-east-1', resources: [], ...toBusEnvelope(event) });
}

function attackEvents(): OcsfEvent[] {
  return readFileSync(join(DIR, 'attack.ndjson'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const r = normalizeEnvelope(JSON.parse(l));
      if (!r.ok) throw new Error(r.reason);
      return r.event;
    });
}

async function drainFindings(): Promise<OcsfEvent[]> {
  const out: OcsfEvent[] = [];
  for (;;) {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    const msgs = r.Messages ?? [];
    if (msgs.length === 0) return out;
    for (const m of msgs) out.push((JSON.parse(m.Body ?? '{}') as { detail: OcsfEvent }).detail);
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })) }));
  }
}

beforeAll(async () => {
  db = new DynamoDBClient(awsClientConfig());
  eb = new EventBridgeClient(awsClientConfig());
  sqs = new SQSClient(awsClientConfig());
  tableName = uniqueName('kw-detect-state');
  busName = uniqueName('kw-bus');
  ruleName = uniqueName('kw-findings');
  await createStateTable(db, tableName);
  await eb.send(new CreateEventBusCommand({ Name: busName }));
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('kw-findings') }))).QueueUrl ?? '';
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.['QueueArn'];
  // The same pattern as rules/findings-to-containment.json.
  const rule = JSON.parse(readFileSync(new URL('../../rules/findings-to-containment.json', import.meta.url), 'utf8')) as { eventPattern: unknown };
  await eb.send(new PutRuleCommand({ Name: ruleName, EventBusName: busName, EventPattern: JSON.stringify(rule.eventPattern) }));
  await eb.send(new PutTargetsCommand({ Rule: ruleName, EventBusName: busName, Targets: [{ Id: 'findings', Arn: arn }] }));
});

afterAll(async () => {
  await eb.send(new RemoveTargetsCommand({ Rule: ruleName, EventBusName: busName, Ids: ['findings'] }));
  await eb.send(new DeleteRuleCommand({ Name: ruleName, EventBusName: busName }));
  await eb.send(new DeleteEventBusCommand({ Name: busName }));
  await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  await db.send(new DeleteTableCommand({ TableName: tableName }));
  db.destroy();
  eb.destroy();
  sqs.destroy();
});

describe('detector Lambda (process.ts) against moto', () => {
  it('publishes the same findings as kitewatch replay, batch after batch, with state in DynamoDB', async () => {
    const events = attackEvents();
    // The live run: SQS batches of 50, each shuffled (SQS keeps no order).
    const f = fakes();
    const state = new DynamoDbState({ client: db, tableName });
    const detector = createDetector({ eventBridge: eb, eventBusName: busName, state, config, logger: f.logger, metrics: f.metricsSink });
    for (let i = 0; i < events.length; i += 50) {
      const batch = events.slice(i, i + 50).map((e) => sqsRecord(body(e)));
      batch.reverse();
      const res = await detector.processBatch({ Records: batch });
      expect(res.batchItemFailures).toEqual([]);
    }
    const published = await drainFindings();

    // The replay of the same events, flushed every 50 like the batches.
    const replayState = new SqliteState({ path: ':memory:' });
    const stage = createDetectStage(config, replayState);
    const replayed: OcsfEvent[] = [];
    for (const [i, e] of events.entries()) {
      replayed.push(...(await stage.detect(e)));
      if ((i + 1) % 50 === 0 || i === events.length - 1) {
        replayed.push(...(await stage.drain()));
        await stage.flush();
      }
    }
    await replayState.close();

    // Ten incidents: ten findings, and Updates of them as new agents and secrets show up.
    expect(published.filter((x) => x.activity_id === 1).length).toBe(10);
    expect(published.length).toBe(replayed.length);
    published.forEach(expectValidFinding);
    const key = (x: OcsfEvent) => x.metadata.uid;
    expect(published.map(key).sort()).toEqual(replayed.map(key).sort());
    expect(JSON.stringify([...published].sort((a, b) => key(a).localeCompare(key(b))))).toBe(JSON.stringify([...replayed].sort((a, b) => key(a).localeCompare(key(b)))));

    // Few writes: aggregated per batch. Every item is namespaced and expires (TTL).
    expect(state.writeCount / events.length).toBeLessThan(0.5);
    const items = (await db.send(new ScanCommand({ TableName: tableName }))).Items ?? [];
    expect(items.length).toBeGreaterThan(10);
    for (const item of items) {
      expect(item['pk']?.S).toMatch(/^detect:/);
      expect(Number(item['ttl']?.N)).toBeGreaterThan(Math.floor(Date.now() / 1000));
    }
    expect(f.metrics.filter(([n]) => n === 'FindingsPublished').reduce((s, [, v]) => s + v, 0)).toBe(published.length);
    // Logs name findings and counts, never payloads.
    for (const l of f.lines) expect(JSON.stringify(l)).not.toMatch(/185\.220\.101\.34|PROD_DB_PASSWORD/);
  });

  it('counts a redelivered or re-sent batch once: the same findings and the same detector state as one delivery', async () => {
    const f = fakes();
    const table = uniqueName('kw-detect-resent');
    await createStateTable(db, table);
    const state = new DynamoDbState({ client: db, tableName: table });
    const detector = createDetector({ eventBridge: eb, eventBusName: busName, state, config, logger: f.logger, metrics: f.metricsSink });
    const events = attackEvents();
    const batches: SQSRecord[][] = [];
    for (let i = 0; i < events.length; i += 50) batches.push(events.slice(i, i + 50).map((e) => sqsRecord(body(e))));
    for (const b of batches) expect((await detector.processBatch({ Records: b })).batchItemFailures).toEqual([]);
    const once = await drainFindings();
    expect(once.filter((x) => x.activity_id === 1)).toHaveLength(10);
    const detectorItems = async () =>
      ((await db.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items ?? [])
        .filter((i) => !/^detect:(seen:|last-event$)/.test(i['pk']?.S ?? ''))
        .map((i) => JSON.stringify([i['pk']?.S, i['v'], i['ver']?.N]))
        .sort();
    const before = await detectorItems();

    // Every batch delivered again (SQS redelivery, a backfill re-run), then two batches merged into one.
    for (const b of batches) expect((await detector.processBatch({ Records: b.map((r) => sqsRecord(r.body)) })).batchItemFailures).toEqual([]);
    const merged = [...(batches[3] ?? []), ...(batches[4] ?? [])].map((r) => sqsRecord(r.body));
    expect((await detector.processBatch({ Records: merged })).batchItemFailures).toEqual([]);
    expect(await drainFindings()).toEqual([]);
    expect(await detectorItems()).toEqual(before);
    const resent = f.metrics.filter(([n]) => n === 'ResentEvents').reduce((sum, [, v]) => sum + v, 0);
    expect(resent).toBeGreaterThan(500);

    // Genuinely new events still count: an agent token seen before, now used from the attacker's network.
    const token = events.find((e) => e.metadata.event_code === 'Agent Connected') as OcsfEvent;
    const later = { ...token, time: token.time + 60_000, metadata: { ...token.metadata, uid: '0b7c0a43-5b0e-8f1d-9a3b-7c1e2d3f4a5b' } };
    expect((await detector.processBatch({ Records: [sqsRecord(body(later))] })).batchItemFailures).toEqual([]);
    expect(f.metrics.filter(([n]) => n === 'ResentEvents').reduce((sum, [, v]) => sum + v, 0)).toBe(resent);
    await db.send(new DeleteTableCommand({ TableName: table }));
  });

  it('fails only the record that is not a normalized event (it goes to the DLQ after retries)', async () => {
    const f = fakes();
    const detector = createDetector({ eventBridge: eb, eventBusName: busName, state: new DynamoDbState({ client: db, tableName }), config, logger: f.logger, metrics: f.metricsSink });
    const good = sqsRecord(body(attackEvents()[0] as OcsfEvent));
    const garbage = sqsRecord('{"not json');
    const wrongType = sqsRecord(JSON.stringify({ source: 'kitewatch', 'detail-type': 'OCSF Detection Finding', detail: {} }));
    const res = await detector.processBatch({ Records: [good, garbage, wrongType] });
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: garbage.messageId }, { itemIdentifier: wrongType.messageId }]);
    expect(f.lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      'record is not a normalized OCSF event; left for the DLQ',
      'record is not a normalized OCSF event; left for the DLQ',
    ]);
    expect(JSON.stringify(f.lines)).not.toContain('not json');
  });

  it('fails the whole batch and keeps no state when findings cannot be published', async () => {
    const f = fakes();
    const failing = { send: async () => Promise.reject(Object.assign(new Error('throttled'), { name: 'ThrottlingException' })) };
    // A fresh table so the first event raises a finding (a blocked registration does, at once).
    const table = uniqueName('kw-detect-fail');
    await createStateTable(db, table);
    const real = new DynamoDbState({ client: db, tableName: table });
    const blocked = attackEvents().find((e) => e.metadata.event_code === 'Cluster Token Registration Blocked') as OcsfEvent;
    const records = [sqsRecord(body(blocked)), sqsRecord(body(attackEvents()[1] as OcsfEvent))];
    const detector = createDetector({ eventBridge: failing, eventBusName: busName, state: real, config, logger: f.logger, metrics: f.metricsSink });
    const res = await detector.processBatch({ Records: records });
    expect(res.batchItemFailures.map((x) => x.itemIdentifier)).toEqual(records.map((r) => r.messageId));
    expect(real.writeCount).toBe(0);
    expect(f.metrics).toContainEqual(['PublishFailures', 1]);
    // Redelivered to a working bus: the finding is raised then (dedup state was not kept).
    const ok = createDetector({ eventBridge: eb, eventBusName: busName, state: real, config, logger: f.logger, metrics: f.metricsSink });
    expect((await ok.processBatch({ Records: records })).batchItemFailures).toEqual([]);
    const published = await drainFindings();
    expect(published.map((p) => info(p).analytic.uid)).toEqual(['unusual-ip']);
    await db.send(new DeleteTableCommand({ TableName: table }));
  });

  it('fails the whole batch when the state table is unavailable, publishing nothing', async () => {
    const f = fakes();
    const detector = createDetector({
      eventBridge: eb,
      eventBusName: busName,
      state: new DynamoDbState({ client: db, tableName: uniqueName('missing-table') }),
      config,
      logger: f.logger,
      metrics: f.metricsSink,
    });
    const records = attackEvents()
      .slice(0, 3)
      .map((e) => sqsRecord(body(e)));
    const res = await detector.processBatch({ Records: records });
    expect(res.batchItemFailures).toHaveLength(3);
    expect(f.metrics).toContainEqual(['StateFailures', 1]);
    expect(await drainFindings()).toEqual([]);
  });
});

describe('detector environment', () => {
  const env = { [DetectEnv.eventBusName]: 'kitewatch', [DetectEnv.stateTableName]: 'kw-state', [DetectEnv.ipDataDir]: '/opt/ip-location-db' };

  it('parses the variables and the detectors block', () => {
    const s = parseDetectEnv({ ...env, [DetectEnv.detectorsConfig]: JSON.stringify({ 'unusual-ip': { allowedCidrs: ['10.0.0.0/8'] } }) });
    expect(s).toMatchObject({ eventBusName: 'kitewatch', stateTableName: 'kw-state', ipDataDir: '/opt/ip-location-db' });
    expect(s.config.detectors['unusual-ip'].allowedCidrs).toEqual(['10.0.0.0/8']);
    expect(parseDetectEnv(env).config.detectors['token-spike'].minAgentRegistrations).toBe(50);
  });

  it('fails the cold start naming what is wrong', () => {
    expect(() => parseDetectEnv({ ...env, [DetectEnv.stateTableName]: undefined })).toThrow(/KITEWATCH_STATE_TABLE/);
    expect(() => parseDetectEnv({ ...env, [DetectEnv.detectorsConfig]: '{' })).toThrow(EnvError);
    expect(() => parseDetectEnv({ ...env, [DetectEnv.detectorsConfig]: '{"unusual-ipz":{}}' })).toThrow(/unusual-ipz/);
  });
});
