import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { EVENTS_PUBLISHED_METRIC, EVENTS_QUARANTINED_METRIC, FORMAT_DRIFT_METRIC, METRICS_NAMESPACE } from '../../lambdas/shared/env.ts';
import type { BlindnessConfig } from './config.ts';

export interface BlindnessAlarmsProps {
  /** The normalizer's Powertools service name: the `service` dimension of its metrics. */
  readonly normalizerService: string;
  readonly alarmTopic: sns.ITopic;
  readonly config: BlindnessConfig;
}

/**
 * Alarms that see Kitewatch going blind, on the normalizer's own metrics (every Buildkite event
 * passes it, published or quarantined):
 * - silence: no Buildkite event for `silenceMinutes`; missing data is silence, so a normalizer
 *   that never runs alarms too;
 * - quarantine rate above `quarantineRatePercent` over 15 minutes;
 * - format drift: any event normalized from a shape other than EventBridge's.
 * Each notifies the alarm topic on ALARM and on OK (the backfill runs when silence ends).
 */
export class BlindnessAlarms extends Construct {
  readonly silence: cloudwatch.Alarm;
  readonly quarantineRate: cloudwatch.Alarm;
  readonly drift: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: BlindnessAlarmsProps) {
    super(scope, id);
    const metric = (metricName: string, period: Duration): cloudwatch.Metric =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: props.normalizerService }, statistic: 'Sum', period });
    const { silenceMinutes, quarantineRatePercent } = props.config;

    const window = Duration.minutes(silenceMinutes);
    this.silence = new cloudwatch.MathExpression({
      expression: 'FILL(published, 0) + FILL(quarantined, 0)',
      usingMetrics: { published: metric(EVENTS_PUBLISHED_METRIC, window), quarantined: metric(EVENTS_QUARANTINED_METRIC, window) },
      period: window,
      label: 'Buildkite events received',
    }).createAlarm(this, 'SilenceAlarm', {
      alarmDescription: `Kitewatch is blind: no Buildkite event for ${silenceMinutes} minutes. Check the Buildkite EventBridge notification service and the partner event source; the backfill Lambda fills the gap when events flow again.`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });

    const rateWindow = Duration.minutes(15);
    this.quarantineRate = new cloudwatch.MathExpression({
      expression: '100 * FILL(quarantined, 0) / (FILL(published, 0) + FILL(quarantined, 0))',
      usingMetrics: { published: metric(EVENTS_PUBLISHED_METRIC, rateWindow), quarantined: metric(EVENTS_QUARANTINED_METRIC, rateWindow) },
      period: rateWindow,
      label: 'Quarantined Buildkite events (%)',
    }).createAlarm(this, 'QuarantineRateAlarm', {
      alarmDescription: `More than ${quarantineRatePercent}% of Buildkite events quarantined in 15 minutes: those events reach no detector. The quarantine bucket holds each with its reason.`,
      threshold: quarantineRatePercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // No events at all is the silence alarm's business.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.drift = metric(FORMAT_DRIFT_METRIC, Duration.minutes(5)).createAlarm(this, 'FormatDriftAlarm', {
      alarmDescription:
        "Buildkite changed shape: events arrive in a form other than the EventBridge payload's (ISO timestamps, object context, class-style types...). They are still normalized; the normalizer's log names the drift once per kind.",
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    for (const alarm of [this.silence, this.quarantineRate, this.drift]) {
      alarm.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));
      alarm.addOkAction(new cloudwatchActions.SnsAction(props.alarmTopic));
    }
  }
}
