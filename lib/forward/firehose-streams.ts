import type { CreateDeliveryStreamCommandInput, EncryptionConfiguration, ProcessingConfiguration, S3DestinationConfiguration } from '@aws-sdk/client-firehose';
import type { ForwardingConfig, SecurityLakeOptions } from './config.ts';
import type { StreamRoute } from './firehose.ts';
import { sourceNameIssues } from './security-lake.ts';
import { classSlug, firehoseErrorPrefix, firehoseOcsfPrefix, firehoseSecurityLakePrefix, securityLakeSourceName } from './s3-layout.ts';

/**
 * The Firehose delivery streams a forwarding config asks for, as CreateDeliveryStream inputs
 * (the CDK `CfnDeliveryStream` properties are the same shapes in camelCase), with the transform
 * route of each stream (KITEWATCH_FORWARD_ROUTES), the events it takes, and the metrics that say
 * delivered / failed / backed up. One definition for the stack, the transform and the tests.
 */

/** The resources the stack creates and passes in (ARNs or CloudFormation tokens). */
export interface StreamRefs {
  /** Stream names are `<namePrefix>-fwd-<destination>`. */
  readonly namePrefix: string;
  readonly region: string;
  readonly accountId: string;
  /** @default 'aws' */
  readonly partition?: string | undefined;
  /** Role Firehose assumes: write the buckets, invoke the transform, read the secrets. */
  readonly deliveryRoleArn: string;
  /** The encrypted bucket where records no destination took are kept. */
  readonly backupBucketArn: string;
  /** KMS key of the backup and forwarding buckets and of the streams; unset: S3-managed / AWS-owned keys. */
  readonly kmsKeyArn?: string | undefined;
  /** Kitewatch's own bucket for the ocsf layout, when forwarding.destinations.s3.bucketName is unset. */
  readonly forwardingBucketArn?: string | undefined;
  /** The record-transform function (lambdas/forward/handler.ts), one for all streams. */
  readonly transformFunctionArn: string;
  /** Glue tables for the Parquet conversion of the security-lake layout, one per class. */
  readonly glue?: { readonly databaseName: string; readonly tableName: (classUid: number) => string } | undefined;
  /** Firehose error logging. */
  readonly logGroupName?: string | undefined;
}

export type StreamKind = 'splunk' | 'http' | 's3' | 'security-lake';

/** One CloudWatch metric: AWS/Firehose ones have the dimension DeliveryStreamName = the stream. */
export interface MetricRef {
  readonly namespace: 'AWS/Firehose' | 'Kitewatch';
  readonly metricName: string;
  readonly statistic: 'Sum' | 'Average' | 'Maximum';
}

/** Delivered / failed / backed up, and what to alarm on. */
export interface StreamMetrics {
  /** Records delivered. */
  readonly delivered: MetricRef;
  /** Share of successful deliveries: below 1 means some failed (alarm: < 1 for 3 periods). */
  readonly success: MetricRef;
  /** Age in seconds of the oldest undelivered record (alarm: > forwarding.alarmFreshnessSeconds). */
  readonly freshness: MetricRef;
  /** Records that went to the backup bucket / error prefix instead (alarm: > 0). */
  readonly backedUp: MetricRef;
}

export interface DeliveryStreamSpec {
  readonly name: string;
  readonly kind: StreamKind;
  /** Entry of KITEWATCH_FORWARD_ROUTES for this stream. */
  readonly route: StreamRoute;
  /** class_uids this stream takes (EventBridge rule filter on detail.class_uid); undefined: all forwarded events. */
  readonly classUids?: readonly number[] | undefined;
  readonly input: CreateDeliveryStreamCommandInput;
  readonly metrics: StreamMetrics;
}

export class StreamConfigError extends Error {
  override readonly name = 'StreamConfigError';
}

const firehose = (metricName: string, statistic: MetricRef['statistic']): MetricRef => ({ namespace: 'AWS/Firehose', metricName, statistic });
/** Records the transform Lambda failed (EMF metric of lambdas/forward, dimension service=forward). */
const TRANSFORM_FAILED: MetricRef = { namespace: 'Kitewatch', metricName: 'ForwardRecordsFailed', statistic: 'Sum' };

