import { Annotations, ArnFormat, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ForwardEnv } from '../../lambdas/forward/env.ts';
import { SecurityHubEnv } from '../../lambdas/securityhub/env.ts';
import type { ForwardingConfig, SecurityLakeOptions } from '../forward/config.ts';
import { deliveryStreams, securityLakeErrorPrefix, securityLakeSources, transformRoutes, type DeliveryStreamSpec, type MetricRef } from '../forward/firehose-streams.ts';
import { classSlug } from '../forward/s3-layout.ts';
import { SECURITY_LAKE_OCSF_VERSION, unlistedEventClasses } from '../forward/security-lake.ts';
import { OCSF_VERSION } from '../ocsf/types.ts';
import { STATE_PARTITIONS } from '../state/port.ts';
import { secretResource } from './arns.ts';
import type { AwsConfig } from './config.ts';
import { DeliveryStream, FirehoseRuleTarget } from './delivery-stream.ts';
import { forwardingPlan, type ForwardingPlan } from './forwarding-plan.ts';
import { KitewatchFunction } from './kitewatch-function.ts';
import { QueueRoute } from './queue-route.ts';
import { RuleDeadLetterQueue } from './rule-dead-letter-queue.ts';
import { ruleNamed, toCdkEventPattern } from './rules.ts';
import { lakeKeyUse, SecurityLakeSources } from './security-lake-sources.ts';
import { SecurityLakeTables } from './security-lake-tables.ts';
import type { StatefulResources } from './stateful-stack.ts';
import { nagResource, suppress } from './suppressions.ts';

export interface ForwardingStackProps extends StackProps {
  readonly config: AwsConfig;
  /** The validated `forwarding` block: which destinations, buffering, alarms. */
  readonly forwarding: ForwardingConfig;
  readonly stateful: StatefulResources;
}

/** One delivery stream with its rule and alarms. */
export interface ForwardingStream {
  readonly stream: DeliveryStream;
  readonly rule: events.Rule;
  /** Delivery success below 1, oldest record too old, records backed up instead of delivered. */
  readonly alarms: readonly cloudwatch.Alarm[];
}

/** Firehose writes to log streams it does not create: every LogStreamName the stream spec names. */
export function logStreamNames(input: unknown): string[] {
  const names = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (typeof node === 'object' && node !== null) {
      for (const [k, v] of Object.entries(node)) {
        if (k === 'LogStreamName' && typeof v === 'string') names.add(v);
        else visit(v);
      }
    }
  };
  visit(input);
  return [...names].sort();
}

/** The Kitewatch metric the transform Lambda writes (EMF, dimension service=forward). */
const TRANSFORM_SERVICE = 'forward';

/**
 * Forwarding to SIEMs: one Firehose delivery stream per configured destination (Splunk HEC,
 * HTTP endpoints, S3 by OCSF class and day), each fed by a rule from rules/ocsf-to-forwarding.json,
 * transformed by one Lambda, encrypted with the key, backing up what it cannot deliver to the
 * stateful stack's backup bucket, with alarms on delivery; and the Security Hub forwarder behind
 * its own QueueRoute (rules/findings-to-securityhub.json). Only what `forwarding` names is built.
 */
export class ForwardingStack extends Stack {
  readonly plan: ForwardingPlan;
  readonly transform: KitewatchFunction | undefined;
  readonly deliveryRole: iam.Role | undefined;
  readonly eventsRole: iam.Role | undefined;
  readonly errorLogGroup: logs.LogGroup | undefined;
  readonly ruleDeadLetters: RuleDeadLetterQueue | undefined;
  readonly streams: readonly ForwardingStream[];
  /** Glue tables of the security-lake layout's Parquet conversion. */
  readonly securityLakeTables: SecurityLakeTables | undefined;
  /** The custom sources registered in Security Lake (securityLake.register). */
  readonly securityLakeSources: SecurityLakeSources | undefined;
  readonly securityHub: { readonly fn: KitewatchFunction; readonly route: QueueRoute } | undefined;

