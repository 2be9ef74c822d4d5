/**
 * The detector Lambda's logic, without Lambda: one SQS batch of normalized OCSF events (each
 * body the EventBridge event `{source: 'kitewatch', 'detail-type': 'OCSF Event', detail}`)
 * -> every detector, in event-time order -> findings published to the Kitewatch bus -> state
 * flushed once.
 *
 * Failure semantics (SQS redelivers what we report failed; the queue's DLQ catches poison):
 * - a record that is not an OCSF event is reported failed on its own;
 * - state unavailable, or a finding not accepted by PutEvents: the batch's state is dropped
 *   and every record is reported failed, so the redelivery recomputes the same findings
 *   (deterministic uids: downstream sees duplicates, never gaps);
 * - the flush failing after publishing: every record is reported failed too; the findings are
 *   republished with the same uids.
 */
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { DetailType, describePublishFailures, KITEWATCH_SOURCE, publishToBus, toPutEventsEntry } from '../../lib/engine/bus.ts';
import type { IpEnricher } from '../../lib/enrich/ip.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import type { StatePort } from '../../lib/state/port.ts';
import { createDetectStage, StateUnavailableError, type DetectConfig } from '../../lib/detections/stage.ts';

/** What process.ts needs of Powertools' Logger (which satisfies it); tests pass a recorder. */
export interface LogPort {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** What process.ts needs of Powertools' Metrics. */
export interface MetricsPort {
  addMetric(name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number): void;
}

export interface DetectorDeps {
  readonly eventBridge: Pick<EventBridgeClient, 'send'>;
  readonly eventBusName: string;
  /** The stateful stack's table (DynamoDbState); wrapped in a per-batch cache here. */
  readonly state: StatePort;
  /** `detectors` of kitewatch.config.json (a whole KitewatchConfig works too). */
  readonly config: DetectConfig;
  readonly logger: LogPort;
  readonly metrics: MetricsPort;
  /** @default the ip-location-db tables (KITEWATCH_IP_DATA_DIR) */
  readonly enrich?: IpEnricher;
  /** The state store's clock, epoch seconds (default wall clock, as DynamoDbState). */
  readonly storeClock?: () => number;
}

export class InvalidRecordError extends Error {
  override readonly name = 'InvalidRecordError';
}

export class PublishFindingsError extends Error {
  override readonly name = 'PublishFindingsError';
}

interface Parsed {
  readonly messageId: string;
  readonly event: OcsfEvent;
}

/** The OCSF event inside an SQS record, or why there is none (never the payload itself). */
export function parseRecord(record: SQSRecord): OcsfEvent {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    throw new InvalidRecordError('SQS message body is not valid JSON');
  }
  const b = body as { source?: unknown; 'detail-type'?: unknown; detail?: unknown } | null;
  if (typeof b !== 'object' || b === null) throw new InvalidRecordError('SQS message body is not an EventBridge event');
  if (b.source !== KITEWATCH_SOURCE || b['detail-type'] !== DetailType.event) {
    throw new InvalidRecordError(`expected source "${KITEWATCH_SOURCE}" and detail-type "${DetailType.event}", got "${String(b.source)}" / "${String(b['detail-type'])}"`);
  }
  const d = b.detail as Partial<OcsfEvent> | null | undefined;
  if (typeof d !== 'object' || d === null || typeof d.class_uid !== 'number' || typeof d.time !== 'number' || typeof d.metadata?.uid !== 'string') {
    throw new InvalidRecordError('detail is not an OCSF event (class_uid, time and metadata.uid are required)');
  }
  return d as OcsfEvent;
}

