/**
 * The transform's cross-buffer idempotency check (lambdas/forward/process.ts) against moto through
 * the real SDK: a uid delivered by an earlier invocation is Dropped, a Firehose retry is kept.
 */
import { randomUUID } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { FirehoseTransformationEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamRoute } from '../../lib/forward/firehose.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { parseForwardEnv } from '../../lambdas/forward/env.ts';
import { createTransformer, DEDUP_TTL_SECONDS, dedupKey, type ForwardDedup } from '../../lambdas/forward/process.ts';
import { awsClientConfig, createStateTable, uniqueName } from '../support/moto.ts';
import { manyEvents, recordingLogger, recordingMetrics } from './helpers.ts';

const ROUTES: Record<string, StreamRoute> = { 'kw-fwd-splunk': { format: 'splunk-hec' }, 'kw-fwd-http-a': { format: 'ndjson' } };
const NOW = 1_724_044_697;

let db: DynamoDBClient;
let table: string;

beforeAll(async () => {
  db = new DynamoDBClient(awsClientConfig());
  table = uniqueName('kw-fwd-dedup');
  await createStateTable(db, table);
});
afterAll(async () => {
  await db?.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
  db?.destroy();
});

function invocation(stream: string, records: readonly { id: string; event: OcsfEvent }[]): FirehoseTransformationEvent {
  return {
    invocationId: randomUUID(),
    deliveryStreamArn: `arn:aws:firehose:us-east-1:123456789012:deliverystream/${stream}`,
    region: 'us-east-1',
    records: records.map((r) => ({ recordId: r.id, approximateArrivalTimestamp: NOW * 1000, data: Buffer.from(JSON.stringify(r.event), 'utf8').toString('base64') })),
  };
}

function transformer(dedup: Partial<ForwardDedup> = {}) {
  const metrics = recordingMetrics();
  const log = recordingLogger();
  const t = createTransformer({ routes: ROUTES, logger: log.logger, metrics: metrics.metrics, dedup: { client: db, tableName: table, nowSeconds: () => NOW, ...dedup } });
  return { t, metrics: metrics.added, lines: log.lines };
}

