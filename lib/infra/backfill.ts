import { Duration, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BackfillEnv } from '../../lambdas/backfill/env.ts';
import { MONITORING_DISABLED } from '../../lambdas/backfill/process.ts';
import { LAST_EVENT_KEY } from '../detections/seen.ts';
import { KITEWATCH_SOURCE } from '../engine/bus.ts';
import { STATE_PARTITIONS } from '../state/port.ts';
import type { AwsConfig } from './config.ts';
import { KitewatchFunction } from './kitewatch-function.ts';
import { grantSendViaSqs } from './queue-access.ts';
import { RULE_TARGET_RETRY, RuleDeadLetterQueue } from './rule-dead-letter-queue.ts';

/**
 * Name of the default-bus rule that seeds at first deploy: fixed, so the key policy (stateful
 * stack) can let EventBridge encrypt into the dead-letter queue for it without depending on it.
 */
export function seedRuleName(stackPrefix: string): string {
  return `${stackPrefix}-backfill-seed`;
}

export interface BackfillProps {
  readonly config: AwsConfig;
  readonly key: kms.IKey;
  readonly kitewatchBus: events.IEventBus;
  readonly alarmTopic: sns.ITopic;
  /** The normalizer's ingest queue: backfilled envelopes go where live ones go. */
  readonly ingestQueue: sqs.IQueue;
  readonly silenceAlarm: cloudwatch.Alarm;
  /** Buildkite organization slug (from the partner event source). */
  readonly org: string;
  /** Complete ARN of the secret holding a Buildkite API token with read_audit_events. */
  readonly apiTokenSecretArn: string;
  /** The state table, read for the detectors' last event time (where a silence began). */
  readonly stateTable: { readonly tableName: string };
  /** Grants the function GetItem of the named state keys only. */
  readonly grantStateItemsRead: (role: iam.Role, keys: readonly string[]) => void;
}

/**
 * The backfill Lambda (lambdas/backfill) and what starts it: a Kitewatch monitoring-disabled
 * finding on the Kitewatch bus, and the silence alarm's OK notification on the alarm topic.
 * Responders run it by hand as a runbook (`{}` seeds aws.blindness.backfillSeedDays days;
 * `{"since": ISO, "until"?: ISO}` a window). Failed deliveries land in a dead-letter queue with an alarm.
 */
export class Backfill extends Construct {
  readonly function: KitewatchFunction;
  readonly findingRule: events.Rule;
  readonly deadLetters: RuleDeadLetterQueue;
  /** Absent when aws.blindness.backfillSeedDays is 0. */
  readonly seedRule: events.Rule | undefined;

  constructor(scope: Construct, id: string, props: BackfillProps) {
    super(scope, id);
    const { config } = props;
    this.function = new KitewatchFunction(this, 'Backfill', {
      entry: 'lambdas/backfill/handler.ts',
      serviceName: 'backfill',
      description: 'Kitewatch: audit events from the Buildkite REST API onto the ingest queue (seed, gaps after silence or monitoring-disabled)',
      memoryMiB: 256,
      // Paging a week of audit events, waiting out rate limits.
      timeout: Duration.minutes(15),
      environment: {
        [BackfillEnv.apiTokenSecretArn]: props.apiTokenSecretArn,
        [BackfillEnv.org]: props.org,
        [BackfillEnv.ingestQueueUrl]: props.ingestQueue.queueUrl,
        ...(config.partnerEventBusName === undefined ? {} : { [BackfillEnv.source]: config.partnerEventBusName }),
        [BackfillEnv.seedDays]: String(config.blindness.backfillSeedDays),
        [BackfillEnv.silenceMinutes]: String(config.blindness.silenceMinutes),
        [BackfillEnv.silenceAlarmName]: props.silenceAlarm.alarmName,
        [BackfillEnv.maxReachDays]: String(config.blindness.backfillMaxReachDays),
        [BackfillEnv.stateTableName]: props.stateTable.tableName,
      },
      key: props.key,
      config,
      invokedBy: 'backfill',
    });
    grantSendViaSqs(this, 'IngestQueueToSend', this.function.role, props.ingestQueue, props.key);
    props.grantStateItemsRead(this.function.role, [STATE_PARTITIONS.detect + LAST_EVENT_KEY]);
    secretsmanager.Secret.fromSecretCompleteArn(this, 'BuildkiteApiToken', props.apiTokenSecretArn).grantRead(this.function.role);

    this.deadLetters = new RuleDeadLetterQueue(this, 'DeadLetters', {
      key: props.key,
      alarmTopic: props.alarmTopic,
      holds: 'backfill triggers (monitoring-disabled findings)',
    });
    this.findingRule = new events.Rule(this, 'MonitoringDisabledRule', {
      eventBus: props.kitewatchBus,
      description: 'Backfill the audit log after Kitewatch raises a monitoring-disabled finding',
      // Kitewatch's own findings only: the bus denies other sources (provenance), and the handler checks again.
      eventPattern: { source: [KITEWATCH_SOURCE], detailType: ['OCSF Detection Finding'], detail: { finding_info: { analytic: { uid: [MONITORING_DISABLED] } } } },
      targets: [new targets.LambdaFunction(this.function.fn, { deadLetterQueue: this.deadLetters.queue, ...RULE_TARGET_RETRY })],
    });
    this.deadLetters.allow(this.findingRule);

    if (config.blindness.backfillSeedDays > 0) {
      // Seeds baselines once: CloudFormation reports CREATE_COMPLETE of this stack on the default
      // bus at first deploy only (updates end in UPDATE_COMPLETE).
      this.seedRule = new events.Rule(this, 'SeedAtFirstDeployRule', {
        ruleName: seedRuleName(config.stackPrefix),
        description: `Backfill ${config.blindness.backfillSeedDays} days of audit events when this stack is first created`,
        eventPattern: {
          source: ['aws.cloudformation'],
          detailType: ['CloudFormation Stack Status Change'],
          resources: [Stack.of(this).stackId],
          detail: { 'status-details': { status: ['CREATE_COMPLETE'] } },
        },
        targets: [new targets.LambdaFunction(this.function.fn, { deadLetterQueue: this.deadLetters.queue, ...RULE_TARGET_RETRY })],
      });
      this.deadLetters.allow(this.seedRule);
    }

    // The alarm topic already carries the silence alarm's OK; only that notification reaches the function.
    props.alarmTopic.addSubscription(
      new subscriptions.LambdaSubscription(this.function.fn, {
        filterPolicyWithMessageBody: {
          AlarmName: sns.FilterOrPolicy.filter(sns.SubscriptionFilter.stringFilter({ allowlist: [props.silenceAlarm.alarmName] })),
          NewStateValue: sns.FilterOrPolicy.filter(sns.SubscriptionFilter.stringFilter({ allowlist: ['OK'] })),
        },
        deadLetterQueue: this.deadLetters.queue,
      }),
    );
  }
}
