import { createHash } from 'node:crypto';
import type { EventBridgeClient, PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { s3Sdk } from '../../lib/aws/lazy.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import { PUT_EVENTS_MAX_BYTES, publishToBus, putEventsEntrySize, toPutEventsEntry } from '../../lib/engine/bus.ts';

export { PUT_EVENTS_MAX_BYTES };
import { quarantineRecord, type QuarantineRecord } from '../../lib/engine/quarantine.ts';
import { EVENTS_PUBLISHED_METRIC, EVENTS_QUARANTINED_METRIC, FORMAT_DRIFT_METRIC, QUARANTINE_PREFIX } from '../shared/env.ts';
import type { DriftKind } from '../../lib/contracts/audit-drift.ts';

export type Normalize = typeof normalizeEnvelope;

export interface NormalizerDeps {
  readonly eventBridge: Pick<EventBridgeClient, 'send'>;
  readonly s3: Pick<S3Client, 'send'>;
  readonly eventBusName: string;
  readonly quarantineBucket: string;
  /** The configured partner event source; any other source is quarantined. @default no check */
  readonly expectedSource?: string | undefined;
  readonly logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  readonly metrics: Pick<Metrics, 'addMetric'>;
  /** @default normalizeEnvelope from lib/ocsf/normalize.ts */
  readonly normalize?: Normalize;
}

export class PublishError extends Error {
  override readonly name = 'PublishError';
}

interface Pending {
  readonly entry: PutEventsRequestEntry;
  readonly uid: string;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * Collects the entries that the batch's records publish in the same turn of the event loop and
 * publishes them together (lib/engine/bus.ts publishToBus). Each record awaits its own entry, so a
 * failed entry (or a failed call) fails exactly the records it belongs to and SQS redelivers only those.
 */
export class BatchingPublisher {
  readonly #client: Pick<EventBridgeClient, 'send'>;
  readonly #logger: NormalizerDeps['logger'];
  #pending: Pending[] = [];
  #scheduled = false;

  constructor(client: Pick<EventBridgeClient, 'send'>, logger: NormalizerDeps['logger']) {
    this.#client = client;
    this.#logger = logger;
  }

  publish(entry: PutEventsRequestEntry, uid: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ entry, uid, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // setImmediate runs after every record handler has reached its publish() call.
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    this.#scheduled = false;
    let failures;
    try {
      failures = await publishToBus(this.#client, batch);
    } catch (cause) {
      // Only loading the SDK can throw here: every record of the batch fails and is redelivered.
      const error = new PublishError(`PutEvents not sent: ${(cause as Error).name}`, { cause });
      for (const pending of batch) pending.reject(error);
      return;
    }
    const failed = new Set<Pending>();
    for (const f of failures) {
      failed.add(f.item);
      if (f.cause === undefined) {
        this.#logger.warn('PutEvents rejected an entry', { uid: f.item.uid, errorCode: f.errorCode, errorMessage: f.errorMessage });
        f.item.reject(new PublishError(`PutEvents rejected the entry: ${f.errorCode}`));
      } else {
        // The SDK error's name says what failed (throttling, network); its message is left out of the log.
        this.#logger.warn('PutEvents call failed', { uid: f.item.uid, error: f.errorCode });
        f.item.reject(new PublishError(`PutEvents failed: ${f.errorCode}`, { cause: f.cause }));
      }
    }
    for (const pending of batch) if (!failed.has(pending)) pending.resolve();
  }
}

/** `quarantine/yyyy/mm/dd/<sha256 of the body>.json`: one object per distinct body, so redelivery overwrites. */
export function quarantineKey(body: string, at: Date): string {
  const digest = createHash('sha256').update(body, 'utf8').digest('hex');
  const yyyy = at.getUTCFullYear().toString().padStart(4, '0');
  const mm = (at.getUTCMonth() + 1).toString().padStart(2, '0');
  const dd = at.getUTCDate().toString().padStart(2, '0');
  return `${QUARANTINE_PREFIX}${yyyy}/${mm}/${dd}/${digest}.json`;
}

type Classified =
  { readonly ok: true; readonly entry: PutEventsRequestEntry; readonly uid: string; readonly drift?: readonly DriftKind[] | undefined } | { readonly ok: false; readonly record: QuarantineRecord };

export type RecordOutcome = 'published' | 'quarantined';

export interface Normalizer {
  /** One SQS record: publish its OCSF event or quarantine it. Throws when neither worked. */
  handleRecord(record: SQSRecord): Promise<RecordOutcome>;
  /** The whole SQS batch, answered with the messages SQS must redeliver. */
  readonly processBatch: (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;
}

export function createNormalizer(deps: NormalizerDeps): Normalizer {
  const normalize = deps.normalize ?? normalizeEnvelope;
  const publisher = new BatchingPublisher(deps.eventBridge, deps.logger);
  const processor = new BatchProcessor(EventType.SQS);

  function classify(record: SQSRecord): Classified {
    const origin = `sqs:${record.messageId}`;
    let input: unknown;
    try {
      input = JSON.parse(record.body);
    } catch {
      // The SyntaxError text quotes the body; keep payload text out of the reason.
      return { ok: false, record: quarantineRecord('SQS message body is not valid JSON', { raw: record.body }, origin) };
    }
    const bytes = Buffer.byteLength(record.body, 'utf8');
    // The body rides along: an input too deep or too large to keep parsed is kept as sent (capped).
    const original = { input, raw: record.body, bytes };
    let result: ReturnType<Normalize>;
    try {
      result = normalize(input, { sizeBytes: bytes, expectedSource: deps.expectedSource });
    } catch (cause) {
      // A normalizer bug must not lose the event: quarantine it for replay after the fix.
      const reason = `normalizer threw ${(cause as Error).name}: ${(cause as Error).message}`;
      return { ok: false, record: quarantineRecord(reason, original, origin) };
    }
    if (!result.ok) return { ok: false, record: quarantineRecord(result.reason, original, origin) };
    const entry = toPutEventsEntry(result.event, deps.eventBusName);
    const size = putEventsEntrySize(entry);
    if (size > PUT_EVENTS_MAX_BYTES) {
      const reason = `normalized event is ${size} bytes, over the ${PUT_EVENTS_MAX_BYTES}-byte PutEvents limit`;
      return { ok: false, record: quarantineRecord(reason, original, origin) };
    }
    return { ok: true, entry, uid: result.event.metadata.uid, drift: result.drift };
  }

  async function quarantine(record: SQSRecord, rejected: QuarantineRecord): Promise<void> {
    const sent = Number(record.attributes.SentTimestamp);
    // SentTimestamp is fixed per message, so a redelivery lands on the same key.
    const key = quarantineKey(record.body, Number.isFinite(sent) ? new Date(sent) : new Date());
    const { PutObjectCommand } = await s3Sdk();
    await deps.s3.send(
      new PutObjectCommand({
        Bucket: deps.quarantineBucket,
        Key: key,
        Body: JSON.stringify(rejected),
        ContentType: 'application/json',
      }),
    );
    deps.logger.warn('event quarantined', { messageId: record.messageId, key, reason: rejected.reason });
  }

  const driftSeen = new Set<DriftKind>();

  /** Counted on every event (the drift alarm watches it); each kind logged once per container. */
  function noteDrift(drift: readonly DriftKind[], uid: string): void {
    deps.metrics.addMetric(FORMAT_DRIFT_METRIC, MetricUnit.Count, 1);
    const fresh = drift.filter((k) => !driftSeen.has(k));
    if (fresh.length === 0) return;
    for (const k of fresh) driftSeen.add(k);
    deps.logger.warn('Buildkite payload format drift: normalized, but the shape differs from the EventBridge payload', { drift: fresh, uid });
  }

  async function handleRecord(record: SQSRecord): Promise<RecordOutcome> {
    const classified = classify(record);
    if (!classified.ok) {
      await quarantine(record, classified.record);
      deps.metrics.addMetric(EVENTS_QUARANTINED_METRIC, MetricUnit.Count, 1);
      return 'quarantined';
    }
    try {
      await publisher.publish(classified.entry, classified.uid);
    } catch (error) {
      deps.metrics.addMetric('PublishFailures', MetricUnit.Count, 1);
      throw error;
    }
    deps.metrics.addMetric(EVENTS_PUBLISHED_METRIC, MetricUnit.Count, 1);
    if (classified.drift !== undefined) noteDrift(classified.drift, classified.uid);
    deps.logger.debug('event published', { messageId: record.messageId, uid: classified.uid });
    return 'published';
  }

  return {
    handleRecord,
    processBatch: (event, context) => processPartialResponse(event, handleRecord, processor, context === undefined ? {} : { context }),
  };
}
