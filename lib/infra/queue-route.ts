import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambdaEventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import type { KitewatchFunction } from './kitewatch-function.ts';
import { grantConsumeViaSqs } from './queue-access.ts';
import { toCdkEventPattern, type CompiledRule, type RuleFile } from './rules.ts';
import { RULE_TARGET_RETRY } from './rule-dead-letter-queue.ts';
import { suppress } from './suppressions.ts';

/** The queue age alarm never fires below this many seconds per delivery, however short the timeout. */
export const QUEUE_AGE_FLOOR_SECONDS = 120;

export interface QueueRouteProps {
  /** A rule from rules/ (ruleNamed()); its `bus` picks the bus, its pattern is deployed as is. */
  readonly rule: CompiledRule;
  /** The buses a rule file can name. */
  readonly buses: Readonly<Record<RuleFile['bus'], events.IEventBus>>;
  /** The stage's function; the rule's `target` must name it. */
  readonly consumer: KitewatchFunction;
  readonly consumerTarget: RuleFile['target'];
  readonly key: kms.IKey;
  readonly alarmTopic: sns.ITopic;
  /** Deliveries before a message moves to the DLQ. */
  readonly maxReceiveCount: number;
  /** Keep the DLQ (and the messages in it) when the stack is deleted: aws.retainStatefulResources. @default true */
  readonly retainDeadLetters?: boolean;
  readonly batchSize: number;
  readonly maxBatchingWindow: Duration;
}

/**
 * One pipeline stage's input: EventBridge rule (pattern from rules/) -> KMS-encrypted SQS queue
 * with a DLQ and an alarm on it -> Lambda reading batches with partial-batch failures. Rule
 * delivery failures land in the same DLQ, so one alarm covers both ways of losing an event.
 */
export class QueueRoute extends Construct {
  readonly rule: events.Rule;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly dlqAlarm: cloudwatch.Alarm;
  /** The oldest message waits longer than every retry could take: a backlog, not a retry. */
  readonly ageAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: QueueRouteProps) {
    super(scope, id);
    const { rule, consumer } = props;
    if (rule.target !== props.consumerTarget) {
      throw new Error(`rules/${rule.name}.json targets "${rule.target}" but is wired to the "${props.consumerTarget}" function; fix the rule's target or pick another rule`);
    }

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // The only copy of what failed: a teardown or switch-off must not delete it (generated name, so re-creating works).
      removalPolicy: (props.retainDeadLetters ?? true) ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    suppress(this.deadLetterQueue, {
      nag: ['Serverless-SQSRedrivePolicy'],
      reason: 'This is the dead-letter queue at the end of the redrive chain; its alarm pages a human, who redrives after a fix.',
    });

    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      // Fewer KMS calls per message; the data key is cached for at most this long.
      dataKeyReuse: Duration.minutes(15),
      enforceSSL: true,
      visibilityTimeout: consumer.visibilityTimeout.plus(props.maxBatchingWindow),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
    });

    this.rule = new events.Rule(this, 'Rule', {
      eventBus: props.buses[rule.bus],
      description: `${rule.name}: ${rule.description}`.slice(0, 512),
      eventPattern: toCdkEventPattern(rule.eventPattern),
      targets: [new RuleOnlyQueueTarget(this.queue, this.deadLetterQueue)],
    });

    this.dlqAlarm = this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }).createAlarm(this, 'DeadLetterAlarm', {
      alarmDescription: `Kitewatch ${rule.target}: messages in the dead-letter queue (processing failed ${props.maxReceiveCount} times, or EventBridge could not deliver)`,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.dlqAlarm.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));
    this.dlqAlarm.addOkAction(new cloudwatchActions.SnsAction(props.alarmTopic));

    const visibility = consumer.visibilityTimeout.plus(props.maxBatchingWindow).toSeconds();
    const retriesSeconds = Math.max(QUEUE_AGE_FLOOR_SECONDS, visibility) * props.maxReceiveCount;
    this.ageAlarm = this.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }).createAlarm(this, 'AgeAlarm', {
      alarmDescription: `Kitewatch ${rule.target}: the oldest message in the queue waits longer than ${retriesSeconds} s (${props.maxReceiveCount} deliveries of one visibility timeout): the ${rule.target} Lambda is not keeping up or not running`,
      threshold: retriesSeconds,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.ageAlarm.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));

    // The event source's own grant would give kms:Decrypt on the key with no condition; the
    // consumer gets it only through SQS, for this queue (lib/infra/queue-access.ts).
    const consumed = grantConsumeViaSqs(this, 'Consumed', consumer.fn, this.queue, props.key);
    consumer.fn.addEventSource(
      new lambdaEventSources.SqsEventSource(consumed, {
        batchSize: props.batchSize,
        maxBatchingWindow: props.maxBatchingWindow.toSeconds() > 0 ? props.maxBatchingWindow : undefined,
        reportBatchItemFailures: true,
        // Pollers above the reserved concurrency get throttled, and throttles count as receives.
        maxConcurrency: consumer.reservedConcurrency,
      }),
    );
    suppress(consumer.fn, {
      nag: ['Serverless-LambdaEventSourceMappingDestination'],
      reason: 'SQS event source mappings take no on-failure destination; the queue redrive policy sends failed messages to the DLQ.',
    });
  }
}

/**
 * An SQS target whose queue (and DLQ) policy admits this one rule, by aws:SourceArn. CDK's
 * SqsQueue target falls back to aws:SourceAccount for KMS-encrypted queues (naming the rule in
 * the key policy would make a cycle), which lets any rule in the account feed the queue. The key
 * side is the stateful stack's statement for EventBridge rules on Kitewatch's buses.
 */
class RuleOnlyQueueTarget implements events.IRuleTarget {
  readonly #queue: sqs.IQueue;
  readonly #deadLetterQueue: sqs.IQueue;

  constructor(queue: sqs.IQueue, deadLetterQueue: sqs.IQueue) {
    this.#queue = queue;
    this.#deadLetterQueue = deadLetterQueue;
  }

  bind(rule: events.IRule & IConstruct): events.RuleTargetConfig {
    const fromRule = { ArnEquals: { 'aws:SourceArn': rule.ruleArn } };
    const events = new iam.ServicePrincipal('events.amazonaws.com');
    this.#queue.addToResourcePolicy(new iam.PolicyStatement({ sid: 'FromItsRuleOnly', principals: [events], actions: ['sqs:SendMessage'], resources: [this.#queue.queueArn], conditions: fromRule }));
    this.#deadLetterQueue.addToResourcePolicy(
      new iam.PolicyStatement({ sid: 'UndeliveredFromItsRule', principals: [events], actions: ['sqs:SendMessage'], resources: [this.#deadLetterQueue.queueArn], conditions: fromRule }),
    );
    return {
      arn: this.#queue.queueArn,
      targetResource: this.#queue,
      deadLetterConfig: { arn: this.#deadLetterQueue.queueArn },
      retryPolicy: { maximumRetryAttempts: RULE_TARGET_RETRY.retryAttempts, maximumEventAgeInSeconds: RULE_TARGET_RETRY.maxEventAge.toSeconds() },
    };
  }
}
