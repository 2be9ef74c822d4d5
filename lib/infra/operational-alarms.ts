/**
 * The alarms that say Kitewatch itself is failing, and where every alarm goes. Applied to the
 * finished stacks, so a function or alarm added by any construct is covered without wiring.
 */
import { Aspects, Duration, Stack, type IAspect } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { IConstruct } from 'constructs';
import type { AlarmDestinations } from './config.ts';
import { KitewatchFunction } from './kitewatch-function.ts';

/** Throttling this many 5-minute periods in a row alarms: one burst is routine, a run of them is lost capacity. */
export const THROTTLE_PERIODS = 3;

/**
 * Errors (a crash or a timeout: partial batch failures are not errors) and sustained Throttles of
 * every KitewatchFunction in `stack`, to the alarm topic.
 */
export function addFunctionAlarms(stack: Stack, alarmTopic: sns.ITopic): cloudwatch.Alarm[] {
  const alarms: cloudwatch.Alarm[] = [];
  const action = new cloudwatchActions.SnsAction(alarmTopic);
  for (const kf of stack.node.findAll().filter((c): c is KitewatchFunction => c instanceof KitewatchFunction)) {
    const name = kf.node.path;
    const errors = kf.fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }).createAlarm(kf, 'ErrorsAlarm', {
      alarmDescription: `Kitewatch: ${name} failed (threw or timed out); see its log group. Failed SQS messages are retried, then dead-lettered.`,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const throttles = kf.fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }).createAlarm(kf, 'ThrottlesAlarm', {
      alarmDescription: `Kitewatch: ${name} was throttled for ${THROTTLE_PERIODS * 5} minutes (reserved concurrency or the account quota is too small for the load)`,
      threshold: 1,
      evaluationPeriods: THROTTLE_PERIODS,
      datapointsToAlarm: THROTTLE_PERIODS,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of [errors, throttles]) {
      alarm.addAlarmAction(action);
      alarms.push(alarm);
    }
  }
  return alarms;
}

/**
 * Sends every alarm that notifies the alarm topic to the configured existing topics as well
 * (aws.alarmTopicArns): SNS cannot subscribe a topic to a topic, so each alarm names them all.
 * Alarm actions only: the OK notices stay on the alarm topic.
 */
export class ExtraAlarmTopics implements IAspect {
  readonly #topicArns: readonly string[];

  constructor(topicArns: readonly string[]) {
    this.#topicArns = topicArns;
  }

  visit(node: IConstruct): void {
    if (!(node instanceof cloudwatch.Alarm)) return;
    // Through the L2: the L1 action list is a lazy token by now.
    node.addAlarmAction(...this.#topicArns.map((arn) => ({ bind: () => ({ alarmActionArn: arn }) })));
  }
}

/** Applies the alarm destinations to `scope`'s stacks. */
export function routeAlarms(scope: IConstruct, destinations: AlarmDestinations): void {
  if (destinations.topicArns.length > 0) Aspects.of(scope).add(new ExtraAlarmTopics(destinations.topicArns));
}