function metricsFor(kind: StreamKind): StreamMetrics {
  switch (kind) {
    case 'splunk':
      return {
        delivered: firehose('DeliveryToSplunk.Records', 'Sum'),
        success: firehose('DeliveryToSplunk.Success', 'Average'),
        freshness: firehose('DeliveryToSplunk.DataFreshness', 'Maximum'),
        backedUp: firehose('BackupToS3.Records', 'Sum'),
      };
    case 'http':
      return {
        delivered: firehose('DeliveryToHttpEndpoint.Records', 'Sum'),
        success: firehose('DeliveryToHttpEndpoint.Success', 'Average'),
        freshness: firehose('DeliveryToHttpEndpoint.DataFreshness', 'Maximum'),
        backedUp: firehose('BackupToS3.Records', 'Sum'),
      };
    case 's3':
    case 'security-lake':
      // S3 keeps what it cannot take in the stream's error prefix; those are the transform's failures.
      return {
        delivered: firehose('DeliveryToS3.Records', 'Sum'),
        success: firehose('DeliveryToS3.Success', 'Average'),
        freshness: firehose('DeliveryToS3.DataFreshness', 'Maximum'),
        backedUp: TRANSFORM_FAILED,
      };
  }
}

/** Transform invocations take at most 1 MB of records, so their answer stays far under Lambda's 6 MB. */
function processing(refs: StreamRefs): ProcessingConfiguration {
  return {
    Enabled: true,
    Processors: [
      {
        Type: 'Lambda',
        Parameters: [
          { ParameterName: 'LambdaArn', ParameterValue: refs.transformFunctionArn },
          { ParameterName: 'NumberOfRetries', ParameterValue: '3' },
          { ParameterName: 'BufferSizeInMBs', ParameterValue: '1' },
          { ParameterName: 'BufferIntervalInSeconds', ParameterValue: '60' },
        ],
      },
    ],
  };
}

function encryption(refs: StreamRefs): EncryptionConfiguration {
  return refs.kmsKeyArn === undefined ? { NoEncryptionConfig: 'NoEncryption' } : { KMSEncryptionConfig: { AWSKMSKeyARN: refs.kmsKeyArn } };
}

function logging(refs: StreamRefs, stream: string): { CloudWatchLoggingOptions?: { Enabled: boolean; LogGroupName: string; LogStreamName: string } } {
  return refs.logGroupName === undefined ? {} : { CloudWatchLoggingOptions: { Enabled: true, LogGroupName: refs.logGroupName, LogStreamName: stream } };
}

/** Where a stream's undeliverable records go: the encrypted backup bucket, under the stream's name. */
function backup(refs: StreamRefs, stream: string): S3DestinationConfiguration {
  return {
    RoleARN: refs.deliveryRoleArn,
    BucketARN: refs.backupBucketArn,
    Prefix: `${stream}/`,
    ErrorOutputPrefix: firehoseErrorPrefix(`${stream}/errors/`),
    CompressionFormat: 'GZIP',
    EncryptionConfiguration: encryption(refs),
    BufferingHints: { IntervalInSeconds: 300, SizeInMBs: 5 },
    ...logging(refs, `${stream}-backup`),
  };
}

function streamEncryption(refs: StreamRefs): CreateDeliveryStreamCommandInput['DeliveryStreamEncryptionConfigurationInput'] {
  return refs.kmsKeyArn === undefined ? { KeyType: 'AWS_OWNED_CMK' } : { KeyType: 'CUSTOMER_MANAGED_CMK', KeyARN: refs.kmsKeyArn };
}

function bucketArn(refs: StreamRefs, name: string): string {
  return `arn:${refs.partition ?? 'aws'}:s3:::${name}`;
}

function streamName(refs: StreamRefs, suffix: string): string {
  const name = `${refs.namePrefix}-fwd-${suffix}`;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new StreamConfigError(`delivery stream name "${name}" is not valid (1-64 of A-Z a-z 0-9 _ . -)`);
  return name;
}

/** Where a Security Lake stream's failed records go: in the lake bucket, outside the crawled ext/ tree. */
export function securityLakeErrorPrefix(sourceName: string): string {
  return `kitewatch-errors/${sourceName}/`;
}