export interface DetectorHandler {
  readonly processBatch: (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;
}

export function createDetector(deps: DetectorDeps): DetectorHandler {
  const { logger, metrics } = deps;

  async function publish(findings: readonly OcsfEvent[]): Promise<void> {
    let failures;
    try {
      failures = await publishToBus(
        deps.eventBridge,
        findings.map((f) => ({ entry: toPutEventsEntry(f, deps.eventBusName), uid: f.metadata.uid })),
      );
    } catch (cause) {
      throw new PublishFindingsError(`PutEvents not sent: ${(cause as Error).name}`, { cause });
    }
    if (failures.length === 0) return;
    for (const f of failures) logger.warn('PutEvents did not take a finding', { uid: f.item.uid, errorCode: f.errorCode, ...(f.cause === undefined ? { errorMessage: f.errorMessage } : {}) });
    const thrown = failures.find((f) => f.cause !== undefined);
    throw new PublishFindingsError(
      `PutEvents did not take ${failures.length} of ${findings.length} findings (${describePublishFailures(failures)})`,
      thrown === undefined ? {} : { cause: thrown.cause },
    );
  }

  async function processBatch(event: SQSEvent): Promise<SQSBatchResponse> {
    const records = event.Records;
    const invalid: string[] = [];
    const parsed: Parsed[] = [];
    for (const record of records) {
      try {
        parsed.push({ messageId: record.messageId, event: parseRecord(record) });
      } catch (error) {
        if (!(error instanceof InvalidRecordError)) throw error;
        invalid.push(record.messageId);
        logger.error('record is not a normalized OCSF event; left for the DLQ', { messageId: record.messageId, reason: error.message });
      }
    }
    if (invalid.length > 0) metrics.addMetric('InvalidRecords', MetricUnit.Count, invalid.length);
    // SQS does not keep order; event time does, so state evolves as in a replay.
    parsed.sort((a, b) => a.event.time - b.event.time || (a.event.metadata.uid < b.event.metadata.uid ? -1 : a.event.metadata.uid > b.event.metadata.uid ? 1 : 0));

    const stage = createDetectStage(deps.config, deps.state, {
      stateErrors: 'throw',
      ...(deps.enrich !== undefined ? { enrich: deps.enrich } : {}),
      ...(deps.storeClock !== undefined ? { storeClock: deps.storeClock } : {}),
    });
    const allFailed = (): SQSBatchResponse => ({ batchItemFailures: records.map((r) => ({ itemIdentifier: r.messageId })) });
    const findings: OcsfEvent[] = [];
    try {
      for (const p of parsed) findings.push(...(await stage.detect(p.event)));
      // One Update per open incident per batch, holding everything the batch added to it.
      findings.push(...(await stage.drain()));
      await publish(findings);
    } catch (error) {
      stage.discard();
      if (!(error instanceof StateUnavailableError) && !(error instanceof PublishFindingsError)) throw error;
      metrics.addMetric(error instanceof StateUnavailableError ? 'StateFailures' : 'PublishFailures', MetricUnit.Count, 1);
      logger.error('batch not processed; every record will be redelivered', { error: error.name, reason: error.message, records: records.length });
      return allFailed();
    }
    for (const f of findings) {
      const info = f['finding_info'] as { uid?: string; analytic?: { uid?: string } } | undefined;
      logger.info('finding published', { uid: info?.uid, detector: info?.analytic?.uid, severity: f.severity });
    }
    try {
      await stage.flush();
    } catch (error) {
      metrics.addMetric('StateFailures', MetricUnit.Count, 1);
      logger.error('state flush failed after publishing; every record will be redelivered (findings republish with the same uids)', {
        error: (error as Error).name,
        reason: (error as Error).message,
      });
      return allFailed();
    }
    metrics.addMetric('EventsDetected', MetricUnit.Count, parsed.length);
    // Redeliveries and backfills overlapping live delivery: skipped, not counted twice.
    if (stage.resent > 0) metrics.addMetric('ResentEvents', MetricUnit.Count, stage.resent);
    metrics.addMetric('FindingsPublished', MetricUnit.Count, findings.length);
    metrics.addMetric('StateWrites', MetricUnit.Count, stage.lastFlush?.writes ?? 0);
    return { batchItemFailures: invalid.map((id) => ({ itemIdentifier: id })) };
  }

  return { processBatch: (event) => processBatch(event) };
}
