import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { FirehoseTransformationEvent, FirehoseTransformationResult, FirehoseTransformationResultRecord } from 'aws-lambda';
import { streamNameOf, transformFirehoseRecords, type StreamRoute } from '../../lib/forward/firehose.ts';
import { STATE_PARTITIONS } from '../../lib/state/port.ts';

/** The cross-buffer idempotency check: one item per delivered uid in the state table. */
export interface ForwardDedup {
  readonly client: Pick<DynamoDBClient, 'send'>;
  readonly tableName: string;
  /** How long a delivered uid is remembered (default 7 days). */
  readonly ttlSeconds?: number;
  /** Conditional puts in flight at once (default 16). */
  readonly concurrency?: number;
  /** Epoch seconds; defaults to the wall clock. */
  readonly nowSeconds?: () => number;
}

export interface TransformerDeps {
  readonly routes: Readonly<Record<string, StreamRoute>>;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  readonly metrics: Pick<Metrics, 'addMetric'>;
  /** Absent: duplicates are dropped within one invocation only. */
  readonly dedup?: ForwardDedup;
}

export interface Transformer {
  readonly handle: (event: FirehoseTransformationEvent) => Promise<FirehoseTransformationResult>;
}

export const DEDUP_TTL_SECONDS = 7 * 24 * 3600;
const DEDUP_CONCURRENCY = 16;

/** State table key of a uid delivered by one stream: each stream delivers every uid once. */
export function dedupKey(stream: string, uid: string): string {
  return `${STATE_PARTITIONS.forward}${stream}#${uid}`;
}

function isConditionFailure(err: unknown): boolean {
  return err instanceof Error && err.name === 'ConditionalCheckFailedException';
}

/**
 * Claims each kept record's uid for this stream. The claim carries the recordId, so a Firehose
 * retry of the same record (same recordId) keeps it; a copy redelivered by EventBridge/SQS into a
 * later buffer has a new recordId and is Dropped. Any other error throws: Firehose retries the
 * whole invocation, and the claims already made match their recordIds on that retry.
 */
async function dropClaimed(stream: string, kept: ReadonlyMap<string, string>, records: FirehoseTransformationResultRecord[], dedup: ForwardDedup): Promise<number> {
  const now = (dedup.nowSeconds ?? (() => Math.floor(Date.now() / 1000)))();
  const ttl = now + (dedup.ttlSeconds ?? DEDUP_TTL_SECONDS);
  const pending = records.filter((r) => r.result === 'Ok');
  let dropped = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < pending.length) {
      const record = pending[next++];
      if (record === undefined) return;
      const uid = kept.get(record.recordId);
      if (uid === undefined) throw new Error(`record ${record.recordId} is Ok but the transform reported no uid for it`);
      try {
        await dedup.client.send(
          new PutItemCommand({
            TableName: dedup.tableName,
            Item: { pk: { S: dedupKey(stream, uid) }, rid: { S: record.recordId }, ttl: { N: String(ttl) } },
            // TTL deletes lazily: an expired claim counts as absent.
            ConditionExpression: 'attribute_not_exists(pk) OR rid = :rid OR #ttl < :now',
            ExpressionAttributeNames: { '#ttl': 'ttl' },
            ExpressionAttributeValues: { ':rid': { S: record.recordId }, ':now': { N: String(now) } },
          }),
        );
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
        record.result = 'Dropped';
        delete record.metadata;
        dropped++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, dedup.concurrency ?? DEDUP_CONCURRENCY), pending.length) }, worker));
  return dropped;
}

/**
 * One transform function serves every Kitewatch delivery stream; the stream's name picks its
 * route. A stream without a route fails all its records (they go to the backup bucket) rather
 * than delivering them in a format nobody chose.
 */
export function createTransformer(deps: TransformerDeps): Transformer {
  return {
    handle: async (event) => {
      const stream = streamNameOf(event.deliveryStreamArn) ?? event.deliveryStreamArn;
      const route = deps.routes[stream];
      if (route === undefined) {
        deps.logger.error('no route for this delivery stream; failing its records', { stream, records: event.records.length });
        deps.metrics.addMetric('ForwardRecordsFailed', MetricUnit.Count, event.records.length);
        return { records: event.records.map((r) => ({ recordId: r.recordId, result: 'ProcessingFailed', data: r.data })) };
      }
      const out = transformFirehoseRecords(event, route);
      for (const f of out.failed.slice(0, 20)) deps.logger.warn('record failed transformation', { stream, recordId: f.recordId, reason: f.reason });
      const records = out.result.records.map((r) => ({ ...r }));
      const earlier = deps.dedup === undefined ? 0 : await dropClaimed(stream, out.kept, records, deps.dedup);
      if (earlier > 0) deps.logger.info('dropped records delivered by an earlier buffer', { stream, count: earlier });
      deps.metrics.addMetric('ForwardRecordsTransformed', MetricUnit.Count, out.ok - earlier);
      if (out.dropped + earlier > 0) deps.metrics.addMetric('ForwardRecordsDuplicate', MetricUnit.Count, out.dropped + earlier);
      if (earlier > 0) deps.metrics.addMetric('ForwardRecordsDuplicateEarlierBuffer', MetricUnit.Count, earlier);
      if (out.failed.length > 0) deps.metrics.addMetric('ForwardRecordsFailed', MetricUnit.Count, out.failed.length);
      return { records };
    },
  };
}
