import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { suppress } from './suppressions.ts';

/** EventBridge's own limits, used for every rule target: retry for a day before the DLQ. */
export const RULE_TARGET_RETRY = { retryAttempts: 185, maxEventAge: Duration.hours(24) } as const;

export interface RuleDeadLetterQueueProps {
  readonly key: kms.IKey;
  readonly alarmTopic: sns.ITopic;
  /** What lands here, for the alarm description ("events the Firehose streams refused"). */
  readonly holds: string;
  /** Keep the queue (and the events in it) when the stack is deleted: aws.retainStatefulResources. @default true */
  readonly retain?: boolean;
}

/**
 * A dead-letter queue for rule targets that are not queues (Firehose streams, the alarm topic):
 * KMS-encrypted, 14 days, an alarm at the first message. Each rule is allowed in by its ARN.
 */
export class RuleDeadLetterQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: RuleDeadLetterQueueProps) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // The only copy of what EventBridge could not deliver (generated name, so re-creating works).
      removalPolicy: (props.retain ?? true) ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    suppress(this.queue, {
      nag: ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy'],
      reason: `Dead-letter queue of EventBridge rule targets (${props.holds}): the end of the chain; its alarm pages a human.`,
    });
    // EventBridge encrypts with the key when it sends here: the stateful stack's key policy allows
    // it for rules on Kitewatch's buses (EventBridgeRulesToEncryptedQueues).
    this.alarm = this.queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }).createAlarm(this, 'Alarm', {
      alarmDescription: `Kitewatch: EventBridge could not deliver ${props.holds}; the events are in this dead-letter queue`,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarm.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));
  }

  /** Lets `rule` (and only it) send its undeliverable events here. */
  allow(rule: events.IRule): void {
    this.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: `AllowRule${rule.node.addr.slice(0, 16)}`,
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': rule.ruleArn } },
      }),
    );
  }
}