export function securityLakeSources(
  lake: SecurityLakeOptions,
  fallback: { readonly accountId?: string | undefined; readonly region?: string | undefined },
): { classUid: number; sourceName: string; sourceVersion?: string | undefined; region: string; accountId: string }[] {
  const region = lake.region ?? fallback.region;
  const accountId = lake.accountId ?? fallback.accountId;
  if (region === undefined || accountId === undefined) {
    throw new StreamConfigError('forwarding.destinations.s3.securityLake needs the region= and accountId= partition values: set securityLake.region/accountId or aws.region/account');
  }
  // The schema checks this too; callers that build options by hand get the same refusal.
  const problems = sourceNameIssues(lake.classes, lake);
  if (problems.length > 0) throw new StreamConfigError(`forwarding.destinations.s3.securityLake: ${problems.map((p) => p.message).join('; ')}`);
  return lake.classes.map((classUid) => ({ classUid, sourceName: securityLakeSourceName(classUid, lake), sourceVersion: lake.sourceVersion, region, accountId }));
}

export function deliveryStreams(config: ForwardingConfig, refs: StreamRefs): DeliveryStreamSpec[] {
  const d = config.destinations;
  const specs: DeliveryStreamSpec[] = [];
  if (d.splunkHec !== undefined) {
    const s = d.splunkHec;
    const name = streamName(refs, 'splunk');
    specs.push({
      name,
      kind: 'splunk',
      route: { format: 'splunk-hec', ...(s.index !== undefined ? { index: s.index } : {}), sourcetypePrefix: s.sourcetypePrefix },
      input: {
        DeliveryStreamName: name,
        DeliveryStreamType: 'DirectPut',
        DeliveryStreamEncryptionConfigurationInput: streamEncryption(refs),
        SplunkDestinationConfiguration: {
          HECEndpoint: s.endpoint,
          HECEndpointType: 'Event',
          HECAcknowledgmentTimeoutInSeconds: s.ackTimeoutSeconds,
          RetryOptions: { DurationInSeconds: s.retryDurationSeconds },
          BufferingHints: { IntervalInSeconds: s.buffering.intervalSeconds, SizeInMBs: s.buffering.sizeMiB },
          S3BackupMode: 'FailedEventsOnly',
          S3Configuration: backup(refs, name),
          ProcessingConfiguration: processing(refs),
          SecretsManagerConfiguration: { Enabled: true, SecretARN: s.tokenSecretArn, RoleARN: refs.deliveryRoleArn },
          ...logging(refs, name),
        },
      },
      metrics: metricsFor('splunk'),
    });
  }
  for (const h of d.http) {
    const name = streamName(refs, `http-${h.name}`);
    const attributes = Object.entries(h.commonAttributes).map(([AttributeName, AttributeValue]) => ({ AttributeName, AttributeValue }));
    specs.push({
      name,
      kind: 'http',
      route: { format: 'ndjson' },
      input: {
        DeliveryStreamName: name,
        DeliveryStreamType: 'DirectPut',
        DeliveryStreamEncryptionConfigurationInput: streamEncryption(refs),
        HttpEndpointDestinationConfiguration: {
          EndpointConfiguration: { Url: h.endpoint, Name: h.name },
          RequestConfiguration: { ContentEncoding: h.contentEncoding, ...(attributes.length > 0 ? { CommonAttributes: attributes } : {}) },
          BufferingHints: { IntervalInSeconds: h.buffering.intervalSeconds, SizeInMBs: h.buffering.sizeMiB },
          RetryOptions: { DurationInSeconds: h.retryDurationSeconds },
          RoleARN: refs.deliveryRoleArn,
          S3BackupMode: 'FailedDataOnly',
          S3Configuration: backup(refs, name),
          ProcessingConfiguration: processing(refs),
          SecretsManagerConfiguration: { Enabled: true, SecretARN: h.accessKeySecretArn, RoleARN: refs.deliveryRoleArn },
          ...logging(refs, name),
        },
      },
      metrics: metricsFor('http'),
    });
  }
  const s3 = d.s3;
  if (s3 !== undefined && s3.layout === 'ocsf') {
    const name = streamName(refs, 's3');
    const bucket = s3.bucketName !== undefined ? bucketArn(refs, s3.bucketName) : refs.forwardingBucketArn;
    if (bucket === undefined) throw new StreamConfigError('forwarding.destinations.s3 has no bucketName and the stack passed no forwarding bucket');
    specs.push({
      name,
      kind: 's3',
      route: { format: 's3-ocsf' },
      input: {
        DeliveryStreamName: name,
        DeliveryStreamType: 'DirectPut',
        DeliveryStreamEncryptionConfigurationInput: streamEncryption(refs),
        ExtendedS3DestinationConfiguration: {
          RoleARN: refs.deliveryRoleArn,
          BucketARN: bucket,
          Prefix: firehoseOcsfPrefix(s3.prefix),
          ErrorOutputPrefix: firehoseErrorPrefix(`errors/${s3.prefix}`),
          BufferingHints: { IntervalInSeconds: s3.buffering.intervalSeconds, SizeInMBs: s3.buffering.sizeMiB },
          CompressionFormat: s3.compression,
          FileExtension: s3.compression === 'GZIP' ? '.ndjson.gz' : '.ndjson',
          EncryptionConfiguration: encryption(refs),
          DynamicPartitioningConfiguration: { Enabled: true, RetryOptions: { DurationInSeconds: 300 } },
          ProcessingConfiguration: processing(refs),
          ...logging(refs, name),
        },
      },
      metrics: metricsFor('s3'),
    });
  }
  if (s3 !== undefined && s3.layout === 'security-lake') {
    const lake = s3.securityLake;
    if (lake === undefined) throw new StreamConfigError('forwarding.destinations.s3.securityLake is required with layout security-lake');
    if (refs.glue === undefined) throw new StreamConfigError('the security-lake layout needs Glue tables for the Parquet conversion (refs.glue)');
    const glue = refs.glue;
    for (const source of securityLakeSources(lake, refs)) {
      const name = streamName(refs, `sl-${classSlug(source.classUid).replaceAll('_', '-')}`);
      // Outside ext/: Security Lake crawls the source's whole prefix, and error records are JSON, not its Parquet.
      const errors = securityLakeErrorPrefix(source.sourceName);
      specs.push({
        name,
        kind: 'security-lake',
        route: { format: 'security-lake', classUid: source.classUid },
        classUids: [source.classUid],
        input: {
          DeliveryStreamName: name,
          DeliveryStreamType: 'DirectPut',
          DeliveryStreamEncryptionConfigurationInput: streamEncryption(refs),
          ExtendedS3DestinationConfiguration: {
            RoleARN: refs.deliveryRoleArn,
            BucketARN: bucketArn(refs, lake.bucketName),
            Prefix: firehoseSecurityLakePrefix(source),
            ErrorOutputPrefix: firehoseErrorPrefix(errors),
            BufferingHints: { IntervalInSeconds: s3.buffering.intervalSeconds, SizeInMBs: s3.buffering.sizeMiB },
            // Parquet compresses itself; Firehose requires UNCOMPRESSED with format conversion.
            CompressionFormat: 'UNCOMPRESSED',
            FileExtension: '.parquet',
            DataFormatConversionConfiguration: {
              Enabled: true,
              InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: { CaseInsensitive: false } } },
              OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'SNAPPY' } } },
              SchemaConfiguration: {
                RoleARN: refs.deliveryRoleArn,
                CatalogId: refs.accountId,
                DatabaseName: glue.databaseName,
                TableName: glue.tableName(source.classUid),
                Region: refs.region,
                VersionId: 'LATEST',
              },
            },
            DynamicPartitioningConfiguration: { Enabled: true, RetryOptions: { DurationInSeconds: 300 } },
            ProcessingConfiguration: processing(refs),
            ...logging(refs, name),
          },
        },
        metrics: metricsFor('security-lake'),
      });
    }
  }
  return specs;
}

/** KITEWATCH_FORWARD_ROUTES of the transform function: stream name -> route. */
export function transformRoutes(specs: readonly DeliveryStreamSpec[]): Record<string, StreamRoute> {
  return Object.fromEntries(specs.map((s) => [s.name, s.route]));
}
