import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { FirehoseTransformationEvent, FirehoseTransformationResult } from 'aws-lambda';
import { streamNameOf, transformFirehoseRecords, type StreamRoute } from '../../lib/forward/firehose.ts';

export interface TransformerDeps {
  readonly routes: Readonly<Record<string, StreamRoute>>;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  readonly metrics: Pick<Metrics, 'addMetric'>;
}

export interface Transformer {
  handle(event: FirehoseTransformationEvent): Promise<FirehoseTransformationResult>;
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
      deps.metrics.addMetric('ForwardRecordsTransformed', MetricUnit.Count, out.ok);
      if (out.dropped > 0) deps.metrics.addMetric('ForwardRecordsDuplicate', MetricUnit.Count, out.dropped);
      if (out.failed.length > 0) deps.metrics.addMetric('ForwardRecordsFailed', MetricUnit.Count, out.failed.length);
      return out.result;
    },
  };
}