describe('cross-buffer idempotency (state table)', () => {
  it('drops a uid an earlier invocation delivered (new recordId), and counts it without payloads', async () => {
    const [a, b, c] = manyEvents(3) as [OcsfEvent, OcsfEvent, OcsfEvent];
    const first = await transformer().t.handle(
      invocation('kw-fwd-splunk', [
        { id: 'r1', event: a },
        { id: 'r2', event: b },
      ]),
    );
    expect(first.records.map((r) => r.result)).toEqual(['Ok', 'Ok']);

    const { t, metrics, lines } = transformer();
    const second = await t.handle(
      invocation('kw-fwd-splunk', [
        { id: 'r9', event: structuredClone(a) },
        { id: 'r10', event: c },
      ]),
    );
    expect(second.records.map((r) => [r.recordId, r.result])).toEqual([
      ['r9', 'Dropped'],
      ['r10', 'Ok'],
    ]);
    expect(metrics.get('ForwardRecordsDuplicateEarlierBuffer')).toBe(1);
    expect(metrics.get('ForwardRecordsDuplicate')).toBe(1);
    expect(metrics.get('ForwardRecordsTransformed')).toBe(1);
    expect(lines.join('\n')).not.toContain(a.metadata.uid);

    const item = await db.send(new GetItemCommand({ TableName: table, Key: { pk: { S: dedupKey('kw-fwd-splunk', a.metadata.uid) } }, ConsistentRead: true }));
    expect(item.Item).toEqual({ pk: { S: `fwd#kw-fwd-splunk#${a.metadata.uid}` }, rid: { S: 'r1' }, ttl: { N: String(NOW + DEDUP_TTL_SECONDS) } });
  });

  it('keeps a Firehose retry of the same record (same recordId)', async () => {
    const [a] = manyEvents(1).map((e) => ({ ...e, metadata: { ...e.metadata, uid: randomUUID() } })) as [OcsfEvent];
    const once = await transformer().t.handle(invocation('kw-fwd-splunk', [{ id: 'rA', event: a }]));
    const retry = await transformer().t.handle(invocation('kw-fwd-splunk', [{ id: 'rA', event: a }]));
    expect(once.records.map((r) => r.result)).toEqual(['Ok']);
    expect(retry.records).toEqual(once.records);
  });

  it('does not dedupe across delivery streams: each stream delivers each uid once', async () => {
    const a = { ...manyEvents(1)[0], metadata: { ...manyEvents(1)[0]?.metadata, uid: randomUUID() } } as OcsfEvent;
    const splunk = await transformer().t.handle(invocation('kw-fwd-splunk', [{ id: 's1', event: a }]));
    const http = await transformer().t.handle(invocation('kw-fwd-http-a', [{ id: 'h1', event: a }]));
    const httpAgain = await transformer().t.handle(invocation('kw-fwd-http-a', [{ id: 'h2', event: a }]));
    expect([splunk, http, httpAgain].map((o) => o.records[0]?.result)).toEqual(['Ok', 'Ok', 'Dropped']);
  });

  it('treats an expired claim (TTL not yet swept) as absent', async () => {
    const a = { ...manyEvents(1)[0], metadata: { ...manyEvents(1)[0]?.metadata, uid: randomUUID() } } as OcsfEvent;
    await transformer({ ttlSeconds: 60 }).t.handle(invocation('kw-fwd-splunk', [{ id: 'e1', event: a }]));
    const later = await transformer({ nowSeconds: () => NOW + 61 }).t.handle(invocation('kw-fwd-splunk', [{ id: 'e2', event: a }]));
    expect(later.records[0]?.result).toBe('Ok');
  });

  it('does not claim records the transform failed or dropped within the invocation', async () => {
    const a = { ...manyEvents(1)[0], metadata: { ...manyEvents(1)[0]?.metadata, uid: randomUUID() } } as OcsfEvent;
    const event = invocation('kw-fwd-splunk', [
      { id: 'd1', event: a },
      { id: 'd2', event: a },
    ]);
    event.records.push({ recordId: 'bad', approximateArrivalTimestamp: NOW * 1000, data: Buffer.from('garbage').toString('base64') });
    const out = await transformer().t.handle(event);
    expect(out.records.map((r) => r.result)).toEqual(['Ok', 'Dropped', 'ProcessingFailed']);
  });

  it('fails the whole invocation on any other DynamoDB error, so Firehose retries it', async () => {
    const failing: ForwardDedup['client'] = {
      send: () => Promise.reject(Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' })),
    };
    const { t } = transformer({ client: failing });
    await expect(
      t.handle(
        invocation(
          'kw-fwd-splunk',
          manyEvents(3).map((event, i) => ({ id: `f${i}`, event })),
        ),
      ),
    ).rejects.toThrow(/throttled/);
  });

  it('keeps bounded concurrency and correct results over many records', async () => {
    const events = manyEvents(50).map((e) => ({ ...e, metadata: { ...e.metadata, uid: randomUUID() } }));
    let inFlight = 0;
    let peak = 0;
    const counting: ForwardDedup['client'] = {
      send: async (command) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        try {
          return await db.send(command as never);
        } finally {
          inFlight--;
        }
      },
    };
    const out = await transformer({ client: counting, concurrency: 4 }).t.handle(
      invocation(
        'kw-fwd-http-a',
        events.map((event, i) => ({ id: `c${i}`, event })),
      ),
    );
    expect(out.records.every((r) => r.result === 'Ok')).toBe(true);
    expect(peak).toBeLessThanOrEqual(4);
    expect(peak).toBeGreaterThan(1);
  });

  it('is on only when the state table variable is set', () => {
    const routes = JSON.stringify({ 'kw-fwd-s3': { format: 's3-ocsf' } });
    expect(parseForwardEnv({ KITEWATCH_FORWARD_ROUTES: routes }).stateTable).toBeUndefined();
    expect(parseForwardEnv({ KITEWATCH_FORWARD_ROUTES: routes, KITEWATCH_STATE_TABLE: ' ' }).stateTable).toBeUndefined();
    expect(parseForwardEnv({ KITEWATCH_FORWARD_ROUTES: routes, KITEWATCH_STATE_TABLE: 'kw-state' }).stateTable).toBe('kw-state');
  });
});
