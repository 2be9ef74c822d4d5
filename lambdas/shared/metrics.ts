import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from './env.ts';

/** Embedded-metric-format metrics (written to the log, no PutMetricData permission needed). */
export function createMetrics(options: { serviceName?: string } = {}): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, ...options });
}
