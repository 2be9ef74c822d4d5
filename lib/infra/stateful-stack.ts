import { ArnFormat, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { QUARANTINE_PREFIX } from '../../lambdas/shared/env.ts';
import { APPROVAL_REQUESTED_DETAIL_TYPE } from '../containment/approval.ts';
import { KITEWATCH_SOURCE } from '../engine/bus.ts';
import { ForwardingConfig } from '../forward/config.ts';
import { STATE_PARTITIONS, type StatePartition } from '../state/port.ts';
import { restrictPublishers } from './bus-access.ts';
import { ingestSourceOf, type AwsConfig, type IngestSource } from './config.ts';
import { forwardingPlan, type ForwardingPlan } from './forwarding-plan.ts';
import { requireServiceSourceConditions } from './key-policy.ts';
import { ruleNamed, toCdkEventPattern } from './rules.ts';
import { nagResource, suppress } from './suppressions.ts';

/** What lib/state/dynamodb.ts calls on items (no Scan, no Query: every access names its key). */
export const STATE_ITEM_ACTIONS = ['dynamodb:BatchGetItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'] as const;

/** The state table's contract with lib/state/dynamodb.ts: change both or neither. */
export const STATE_TABLE = { partitionKey: 'pk', ttlAttribute: 'ttl' } as const;

/** What the stateless stacks receive: typed handles, never names or ARNs typed by hand. */
export interface StatefulResources {
  readonly key: kms.IKey;
  /** Where Buildkite events arrive: the partner bus, or the custom bus created here. */
  readonly ingestBus: events.IEventBus;
  /** Kitewatch's own bus: normalized events, findings and remediations. */
  readonly kitewatchBus: events.IEventBus;
  readonly quarantineBucket: s3.IBucket;
  readonly stateTable: dynamodb.ITable;
  /** Alarms publish here (email subscription when aws.alarmEmail is set). */
  readonly alarmTopic: sns.ITopic;
  /** Lets a function write quarantine records: PutObject under quarantine/ only, plus the SSE-KMS data key. */
  grantQuarantineWrite(grantee: iam.IGrantable): void;
  /** Read and write items of the state table, keys under the writer's own prefix only. */
  grantStateReadWrite(role: iam.Role, partition: StatePartition): void;
  /** GetItem of exactly these state keys (full keys, prefix included), nothing else. */
  grantStateItemsRead(role: iam.Role, keys: readonly string[]): void;
  /** Where Firehose keeps records no destination took (exists whichever destinations are configured). */
  readonly forwardingBackupBucket: s3.IBucket;
  /** Kitewatch's own bucket for the ocsf S3 layout (forwarding.destinations.s3 without bucketName); always there. */
  readonly forwardingBucket: s3.IBucket;
  /** Lets the Firehose delivery role write backups (and the ocsf layout), encrypted with the key. */
  grantForwardingWrite(role: iam.Role): void;
}

/** The ingest bus Kitewatch creates with aws.createCustomBus. */
export function customIngestBusName(config: Pick<AwsConfig, 'eventBusName'>): string {
  return `${config.eventBusName}-buildkite-ingest`;
}

/** The forwarding block with no destination: what the stateful stack sizes the buckets by when none is given. */
const NO_FORWARDING: ForwardingConfig = ForwardingConfig.parse({});

export interface StatefulStackProps extends StackProps {
  readonly config: AwsConfig;
  /** Decides the forwarding buckets. @default no forwarding */
  readonly forwarding?: ForwardingConfig;
}

/**
 * Everything that holds data or identity: key, table, buckets, buses and archive. Deployed
 * rarely, retained on delete (unless aws.retainStatefulResources is false).
 *
 * Its shape and its exports do not depend on which features are on: the forwarding buckets exist
 * without a destination, and every attribute a consumer stack may import is exported whether or
 * not one imports it today. A config change that drops a consumer's import can then never remove
 * an export another deployed stack still uses (CloudFormation refuses, and the deploy deadlocks).
 */
export class StatefulStack extends Stack implements StatefulResources {
  readonly key: kms.Key;
  readonly ingestBus: events.IEventBus;
  readonly kitewatchBus: events.EventBus;
  readonly archive: events.Archive;
  readonly quarantineBucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  readonly stateTable: dynamodb.Table;
  readonly alarmTopic: sns.Topic;
  readonly quarantineWriterPolicy: iam.ManagedPolicy;
  readonly forwardingBackupBucket: s3.Bucket;
  readonly forwardingBucket: s3.Bucket;
  readonly forwardingWriterPolicy: iam.ManagedPolicy;
  private readonly removalPolicy: RemovalPolicy;
  /** Alarm on the alarm email subscription's DLQ; present with aws.alarmEmail. */
  readonly alarmEmailDlqAlarm: cloudwatch.Alarm | undefined;
  /** Raw Buildkite events as they arrived on the ingest bus, for re-normalizing a past day. */
  readonly rawArchive: events.Archive;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);
    const { config } = props;
    const source = ingestSourceOf(config);
    const removalPolicy = config.retainStatefulResources ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.removalPolicy = removalPolicy;

    this.key = new kms.Key(this, 'Key', {
      alias: `alias/${config.stackPrefix.toLowerCase()}`,
      description: 'Kitewatch: queues, quarantine, state table, buses, archive, logs and alarms',
      enableKeyRotation: true,
      removalPolicy,
    });
    // CloudWatch Logs encrypts the Lambda log groups with this key, only for this account's log groups.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogsEncryptLogGroups',
        principals: [new iam.ServicePrincipal(`logs.${this.region}.amazonaws.com`)],
        actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': this.formatArn({ service: 'logs', resource: 'log-group', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
          },
        },
      }),
    );
    // CloudWatch alarms publish to the encrypted alarm topic. CloudWatch sets no source context on
    // these KMS calls, so the statement names what SNS puts in the encryption context: a topic of
    // this account. The topic policy below limits publishing to this account's alarms.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { ArnLike: { 'kms:EncryptionContext:aws:sns:topicArn': this.formatArn({ service: 'sns', resource: '*', arnFormat: ArnFormat.NO_RESOURCE_NAME }) } },
      }),
    );

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogBucket', {
      // S3 server access logging can only deliver to SSE-S3 buckets, not SSE-KMS.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(config.quarantineRetentionDays), noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy,
    });
    suppress(this.accessLogBucket, {
      nag: ['NIST.800.53.R5-S3DefaultEncryptionKMS'],
      reason: 'S3 server access log delivery supports only SSE-S3 destination buckets, not SSE-KMS.',
    });
    suppress(this.accessLogBucket, {
      checkov: ['CKV_AWS_18'],
      reason: 'This bucket is the server access log destination; logging its own access would loop.',
    });
    suppress(this.accessLogBucket, {
      nag: ['NIST.800.53.R5-S3BucketReplicationEnabled'],
      reason: 'Access logs are an audit aid for the quarantine bucket; cross-region copies are left to the account-wide backup policy.',
    });

    this.quarantineBucket = this.secureBucket('QuarantineBucket', 'quarantine-bucket/', removalPolicy, [
      {
        id: 'expire-quarantine',
        expiration: Duration.days(config.quarantineRetentionDays),
        noncurrentVersionExpiration: Duration.days(30),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      },
    ]);
    // A managed policy in this stack rather than a grant on each role: the object wildcard is
    // declared (and acknowledged) once, next to the bucket whose layout it encodes.
    this.quarantineWriterPolicy = new iam.ManagedPolicy(this, 'QuarantineWriterPolicy', {
      description: 'Kitewatch: write quarantine records (PutObject under quarantine/ only)',
      statements: [
        new iam.PolicyStatement({
          sid: 'PutQuarantineRecords',
          actions: ['s3:PutObject'],
          resources: [this.quarantineBucket.arnForObjects(`${QUARANTINE_PREFIX}*`)],
        }),
        new iam.PolicyStatement({
          sid: 'EncryptQuarantineRecords',
          actions: ['kms:GenerateDataKey'],
          resources: [this.key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${this.region}.amazonaws.com` } },
        }),
      ],
    });
    suppress(this.quarantineWriterPolicy, {
      nag: [`AwsSolutions-IAM5[Resource::<${this.getLogicalId(this.quarantineBucket.node.defaultChild as s3.CfnBucket)}.Arn>/${QUARANTINE_PREFIX}*]`],
      reason: 'Quarantine objects are named by date and the SHA-256 of the rejected message, so writers get the quarantine/ prefix, PutObject only.',
    });
    suppress(this.quarantineBucket, {
      nag: ['NIST.800.53.R5-S3BucketReplicationEnabled'],
      reason: 'Quarantined events are copies of Buildkite events, replayable from Buildkite or the archive; a second region adds cost, not recovery.',
    });

    this.stateTable = new dynamodb.Table(this, 'StateTable', {
      partitionKey: { name: STATE_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: STATE_TABLE.ttlAttribute,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      deletionProtection: config.retainStatefulResources,
      removalPolicy,
    });
    suppress(this.stateTable, {
      nag: ['NIST.800.53.R5-DynamoDBInBackupPlan'],
      reason: 'Detector state is short-lived (every item has a TTL) and rebuilt by replaying the archive; PITR covers bad writes.',
    });

    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Kitewatch alarms',
      masterKey: this.key,
      enforceSSL: true,
    });
    // Generated name, so a retained topic never blocks re-creating the stack.
    this.alarmTopic.applyRemovalPolicy(removalPolicy);
    // The topic policy CDK writes (for enforceSSL) replaces SNS's default one, so allow the alarms.
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisAccount',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': this.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
        },
      }),
    );
    // Subscriptions of the alarm topic (the backfill function's) dead-letter into KMS-encrypted
    // queues: SNS encrypts with the key when it redrives there, for this topic only. The topic by
    // the name CloudFormation generates (stack-logicalId-suffix): its Ref would make a cycle, as
    // the topic is encrypted with this key.
    const alarmTopicArn = this.formatArn({
      service: 'sns',
      resource: `${this.stackName}-${this.getLogicalId(this.alarmTopic.node.defaultChild as sns.CfnTopic)}-*`,
      arnFormat: ArnFormat.NO_RESOURCE_NAME,
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlarmTopicSubscriptionDeadLetters',
        principals: [new iam.ServicePrincipal('sns.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnLike: { 'aws:SourceArn': alarmTopicArn },
        },
      }),
    );
    if (config.alarmEmail !== undefined) {
      const undelivered = this.deadLetterQueue('AlarmEmailDlq', 'undelivered alarm notifications');
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail, { deadLetterQueue: undelivered }));
      // The mail itself failed, so this alarm reaches the mailbox only once it works again; the
      // extra topics (aws.alarmTopicArns) get it at once.
      this.alarmEmailDlqAlarm = undelivered.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }).createAlarm(this, 'AlarmEmailDlqAlarm', {
        alarmDescription: `Kitewatch: SNS could not deliver alarm mail to ${config.alarmEmail} (unconfirmed or bouncing address); the notifications are in the alarm email dead-letter queue`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      this.alarmEmailDlqAlarm.addAlarmAction(new cloudwatchActions.SnsAction(this.alarmTopic));
    }

    this.kitewatchBus = this.encryptedBus('KitewatchBus', config.eventBusName);
    restrictPublishers(this.kitewatchBus);
    // EventBridge rules deliver to Kitewatch's KMS-encrypted queues (stage queues and rule DLQs):
    // SQS asks KMS for the data key on EventBridge's behalf. Conditioned on what SQS itself puts
    // in each request, the service (kms:ViaService) and the queue (encryption context aws:sqs:arn,
    // a queue of this account), not on aws:SourceArn / aws:SourceAccount: AWS documents those as
    // unsupported in a key policy for EventBridge deliveries to encrypted SNS topics, and does not
    // document them for SQS (docs/deploy.md, "Encryption"). A key that refused would lose every
    // event, since the rule DLQs use the same key. Which rule may send to which queue is the
    // queue policies' job (aws:SourceArn = the rule, RuleOnlyQueueTarget).
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeRulesToEncryptedQueues',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'kms:ViaService': `sqs.${this.region}.amazonaws.com` },
          ArnLike: { 'kms:EncryptionContext:aws:sqs:arn': this.formatArn({ service: 'sqs', resource: '*', arnFormat: ArnFormat.NO_RESOURCE_NAME }) },
        },
      }),
    );
    requireServiceSourceConditions(this.key);
    // new Archive rather than bus.archive() (which drops kmsKey), and the bus by its formatted
    // ARN: the key policy statement Archive adds would otherwise GetAtt the bus, which already
    // references the key, and CloudFormation rejects the cycle.
    const busByArn = events.EventBus.fromEventBusArn(this, 'KitewatchBusByArn', this.formatArn({ service: 'events', resource: 'event-bus', resourceName: config.eventBusName }));
    this.archive = new events.Archive(this, 'Archive', {
      sourceEventBus: busByArn,
      description: 'Everything Kitewatch publishes, for replay after a fix or for a new detector',
      // Approval requests carry a task token that dies at its deadline: a replay would only mail dead tokens.
      eventPattern: { source: [KITEWATCH_SOURCE], detailType: events.Match.anythingBut(APPROVAL_REQUESTED_DETAIL_TYPE) },
      retention: Duration.days(config.archiveRetentionDays),
      kmsKey: this.key,
    });
    this.archive.node.addDependency(this.kitewatchBus);
    this.archive.applyRemovalPolicy(removalPolicy);

    if (source.kind === 'partner') {
      // The partner bus exists once the event source is associated; CloudFormation cannot create it.
      this.ingestBus = events.EventBus.fromEventBusName(this, 'BuildkitePartnerBus', source.busName);
    } else {
      const bus = this.encryptedBus('IngestBus', customIngestBusName(config));
      for (const account of config.customBusAllowedAccounts) {
        bus.addToResourcePolicy(
          new iam.PolicyStatement({
            sid: `AllowForwardFrom${account}`,
            principals: [new iam.AccountPrincipal(account)],
            actions: ['events:PutEvents'],
            resources: [bus.eventBusArn],
          }),
        );
      }
      this.ingestBus = bus;
    }

    const f = this.forwardingBuckets(props.forwarding, forwardingPlan(props.forwarding ?? NO_FORWARDING, config.stackPrefix), removalPolicy);
    this.forwardingBackupBucket = f.backup;
    this.forwardingBucket = f.own;
    this.forwardingWriterPolicy = f.policy;

    this.rawArchive = this.rawEventArchive(source, config, removalPolicy);

    for (const value of this.consumedAttributes()) this.exportValue(value);
  }

  /**
   * Every attribute the Pipeline, Containment and Forwarding stacks may import, whichever
   * features are on (test/infra/day2.test.ts checks that consumers import nothing else).
   */
  private consumedAttributes(): string[] {
    const values = [
      this.key.keyArn,
      this.kitewatchBus.eventBusName,
      this.kitewatchBus.eventBusArn,
      this.stateTable.tableName,
      this.stateTable.tableArn,
      this.alarmTopic.topicArn,
      this.quarantineBucket.bucketName,
      this.quarantineWriterPolicy.managedPolicyArn,
      this.forwardingBackupBucket.bucketArn,
      this.forwardingBucket.bucketArn,
      this.forwardingWriterPolicy.managedPolicyArn,
    ];
    if (this.ingestBus instanceof events.EventBus) values.push(this.ingestBus.eventBusName, this.ingestBus.eventBusArn);
    return values;
  }

  /**
   * An archive of the ingest bus, so a past day can be normalized again after a fix (docs/runbooks.md):
   * the Kitewatch bus archive holds only what the normalizer made of the events at the time.
   */
  private rawEventArchive(source: IngestSource, config: AwsConfig, removalPolicy: RemovalPolicy): events.Archive {
    // A custom bus by its formatted ARN, as for the Kitewatch bus archive: the key policy statement
    // the archive adds would otherwise GetAtt the bus, which already references the key (a cycle).
    const sourceEventBus =
      source.kind === 'custom'
        ? events.EventBus.fromEventBusArn(this, 'IngestBusByArn', this.formatArn({ service: 'events', resource: 'event-bus', resourceName: customIngestBusName(config) }))
        : this.ingestBus;
    const archive = new events.Archive(this, 'RawArchive', {
      sourceEventBus,
      description: 'Raw Buildkite events as they arrived, for re-normalizing a past day after a normalizer fix',
      // Exactly what the normalizer receives, so a replay filtered to its rule re-normalizes all of it.
      eventPattern: toCdkEventPattern(ruleNamed('buildkite-ingest').eventPattern),
      retention: Duration.days(config.archiveRetentionDays),
    });
    // A partner bus is encrypted by EventBridge's own key; an archive of it cannot take a CMK. On
    // a custom bus the key is set on the L1 with a statement of its own: Archive's kmsKey adds
    // statements whose Sids the Kitewatch bus archive already uses (a duplicate Sid is invalid).
    if (source.kind === 'custom') {
      (archive.node.defaultChild as events.CfnArchive).kmsKeyIdentifier = this.key.keyArn;
      this.key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'EventBridgeRawArchive',
          principals: [new iam.ServicePrincipal('events.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:ReEncrypt*'],
          resources: ['*'],
          conditions: { StringEquals: { 'kms:EncryptionContext:aws:events:event-bus:arn': sourceEventBus.eventBusArn } },
        }),
      );
    }
    if (this.ingestBus instanceof events.EventBus) archive.node.addDependency(this.ingestBus);
    archive.applyRemovalPolicy(removalPolicy);
    return archive;
  }

  grantForwardingWrite(role: iam.Role): void {
    role.addManagedPolicy(this.forwardingWriterPolicy);
  }

  /** A KMS-encrypted, versioned, TLS-only, private bucket that logs its access: every Kitewatch bucket. */
  private secureBucket(id: string, logPrefix: string, removalPolicy: RemovalPolicy, lifecycleRules: s3.LifecycleRule[]): s3.Bucket {
    return new s3.Bucket(this, id, {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: logPrefix,
      lifecycleRules,
      removalPolicy,
    });
  }

  /**
   * The backup bucket (records no destination took, kept forwarding.backupRetentionDays) and, for
   * the ocsf layout without bucketName, the forwarding bucket; with the policy Firehose writes
   * them with, scoped to the prefixes its streams use (ListBucket needs the bucket itself).
   */
  private forwardingBuckets(forwarding: ForwardingConfig | undefined, plan: ForwardingPlan, removalPolicy: RemovalPolicy): { backup: s3.Bucket; own: s3.Bucket; policy: iam.ManagedPolicy } {
    const bucket = (id: string, logPrefix: string, lifecycleRules: s3.LifecycleRule[]): s3.Bucket => this.secureBucket(id, logPrefix, removalPolicy, lifecycleRules);
    const backup = bucket('ForwardingBackupBucket', 'forwarding-backup-bucket/', [
      {
        id: 'expire-forwarding-backups',
        expiration: Duration.days((forwarding ?? NO_FORWARDING).backupRetentionDays),
        noncurrentVersionExpiration: Duration.days(30),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      },
    ]);
    suppress(backup, {
      nag: ['NIST.800.53.R5-S3BucketReplicationEnabled'],
      reason: 'Backups of records a SIEM refused: copies of events already in the EventBridge archive, which can replay them; a second region adds cost, not recovery.',
    });
    // Created even when no destination uses it (an empty bucket costs nothing), so switching the
    // ocsf layout on or off never adds or removes a stateful resource or an export.
    const own = bucket('ForwardingBucket', 'forwarding-bucket/', [
      // The SIEM copy is kept until someone decides otherwise; only superseded versions go.
      { id: 'expire-noncurrent', noncurrentVersionExpiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1) },
    ]);
    suppress(own, {
      nag: ['NIST.800.53.R5-S3BucketReplicationEnabled'],
      reason: 'The OCSF copy of what Kitewatch publishes, all of it also in the EventBridge archive; cross-region copies are left to the account-wide backup policy.',
    });

    const objects = [backup.arnForObjects(`${plan.streamNamePrefix}-fwd-*`)];
    if (plan.ownBucket) {
      const prefix = plan.s3Prefix ?? '';
      objects.push(own.arnForObjects(`${prefix}*`), own.arnForObjects(`errors/${prefix}*`));
    }
    const policy = new iam.ManagedPolicy(this, 'ForwardingWriterPolicy', {
      description: 'Kitewatch: Firehose writes backups and the ocsf layout (prefixes of its streams only), encrypted with the key',
      statements: [
        new iam.PolicyStatement({
          sid: 'FirehoseBuckets',
          actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
          resources: [backup.bucketArn, ...(plan.ownBucket ? [own.bucketArn] : [])],
        }),
        new iam.PolicyStatement({
          sid: 'FirehoseObjects',
          actions: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'],
          resources: [...new Set(objects)],
        }),
        new iam.PolicyStatement({
          sid: 'FirehoseObjectEncryption',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [this.key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${this.region}.amazonaws.com` } },
        }),
      ],
    });
    suppress(policy, {
      nag: [...new Set(objects)].map((arn) => `AwsSolutions-IAM5[${nagResource(policy, arn)}]`),
      reason: `Firehose names objects by time and partition under each stream's prefix (${plan.streamNamePrefix}-fwd-<destination>/ in the backup bucket${plan.ownBucket ? ', the ocsf prefix in the forwarding bucket' : ''}); the policy names those prefixes.`,
    });
    return { backup, own, policy };
  }

  grantQuarantineWrite(grantee: iam.IGrantable): void {
    const role = grantee.grantPrincipal;
    if (!(role instanceof iam.Role)) {
      throw new Error(`grantQuarantineWrite needs a principal backed by an IAM role, got a ${role.constructor.name}`);
    }
    role.addManagedPolicy(this.quarantineWriterPolicy);
  }

  grantStateItemsRead(role: iam.Role, keys: readonly string[]): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StateItemsRead',
        actions: ['dynamodb:GetItem'],
        resources: [this.stateTable.tableArn],
        conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [...keys] }, Null: { 'dynamodb:LeadingKeys': 'false' } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StateTableDecrypt',
        actions: ['kms:Decrypt'],
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${this.region}.amazonaws.com` } },
      }),
    );
  }

  grantStateReadWrite(role: iam.Role, partition: StatePartition): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StateItemsOfOwnPartition',
        actions: [...STATE_ITEM_ACTIONS],
        resources: [this.stateTable.tableArn],
        conditions: {
          // Every key of the request under the writer's prefix; Null false: a key must be given (no Scan).
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${STATE_PARTITIONS[partition]}*`] },
          Null: { 'dynamodb:LeadingKeys': 'false' },
        },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StateTableEncryption',
        actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'],
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${this.region}.amazonaws.com` } },
      }),
    );
    suppress(role, {
      nag: ['AwsSolutions-IAM5[Action::kms:GenerateDataKey*]', 'AwsSolutions-IAM5[Action::kms:ReEncrypt*]'],
      reason: "The CMK-encrypted state table: DynamoDB's key calls on the caller's behalf (kms:ViaService dynamodb), on this one key only (the statement names its ARN).",
    });
  }

  /**
   * A dead-letter queue for a service (EventBridge, SNS) rather than for another queue. SSE-SQS,
   * not the CMK: the bus DLQ catches exactly the events that failed because of the CMK.
   */
  private deadLetterQueue(id: string, holds: string): sqs.Queue {
    const dlq = new sqs.Queue(this, id, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: this.removalPolicy,
    });
    suppress(dlq, {
      nag: ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy'],
      reason: `Dead-letter queue for ${holds} (a service DeadLetterConfig): the end of the chain, read by a human.`,
    });
    suppress(dlq, {
      checkov: ['CKV_AWS_27'],
      reason: `Dead-letter queue for ${holds}: SSE-SQS on purpose, so a broken CMK cannot also block its own dead letters.`,
    });
    return dlq;
  }

  /** A bus encrypted with the key, with a DLQ for events EventBridge cannot encrypt or decrypt. */
  private encryptedBus(id: string, eventBusName: string): events.EventBus {
    const dlq = this.deadLetterQueue(`${id}Dlq`, `events on ${eventBusName} that failed encryption or decryption`);
    const bus = new events.EventBus(this, id, { eventBusName, kmsKey: this.key, deadLetterQueue: dlq });
    dlq.grantSendMessages(new iam.ServicePrincipal('events.amazonaws.com', { conditions: { ArnEquals: { 'aws:SourceArn': bus.eventBusArn } } }));
    dlq
      .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' })
      .createAlarm(this, `${id}DlqAlarm`, {
        alarmDescription: `Events on ${eventBusName} failed encryption or decryption and landed in its dead-letter queue`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      })
      .addAlarmAction(new cloudwatchActions.SnsAction(this.alarmTopic));
    return bus;
  }
}
