import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { describePublishFailures, publishToBus, toPutEventsEntry } from '../../lib/engine/bus.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';

/**
 * The contain Lambda's core: SQS messages carrying EventBridge envelopes of Detection Findings
 * -> containment engine -> Remediation Activities on the Kitewatch bus. A record fails (and SQS
 * redelivers it) when its activities could not all be published; the engine's idempotency
 * records make the redelivery re-emit the same events without acting twice.
 */
export interface ContainProcessorDeps {
  /** ContainmentEngine.contain, or nothing when containment is off. */
  readonly contain: (finding: OcsfEvent) => Promise<readonly OcsfEvent[]>;
  readonly eventBridge: Pick<EventBridgeClient, 'send'>;
  readonly eventBusName: string;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export class ContainRecordError extends Error {
  override readonly name = 'ContainRecordError';
}

export function createContainProcessor(deps: ContainProcessorDeps): {
  handleRecord(record: SQSRecord): Promise<number>;
  readonly processBatch: (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;
} {
  const processor = new BatchProcessor(EventType.SQS);

  async function publish(events: readonly OcsfEvent[]): Promise<void> {
    const failures = await publishToBus(
      deps.eventBridge,
      events.map((e) => ({ entry: toPutEventsEntry(e, deps.eventBusName), uid: e.metadata.uid })),
    );
    if (failures.length === 0) return;
    for (const f of failures)
      deps.logger.warn('PutEvents did not take a Remediation Activity', { uid: f.item.uid, errorCode: f.errorCode, ...(f.cause === undefined ? { errorMessage: f.errorMessage } : {}) });
    const thrown = failures.find((f) => f.cause !== undefined);
    throw new ContainRecordError(
      `PutEvents did not take ${failures.length} of ${events.length} Remediation Activities (${describePublishFailures(failures)})`,
      thrown === undefined ? {} : { cause: thrown.cause },
    );
  }

  async function handleRecord(record: SQSRecord): Promise<number> {
    let envelope: { detail?: unknown };
    try {
      envelope = JSON.parse(record.body) as { detail?: unknown };
    } catch {
      // Fails the record: after maxReceiveCount it lands in the DLQ, kept for a look.
      throw new ContainRecordError(`message ${record.messageId} is not JSON`);
    }
    const finding = envelope.detail as OcsfEvent | undefined;
    if (typeof finding !== 'object' || finding === null || finding.class_uid !== 2004) {
      throw new ContainRecordError(`message ${record.messageId} does not carry a Detection Finding in detail`);
    }
    const events = await deps.contain(finding);
    await publish(events);
    for (const e of events) {
      deps.logger.info('remediation activity', { uid: e.metadata.uid, action: e['command_uid'], status: e.status, statusDetail: e.status_detail, correlationUid: e.metadata.correlation_uid });
    }
    return events.length;
  }

  return {
    handleRecord,
    processBatch: (event, context) => processPartialResponse(event, handleRecord, processor, context === undefined ? {} : { context }),
  };
}