  constructor(scope: Construct, id: string, props: ForwardingStackProps) {
    super(scope, id, props);
    const { config, forwarding, stateful } = props;
    this.plan = forwardingPlan(forwarding, config.stackPrefix);
    const streams: ForwardingStream[] = [];

    if (this.plan.firehose) {
      const backup = stateful.forwardingBackupBucket;

      this.transform = new KitewatchFunction(this, 'Transform', {
        entry: 'lambdas/forward/handler.ts',
        serviceName: TRANSFORM_SERVICE,
        description: 'Kitewatch: Firehose record transform (OCSF -> Splunk HEC / NDJSON, S3 partition keys), one for every stream',
        memoryMiB: 256,
        // Firehose allows a transform at most 5 minutes; 1 MB of records takes well under one.
        timeout: Duration.seconds(60),
        // The state table remembers each delivered uid, so a copy in a later buffer is Dropped.
        environment: { [ForwardEnv.stateTable]: stateful.stateTable.tableName },
        key: stateful.key,
        config,
        invokedBy: 'firehose',
      });
      // Conditional PutItem of the claims only; DynamoDB encrypts them with the table's CMK for the caller.
      this.transform.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'ClaimForwardedUids',
          actions: ['dynamodb:PutItem'],
          resources: [stateful.stateTable.tableArn],
          conditions: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${STATE_PARTITIONS.forward}*`] },
            Null: { 'dynamodb:LeadingKeys': 'false' },
          },
        }),
      );
      this.transform.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'ClaimsEncryption',
          actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
          resources: [stateful.key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${this.region}.amazonaws.com` } },
        }),
      );

      this.errorLogGroup = new logs.LogGroup(this, 'FirehoseErrors', {
        retention: config.logRetentionDays as logs.RetentionDays,
        encryptionKey: stateful.key,
        removalPolicy: config.retainStatefulResources ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      });

      this.deliveryRole = new iam.Role(this, 'DeliveryRole', {
        assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': this.account } } }),
        description: 'Kitewatch Firehose delivery streams: transform, write backups and S3, read destination secrets, log errors',
      });
      stateful.grantForwardingWrite(this.deliveryRole);

      const lake = forwarding.destinations.s3?.securityLake;
      if (this.plan.securityLake && lake !== undefined) {
        this.securityLakeTables = new SecurityLakeTables(this, 'SecurityLakeTables', {
          lake,
          databaseName: `${this.plan.streamNamePrefix.replaceAll('-', '_')}_security_lake`,
        });
        this.securityLakeTables.grantSchemaRead(this.deliveryRole);
        this.warnAboutSecurityLake(lake);
        if (lake.register) this.securityLakeSources = new SecurityLakeSources(this, 'SecurityLakeSources', { lake, key: stateful.key, config });
      }
      const tables = this.securityLakeTables;

      const specs = deliveryStreams(forwarding, {
        namePrefix: this.plan.streamNamePrefix,
        region: this.region,
        accountId: this.account,
        partition: this.partition,
        deliveryRoleArn: this.deliveryRole.roleArn,
        backupBucketArn: backup.bucketArn,
        kmsKeyArn: stateful.key.keyArn,
        forwardingBucketArn: this.plan.ownBucket ? stateful.forwardingBucket.bucketArn : undefined,
        transformFunctionArn: this.transform.fn.functionArn,
        logGroupName: this.errorLogGroup.logGroupName,
        glue: tables === undefined ? undefined : { databaseName: tables.databaseName, tableName: (classUid) => tables.tableName(classUid) },
      });
      this.transform.addEnvironment(ForwardEnv.routes, JSON.stringify(transformRoutes(specs)));
      this.grantDelivery(this.deliveryRole, this.transform, this.errorLogGroup, forwarding);

      this.eventsRole = new iam.Role(this, 'EventsRole', {
        assumedBy: new iam.ServicePrincipal('events.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': this.account } } }),
        description: 'Kitewatch: EventBridge puts OCSF events into the forwarding delivery streams',
      });
      suppress(this.eventsRole, {
        nag: ['NIST.800.53.R5-IAMNoInlinePolicy'],
        reason: "The role's own policy (firehose:PutRecord/PutRecordBatch on the Kitewatch streams) dies with the role; nothing else uses it.",
      });
      this.ruleDeadLetters = new RuleDeadLetterQueue(this, 'RuleDeadLetters', {
        key: stateful.key,
        retain: config.retainStatefulResources,
        alarmTopic: stateful.alarmTopic,
        holds: 'OCSF events the forwarding delivery streams did not accept',
      });

      const rule = ruleNamed('ocsf-to-forwarding');
      if (rule.target !== 'forward') throw new Error(`rules/${rule.name}.json targets "${rule.target}", not "forward"`);
      for (const spec of specs) {
        const suffix = spec.name.slice(`${this.plan.streamNamePrefix}-fwd-`.length);
        const stream = new DeliveryStream(this, `Stream-${suffix}`, { spec });
        // Firehose checks its role when the stream is created: the policies must exist first.
        stream.node.addDependency(this.deliveryRole);
        // Format conversion checks its table when the stream is created.
        if (tables !== undefined) stream.node.addDependency(tables);
        // Registered before data flows into ext/<source>/, and deregistered only after the stream is gone.
        if (spec.kind === 'security-lake' && this.securityLakeSources !== undefined) stream.node.addDependency(this.securityLakeSources);
        for (const logStream of logStreamNames(spec.input)) {
          new logs.LogStream(this, `LogStream-${logStream}`, {
            logGroup: this.errorLogGroup,
            logStreamName: logStream,
            removalPolicy: config.retainStatefulResources ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
          });
        }
        this.eventsRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['firehose:PutRecord', 'firehose:PutRecordBatch'], resources: [stream.deliveryStreamArn] }));
        const pattern = spec.classUids === undefined ? rule.eventPattern : { ...rule.eventPattern, detail: { class_uid: [...spec.classUids] } };
        const streamRule = new events.Rule(this, `Rule-${suffix}`, {
          eventBus: stateful.kitewatchBus,
          description: `${rule.name} -> ${spec.name}: ${rule.description}`.slice(0, 512),
          eventPattern: toCdkEventPattern(pattern),
        });
        // One OCSF event per record: the transform and the S3 partitioning read the event itself.
        streamRule.addTarget(new FirehoseRuleTarget(stream, this.eventsRole, this.ruleDeadLetters, events.RuleTargetInput.fromEventPath('$.detail')));
        streams.push({ stream, rule: streamRule, alarms: this.streamAlarms(stream, spec, forwarding, stateful) });
      }

      const transformFailed = new cloudwatch.Metric({
        namespace: 'Kitewatch',
        metricName: 'ForwardRecordsFailed',
        dimensionsMap: { service: TRANSFORM_SERVICE },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }).createAlarm(this, 'TransformFailedAlarm', {
        alarmDescription: 'Kitewatch forwarding: the Firehose transform failed records (they are in the error prefix of the backup or forwarding bucket)',
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      transformFailed.addAlarmAction(new cloudwatchActions.SnsAction(stateful.alarmTopic));
    }
    this.streams = streams;

    if (this.plan.securityHub) {
      const hub = forwarding.destinations.securityHub;
      const region = hub.region ?? this.region;
      const fn = new KitewatchFunction(this, 'SecurityHub', {
        entry: 'lambdas/securityhub/handler.ts',
        serviceName: 'securityhub',
        description: 'Kitewatch: Detection Findings -> ASFF -> Security Hub BatchImportFindings',
        memoryMiB: 256,
        timeout: Duration.seconds(30),
        environment: {
          [SecurityHubEnv.accountId]: this.account,
          [SecurityHubEnv.partition]: this.partition,
          ...(hub.region !== undefined ? { [SecurityHubEnv.region]: hub.region } : {}),
        },
        key: stateful.key,
        config,
        invokedBy: 'sqs',
      });
      // BatchImportFindings into this account's own product (lib/forward/asff.ts productArn).
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'ImportKitewatchFindings',
          actions: ['securityhub:BatchImportFindings'],
          resources: [this.formatArn({ service: 'securityhub', region, resource: 'product', resourceName: `${this.account}/default`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME })],
        }),
      );
      const route = new QueueRoute(this, 'SecurityHubRoute', {
        rule: ruleNamed('findings-to-securityhub'),
        buses: { buildkite: stateful.ingestBus, kitewatch: stateful.kitewatchBus },
        consumer: fn,
        consumerTarget: 'forward',
        key: stateful.key,
        alarmTopic: stateful.alarmTopic,
        maxReceiveCount: config.maxReceiveCount,
        retainDeadLetters: config.retainStatefulResources,
        batchSize: hub.batchSize,
        maxBatchingWindow: Duration.seconds(hub.maxBatchingWindowSeconds),
      });
      this.securityHub = { fn, route };
    }
  }

  /** What Security Lake's documentation says it does not take from Kitewatch, said at every synth. */
  private warnAboutSecurityLake(lake: SecurityLakeOptions): void {
    const unlisted = unlistedEventClasses(lake.classes);
    if (unlisted.length > 0) {
      Annotations.of(this).addWarningV2(
        'kitewatch:security-lake-event-classes',
        `forwarding.destinations.s3.securityLake.classes: ${unlisted.map((c) => `${c} (${classSlug(c)})`).join(', ')} ${unlisted.length === 1 ? 'is' : 'are'} not in Security Lake's documented list of custom source event classes; ${unlisted.length === 1 ? 'its source is' : 'their sources are'} registered without eventClasses. Drop ${unlisted.length === 1 ? 'it' : 'them'} from securityLake.classes to keep only classes Security Lake names (docs/deploy.md, Security Lake).`,
      );
    }
    Annotations.of(this).addWarningV2(
      'kitewatch:security-lake-ocsf-version',
      `Security Lake documents OCSF ${SECURITY_LAKE_OCSF_VERSION} and earlier for custom sources; Kitewatch writes OCSF ${OCSF_VERSION}. The crawler takes the columns from the Parquet, but subscribers that expect ${SECURITY_LAKE_OCSF_VERSION} may not know the newer fields (docs/deploy.md, Security Lake).`,
    );
  }

  /** What Firehose does with the role: invoke the transform, read the destination secrets, log errors, write an external bucket. */
  private grantDelivery(role: iam.Role, transform: KitewatchFunction, errors: logs.LogGroup, forwarding: ForwardingConfig): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeTransform',
        actions: ['lambda:InvokeFunction', 'lambda:GetFunctionConfiguration'],
        resources: [transform.fn.functionArn],
      }),
    );
    const d = forwarding.destinations;
    const secrets = [...(d.splunkHec === undefined ? [] : [d.splunkHec.tokenSecretArn]), ...d.http.map((h) => h.accessKeySecretArn)];
    if (secrets.length > 0) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'ReadDestinationSecrets',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [...new Set(secrets.map((arn) => secretResource(this, arn)))].sort(),
        }),
      );
    }
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'LogDeliveryErrors', actions: ['logs:PutLogEvents'], resources: [errors.logGroupArn] }));
    const lake = d.s3?.layout === 'security-lake' ? d.s3.securityLake : undefined;
    const external = d.s3?.layout === 'ocsf' ? d.s3.bucketName : lake?.bucketName;
    if (external !== undefined) {
      const bucketArn = this.formatArn({ service: 's3', region: '', account: '', resource: external });
      const prefix = d.s3?.prefix ?? '';
      // Security Lake: each class's custom source prefix, and its error prefix outside ext/.
      const keyPrefixes =
        lake === undefined
          ? [`${prefix}*`, `errors/${prefix}*`]
          : securityLakeSources(lake, { accountId: this.account, region: this.region }).flatMap((s) => [`ext/${s.sourceName}/*`, `${securityLakeErrorPrefix(s.sourceName)}*`]);
      const objects = keyPrefixes.map((p) => `${bucketArn}/${p}`);
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ExternalBucket', actions: ['s3:GetBucketLocation', 's3:ListBucketMultipartUploads'], resources: [bucketArn] }));
      // Someone else's bucket (Security Lake's holds every source's data): list only the prefixes Kitewatch writes.
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'ExternalBucketList',
          actions: ['s3:ListBucket'],
          resources: [bucketArn],
          conditions: { StringLike: { 's3:prefix': keyPrefixes } },
        }),
      );
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ExternalBucketObjects', actions: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'], resources: objects }));
      // The lake bucket's own key encrypts what Firehose puts there (bucket default encryption).
      if (lake?.kmsKeyArn !== undefined) role.addToPrincipalPolicy(lakeKeyUse('LakeBucketKey', lake.kmsKeyArn, bucketArn));
      suppress(role, {
        nag: objects.map((o) => `AwsSolutions-IAM5[${nagResource(role, o)}]`),
        reason:
          lake === undefined
            ? `Firehose names objects by time and partition under the ocsf prefix of forwarding.destinations.s3.bucketName (${external}); the policy names that prefix and its error prefix.`
            : `Firehose names Parquet objects by region, account and day under each custom source's prefix (ext/<source>/) of the Security Lake bucket ${external}; the policy names those prefixes.`,
      });
    }
    suppress(role, {
      nag: ['NIST.800.53.R5-IAMNoInlinePolicy'],
      reason: "The role's own policy (transform, secrets, error log) dies with the role; the bucket writes are the stateful stack's managed policy.",
    });
  }

  private streamAlarms(stream: DeliveryStream, spec: DeliveryStreamSpec, forwarding: ForwardingConfig, stateful: StatefulResources): cloudwatch.Alarm[] {
    const metric = (ref: MetricRef): cloudwatch.Metric =>
      new cloudwatch.Metric({
        namespace: ref.namespace,
        metricName: ref.metricName,
        statistic: ref.statistic,
        dimensionsMap: { DeliveryStreamName: spec.name },
        period: Duration.minutes(5),
      });
    const alarms: cloudwatch.Alarm[] = [
      metric(spec.metrics.success).createAlarm(stream, 'DeliveryFailedAlarm', {
        alarmDescription: `Kitewatch forwarding: ${spec.name} failed deliveries for 15 minutes (records are retried, then kept in the backup bucket)`,
        threshold: 1,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      metric(spec.metrics.freshness).createAlarm(stream, 'FreshnessAlarm', {
        alarmDescription: `Kitewatch forwarding: the oldest record in ${spec.name} waits longer than ${forwarding.alarmFreshnessSeconds} s`,
        threshold: forwarding.alarmFreshnessSeconds,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ];
    // S3 streams count backups through the transform's metric (one alarm for all, above).
    if (spec.metrics.backedUp.namespace === 'AWS/Firehose') {
      alarms.push(
        metric(spec.metrics.backedUp).createAlarm(stream, 'BackedUpAlarm', {
          alarmDescription: `Kitewatch forwarding: ${spec.name} gave up on records and wrote them to the backup bucket`,
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    for (const alarm of alarms) alarm.addAlarmAction(new cloudwatchActions.SnsAction(stateful.alarmTopic));
    return alarms;
  }
}
