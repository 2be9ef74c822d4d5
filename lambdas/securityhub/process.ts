import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { AwsSecurityFinding, SecurityHubClient } from '@aws-sdk/client-securityhub';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { toAsff, type AsffContext } from '../../lib/forward/asff.ts';
import { parseOcsf } from '../../lib/forward/ocsf-input.ts';
import { importFindings, type ImportItem } from '../../lib/forward/securityhub.ts';

export interface SecurityHubForwarderDeps {
  readonly client: Pick<SecurityHubClient, 'send'>;
  readonly context: AsffContext;
  readonly logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  readonly metrics: Pick<Metrics, 'addMetric'>;
}

export interface SecurityHubForwarder {
  /** An SQS batch of Kitewatch bus events: findings are imported; the batch answers what to redeliver. */
  readonly processBatch: (event: SQSEvent) => Promise<SQSBatchResponse>;
}

const FINDING_CLASS = 2004;

/**
 * SQS -> ASFF -> BatchImportFindings (at most 100 per call). A message that is not a finding is
 * acknowledged (nothing to import); one that cannot be read or mapped, or that Security Hub
 * refuses, is reported as a batch item failure, so SQS redelivers it and finally moves it to the
 * dead-letter queue with the reason in the log. Redelivery is harmless: the ASFF Id is stable.
 */
export function createSecurityHubForwarder(deps: SecurityHubForwarderDeps): SecurityHubForwarder {
  return {
    processBatch: async (event) => {
      const failures: string[] = [];
      const items: ImportItem<string>[] = [];
      let skipped = 0;
      for (const record of event.Records) {
        const parsed = parseOcsf(record.body);
        if (!parsed.ok) {
          deps.logger.error('message is not an OCSF event', { messageId: record.messageId, reason: parsed.reason });
          failures.push(record.messageId);
          continue;
        }
        if (parsed.event.class_uid !== FINDING_CLASS) {
          skipped++;
          continue;
        }
        let finding: AwsSecurityFinding;
        try {
          finding = toAsff(parsed.event, deps.context);
        } catch (error) {
          deps.logger.error('finding cannot be mapped to ASFF', { messageId: record.messageId, reason: (error as Error).message });
          failures.push(record.messageId);
          continue;
        }
        items.push({ key: record.messageId, finding });
      }
      const result = await importFindings(deps.client, items);
      for (const f of result.failed) {
        deps.logger.warn('finding not imported', { messageId: f.key, reason: f.reason });
        failures.push(f.key);
      }
      deps.metrics.addMetric('FindingsImported', MetricUnit.Count, result.imported.length);
      if (result.failed.length > 0) deps.metrics.addMetric('FindingsFailed', MetricUnit.Count, result.failed.length);
      if (skipped > 0) deps.metrics.addMetric('EventsSkipped', MetricUnit.Count, skipped);
      return { batchItemFailures: [...new Set(failures)].map((itemIdentifier) => ({ itemIdentifier })) };
    },
  };
}
