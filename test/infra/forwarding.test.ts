/**
 * The forwarding stack: Firehose delivery streams exactly as lib/forward/firehose-streams.ts
 * specifies them, their rules, alarms and roles, the backup and forwarding buckets in the
 * stateful stack, and the Security Hub forwarder.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForwardEnv, parseForwardEnv } from '../../lambdas/forward/env.ts';
import { SecurityHubEnv } from '../../lambdas/securityhub/env.ts';
import type { KitewatchConfigInput } from '../../lib/config/schema.ts';
import { transformRoutes } from '../../lib/forward/firehose-streams.ts';
import { firehoseOcsfPrefix } from '../../lib/forward/s3-layout.ts';
import { cdkPropertyName } from '../../lib/infra/delivery-stream.ts';
import { glueColumns } from '../../lib/forward/glue-schema.ts';
import { logStreamNames, type ForwardingStack } from '../../lib/infra/forwarding-stack.ts';
import { FeatureOffStack } from '../../lib/infra/feature-off-stack.ts';
import { ocsfClassSchema, SECURITY_LAKE_PARTITION_KEYS, type SecurityLakeTables } from '../../lib/infra/security-lake-tables.ts';
import { REPO_ROOT } from '../../lib/infra/kitewatch-function.ts';
import { LAKE_SOURCE_RESOURCE_TYPE } from '../../lib/infra/security-lake-sources.ts';
import { importOf, logicalId, synthKitewatch, TEST_ARNS, TEST_CONFIG, type Synthesized } from './support/synth.ts';
import { grants, inlineStatements, ref, resource, resourcesOfType, type Statement } from './support/template.ts';

const aws = TEST_CONFIG.aws;
const fwd = TEST_CONFIG.forwarding;
const STREAMS = ['kitewatch-fwd-splunk', 'kitewatch-fwd-http-datadog', 'kitewatch-fwd-s3'];

let s: Synthesized;
let stack: ForwardingStack;
let t: Template;
let ids: { key: string; bus: string; alarmTopic: string; backup: string; own: string; writer: string; transform: string; deliveryRole: string; eventsRole: string; dlq: string; errors: string };

beforeAll(() => {
  s = synthKitewatch(TEST_CONFIG, { bundle: false });
  stack = s.stacks.forwarding as ForwardingStack;
  t = s.forwarding as Template;
  const st = s.stacks.stateful;
  const must = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} missing`);
    return v;
  };
  ids = {
    key: logicalId(st.key),
    bus: logicalId(st.kitewatchBus),
    alarmTopic: logicalId(st.alarmTopic),
    backup: logicalId(must(st.forwardingBackupBucket, 'backup bucket')),
    own: logicalId(must(st.forwardingBucket, 'forwarding bucket')),
    writer: logicalId(must(st.forwardingWriterPolicy, 'writer policy')),
    transform: logicalId(must(stack.transform, 'transform').fn),
    deliveryRole: logicalId(must(stack.deliveryRole, 'delivery role')),
    eventsRole: logicalId(must(stack.eventsRole, 'events role')),
    dlq: logicalId(must(stack.ruleDeadLetters, 'rule DLQ').queue),
    errors: logicalId(must(stack.errorLogGroup, 'error log group')),
  };
});
afterAll(() => s?.cleanup());

function must<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`${what} missing`);
  return v;
}

const keyArn = (): unknown => importOf(s.stateful, ids.key, 'Arn');

describe('CloudFormation property names of the L1 delivery stream', () => {
  it.each([
    ['DeliveryStreamName', 'deliveryStreamName'],
    ['HECEndpoint', 'hecEndpoint'],
    ['HECAcknowledgmentTimeoutInSeconds', 'hecAcknowledgmentTimeoutInSeconds'],
    ['RoleARN', 'roleArn'],
    ['AWSKMSKeyARN', 'awskmsKeyArn'],
    ['KMSEncryptionConfig', 'kmsEncryptionConfig'],
    ['SizeInMBs', 'sizeInMBs'],
    ['S3BackupMode', 's3BackupMode'],
    ['OpenXJsonSerDe', 'openXJsonSerDe'],
    ['Url', 'url'],
  ])('%s -> %s', (cfn, cdk) => {
    expect(cdkPropertyName(cfn)).toBe(cdk);
  });
});

describe('delivery streams', () => {
  it('exist for the configured destinations only, in the spec order', () => {
    expect(stack.streams.map((x) => x.stream.spec.name)).toEqual(STREAMS);
    expect(resourcesOfType(t, 'AWS::KinesisFirehose::DeliveryStream')).toHaveLength(3);
  });

  it('render every property of their spec (nothing dropped by the L1 class)', () => {
    for (const { stream } of stack.streams) {
      const rendered = resource(t, logicalId(stream.resource)).Properties ?? {};
      const { Tags: _tags, ...props } = rendered;
      expect(props, stream.spec.name).toEqual(Stack.of(stream).resolve(stream.spec.input));
    }
  });

  it('encrypt records at rest with the key, and back up what they cannot deliver to the encrypted backup bucket', () => {
    for (const { stream } of stack.streams) {
      const p = resource(t, logicalId(stream.resource)).Properties ?? {};
      expect(p['DeliveryStreamEncryptionConfigurationInput']).toEqual({ KeyType: 'CUSTOMER_MANAGED_CMK', KeyARN: keyArn() });
      expect(p['DeliveryStreamType']).toBe('DirectPut');
    }
    const splunk = resource(t, logicalId(stack.streams[0]?.stream.resource ?? stack)).Properties?.['SplunkDestinationConfiguration'] as Record<string, unknown>;
    expect(splunk).toMatchObject({
      HECEndpoint: fwd.destinations.splunkHec.endpoint,
      S3BackupMode: 'FailedEventsOnly',
      SecretsManagerConfiguration: { Enabled: true, SecretARN: TEST_ARNS.splunkToken, RoleARN: { 'Fn::GetAtt': [ids.deliveryRole, 'Arn'] } },
      S3Configuration: {
        BucketARN: importOf(s.stateful, ids.backup, 'Arn'),
        Prefix: 'kitewatch-fwd-splunk/',
        EncryptionConfiguration: { KMSEncryptionConfig: { AWSKMSKeyARN: keyArn() } },
      },
    });
    expect(JSON.stringify(splunk)).not.toContain('HECToken');
    const http = resource(t, logicalId(stack.streams[1]?.stream.resource ?? stack)).Properties?.['HttpEndpointDestinationConfiguration'] as Record<string, unknown>;
    expect(http).toMatchObject({
      EndpointConfiguration: { Url: fwd.destinations.http[0]?.endpoint, Name: 'datadog' },
      S3BackupMode: 'FailedDataOnly',
      SecretsManagerConfiguration: { Enabled: true, SecretARN: TEST_ARNS.datadogKey },
      S3Configuration: { BucketARN: importOf(s.stateful, ids.backup, 'Arn'), EncryptionConfiguration: { KMSEncryptionConfig: { AWSKMSKeyARN: keyArn() } } },
    });
    expect(JSON.stringify(http)).not.toContain('AccessKey"');
  });

  it('write the ocsf layout to the forwarding bucket, partitioned by class and day, encrypted', () => {
    const s3 = resource(t, logicalId(stack.streams[2]?.stream.resource ?? stack)).Properties?.['ExtendedS3DestinationConfiguration'];
    expect(s3).toMatchObject({
      BucketARN: importOf(s.stateful, ids.own, 'Arn'),
      Prefix: firehoseOcsfPrefix('ocsf/'),
      DynamicPartitioningConfiguration: { Enabled: true },
      EncryptionConfiguration: { KMSEncryptionConfig: { AWSKMSKeyARN: keyArn() } },
      CompressionFormat: 'GZIP',
    });
    expect(firehoseOcsfPrefix('ocsf/')).toBe('ocsf/class=!{partitionKeyFromLambda:class}/eventDay=!{partitionKeyFromLambda:eventDay}/');
  });

  it('run every record through the one transform Lambda, whose routes name every stream', () => {
    for (const { stream } of stack.streams) {
      expect(JSON.stringify(resource(t, logicalId(stream.resource)).Properties)).toContain(JSON.stringify({ ParameterName: 'LambdaArn', ParameterValue: { 'Fn::GetAtt': [ids.transform, 'Arn'] } }));
    }
    const env = (resource(t, ids.transform).Properties?.['Environment'] as { Variables: Record<string, string> }).Variables;
    const routes = parseForwardEnv({ [ForwardEnv.routes]: env[ForwardEnv.routes] }).routes;
    expect(routes).toEqual(transformRoutes(stack.streams.map((x) => x.stream.spec)));
    expect(Object.keys(routes)).toEqual(STREAMS);
    expect(routes['kitewatch-fwd-splunk']).toEqual({ format: 'splunk-hec', index: 'buildkite', sourcetypePrefix: 'ocsf:' });
    expect(resource(t, ids.transform).Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], KmsKeyArn: keyArn() });
  });

  it('give the transform the state table, and let it only PutItem its uid claims there (encrypted with the key)', () => {
    const env = (resource(t, ids.transform).Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables;
    const table = logicalId(s.stacks.stateful.stateTable);
    expect(env[ForwardEnv.stateTable]).toEqual(importOf(s.stateful, table));
    const role = logicalId(must(stack.transform, 'transform').role);
    // Conditional: its own partition of the table (dynamodb:LeadingKeys), the key via DynamoDB only.
    const g = grants(inlineStatements(t, role), { conditional: true });
    expect(g['dynamodb:PutItem']).toEqual([ref(importOf(s.stateful, table, 'Arn'))]);
    expect(Object.keys(g).filter((a) => a.startsWith('dynamodb:'))).toEqual(['dynamodb:PutItem']);
    for (const a of ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']) expect(g[a]).toEqual([ref(keyArn())]);
  });

  it('log delivery errors to an encrypted log group, in log streams that exist', () => {
    expect(resource(t, ids.errors).Properties).toMatchObject({ KmsKeyId: keyArn(), RetentionInDays: aws.logRetentionDays });
    const created = resourcesOfType(t, 'AWS::Logs::LogStream')
      .map(([, r]) => r.Properties?.['LogStreamName'])
      .sort();
    expect(created).toEqual(stack.streams.flatMap((x) => logStreamNames(x.stream.spec.input)).sort());
    expect(created).toContain('kitewatch-fwd-splunk-backup');
  });
});

describe('rules to the streams (rules/ocsf-to-forwarding.json)', () => {
  const ruleFile = JSON.parse(readFileSync(join(REPO_ROOT, 'rules/ocsf-to-forwarding.json'), 'utf8')) as { eventPattern: unknown };

  it('send each OCSF event ($.detail) to each stream, with retries and a dead-letter queue', () => {
    for (const { stream, rule } of stack.streams) {
      expect(resource(t, logicalId(rule)).Properties).toMatchObject({
        EventBusName: importOf(s.stateful, ids.bus),
        EventPattern: ruleFile.eventPattern,
        Targets: [
          {
            Id: 'Target0',
            Arn: { 'Fn::GetAtt': [logicalId(stream.resource), 'Arn'] },
            RoleArn: { 'Fn::GetAtt': [ids.eventsRole, 'Arn'] },
            InputPath: '$.detail',
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': [ids.dlq, 'Arn'] } },
            RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
          },
        ],
      });
    }
  });

  it('may put records into the Kitewatch streams only', () => {
    const g = grants(inlineStatements(t, ids.eventsRole));
    const arns = stack.streams.map((x) => ref({ 'Fn::GetAtt': [logicalId(x.stream.resource), 'Arn'] })).sort();
    expect(g).toEqual({ 'firehose:PutRecord': arns, 'firehose:PutRecordBatch': arns });
  });

  it('let only these rules into the encrypted dead-letter queue, which alarms', () => {
    expect(resource(t, ids.dlq).Properties?.['KmsMasterKeyId']).toEqual(keyArn());
    const policy = resourcesOfType(t, 'AWS::SQS::QueuePolicy').find(([, p]) => JSON.stringify(p.Properties?.['Queues']) === JSON.stringify([{ Ref: ids.dlq }]));
    const allowed = ((policy?.[1].Properties?.['PolicyDocument'] as { Statement: Statement[] }).Statement ?? [])
      .filter((st) => st.Effect === 'Allow')
      .map((st) => (st.Condition as { ArnEquals: Record<string, unknown> }).ArnEquals['aws:SourceArn']);
    expect(allowed).toEqual(stack.streams.map((x) => ({ 'Fn::GetAtt': [logicalId(x.rule), 'Arn'] })));
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ids.dlq, 'QueueName'] } }],
      Threshold: 1,
      AlarmActions: [importOf(s.stateful, ids.alarmTopic)],
    });
  });
});

describe('delivery alarms', () => {
  it('alarm on failed deliveries, stale records and backups, for every stream', () => {
    for (const { stream, alarms } of stack.streams) {
      const props = alarms.map((a) => resource(t, logicalId(a)).Properties ?? {});
      for (const p of props) {
        expect(p['Dimensions']).toEqual([{ Name: 'DeliveryStreamName', Value: stream.spec.name }]);
        expect(p['AlarmActions']).toEqual([importOf(s.stateful, ids.alarmTopic)]);
      }
      expect(props).toContainEqual(expect.objectContaining({ MetricName: stream.spec.metrics.success.metricName, ComparisonOperator: 'LessThanThreshold', Threshold: 1, EvaluationPeriods: 3 }));
      expect(props).toContainEqual(expect.objectContaining({ MetricName: stream.spec.metrics.freshness.metricName, Threshold: fwd.alarmFreshnessSeconds }));
      if (stream.spec.kind !== 's3') expect(props).toContainEqual(expect.objectContaining({ MetricName: 'BackupToS3.Records', Threshold: 1 }));
    }
  });

  it('alarm when the transform fails records', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Kitewatch',
      MetricName: 'ForwardRecordsFailed',
      Dimensions: [{ Name: 'service', Value: 'forward' }],
      Threshold: 1,
    });
  });
});

describe('Firehose delivery role (least privilege)', () => {
  it('is assumable by Firehose of this account only, and writes buckets through the stateful policy', () => {
    const role = resource(t, ids.deliveryRole).Properties ?? {};
    expect(role['AssumeRolePolicyDocument']).toMatchObject({
      Statement: [expect.objectContaining({ Principal: { Service: 'firehose.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': aws.account } } })],
    });
    expect(role['ManagedPolicyArns']).toEqual([importOf(s.stateful, ids.writer)]);
  });

  it('invokes the transform, reads the two destination secrets and writes the error log, nothing else', () => {
    const g = grants(inlineStatements(t, ids.deliveryRole));
    expect(g).toEqual({
      'lambda:GetFunctionConfiguration': [ref({ 'Fn::GetAtt': [ids.transform, 'Arn'] })],
      'lambda:InvokeFunction': [ref({ 'Fn::GetAtt': [ids.transform, 'Arn'] })],
      'logs:PutLogEvents': [ref({ 'Fn::GetAtt': [ids.errors, 'Arn'] })],
      // The Datadog ARN is partial in the config: IAM gets the suffix wildcard Secrets Manager appends.
      'secretsmanager:GetSecretValue': [`${TEST_ARNS.datadogKey}-??????`, TEST_ARNS.splunkToken].sort(),
    });
  });

  it("writes only under the streams' prefixes, and uses the key only through S3", () => {
    const writer = resource(s.stateful, ids.writer).Properties?.['PolicyDocument'] as { Statement: Statement[] };
    const objects = (bucket: string, key: string): string => ref({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, `/${key}`]] });
    expect(grants(writer.Statement)['s3:PutObject']).toEqual([objects(ids.backup, 'kitewatch-fwd-*'), objects(ids.own, 'ocsf/*'), objects(ids.own, 'errors/ocsf/*')].sort());
    expect(grants(writer.Statement)['s3:ListBucket']).toEqual([ref({ 'Fn::GetAtt': [ids.backup, 'Arn'] }), ref({ 'Fn::GetAtt': [ids.own, 'Arn'] })].sort());
    expect(grants(writer.Statement, { conditional: true })).toEqual({
      'kms:Decrypt': [ref({ 'Fn::GetAtt': [ids.key, 'Arn'] })],
      'kms:GenerateDataKey': [ref({ 'Fn::GetAtt': [ids.key, 'Arn'] })],
    });
    expect(writer.Statement.find((st) => st.Sid === 'FirehoseObjectEncryption')?.Condition).toEqual({ StringEquals: { 'kms:ViaService': `s3.${aws.region}.amazonaws.com` } });
  });
});

describe('forwarding buckets (stateful stack)', () => {
  it('encrypt with the key, version, log access, block public access and expire backups after backupRetentionDays', () => {
    for (const id of [ids.backup, ids.own]) {
      expect(resource(s.stateful, id).Properties).toMatchObject({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [ids.key, 'Arn'] } }, BucketKeyEnabled: true }],
        },
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LoggingConfiguration: { DestinationBucketName: { Ref: logicalId(s.stacks.stateful.accessLogBucket) } },
      });
      expect(resource(s.stateful, id).DeletionPolicy).toBe('Retain');
    }
    expect(resource(s.stateful, ids.backup).Properties?.['LifecycleConfiguration']).toMatchObject({
      Rules: [expect.objectContaining({ ExpirationInDays: fwd.backupRetentionDays, Status: 'Enabled' })],
    });
  });
});

describe('Security Hub forwarder (rules/findings-to-securityhub.json)', () => {
  it("imports findings into this account's own product only", () => {
    const hub = stack.securityHub;
    if (hub === undefined) throw new Error('no Security Hub forwarder');
    const g = grants(inlineStatements(t, logicalId(hub.fn.role)));
    expect(g['securityhub:BatchImportFindings']).toEqual([`arn:aws:securityhub:${aws.region}:${aws.account}:product/${aws.account}/default`]);
    expect(Object.keys(g).filter((a) => a.startsWith('securityhub:'))).toEqual(['securityhub:BatchImportFindings']);
    const env = (resource(t, logicalId(hub.fn.fn)).Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables;
    expect(env[SecurityHubEnv.accountId]).toBe(aws.account);
    expect(env[SecurityHubEnv.region]).toBeUndefined();
  });

  it('reads findings only, in the configured batches, from an encrypted queue with DLQ and alarm', () => {
    const hub = stack.securityHub;
    if (hub === undefined) throw new Error('no Security Hub forwarder');
    const ruleFile = JSON.parse(readFileSync(join(REPO_ROOT, 'rules/findings-to-securityhub.json'), 'utf8')) as { eventPattern: unknown };
    expect(resource(t, logicalId(hub.route.rule)).Properties?.['EventPattern']).toEqual(ruleFile.eventPattern);
    expect(resource(t, logicalId(hub.route.queue)).Properties?.['KmsMasterKeyId']).toEqual(keyArn());
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(hub.route.queue), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: fwd.destinations.securityHub.batchSize,
      MaximumBatchingWindowInSeconds: fwd.destinations.securityHub.maxBatchingWindowSeconds,
    });
  });
});

describe('other forwarding configurations', () => {
  const variant = (forwarding: KitewatchConfigInput['forwarding']): KitewatchConfigInput => ({ ...TEST_CONFIG, forwarding });

  it('an existing bucket: no forwarding bucket of our own; the role writes its ocsf prefix only', () => {
    const ext = synthKitewatch(variant({ destinations: { s3: { bucketName: 'acme-siem-archive', prefix: 'kitewatch/' }, securityHub: { enabled: true, region: 'eu-central-1' } } }), { bundle: false });
    try {
      const fs = ext.stacks.forwarding as ForwardingStack;
      expect(JSON.stringify(resource(ext.stateful, logicalId(ext.stacks.stateful.forwardingWriterPolicy)).Properties)).not.toContain(logicalId(ext.stacks.stateful.forwardingBucket));
      const g = grants(inlineStatements(ext.forwarding as Template, logicalId(fs.deliveryRole ?? fs)));
      expect(g['s3:PutObject']).toEqual(['arn:aws:s3:::acme-siem-archive/errors/kitewatch/*', 'arn:aws:s3:::acme-siem-archive/kitewatch/*']);
      expect(g['s3:ListBucket']).toBeUndefined();
      const list = inlineStatements(ext.forwarding, logicalId(fs.deliveryRole ?? fs)).filter((st) => st.Sid === 'ExternalBucketList');
      expect(list).toEqual([
        expect.objectContaining({ Action: 's3:ListBucket', Resource: 'arn:aws:s3:::acme-siem-archive', Condition: { StringLike: { 's3:prefix': ['kitewatch/*', 'errors/kitewatch/*'] } } }),
      ]);
      expect(g['secretsmanager:GetSecretValue']).toBeUndefined();
      const hub = grants(inlineStatements(ext.forwarding as Template, logicalId(fs.securityHub?.fn.role ?? fs)));
      expect(hub['securityhub:BatchImportFindings']).toEqual([`arn:aws:securityhub:eu-central-1:${aws.account}:product/${aws.account}/default`]);
    } finally {
      ext.cleanup();
    }
  });

  it('Security Hub only: no streams, no delivery role (the backup bucket stays in the stateful stack)', () => {
    const hubOnly = synthKitewatch(variant({ destinations: { securityHub: { enabled: true } } }), { bundle: false });
    try {
      expect((hubOnly.stacks.forwarding as ForwardingStack).streams).toEqual([]);
      expect((hubOnly.stacks.forwarding as ForwardingStack).deliveryRole).toBeUndefined();
      expect(resourcesOfType(hubOnly.forwarding, 'AWS::KinesisFirehose::DeliveryStream')).toEqual([]);
    } finally {
      hubOnly.cleanup();
    }
  });

  it('no destination: a forwarding stack with nothing that forwards, and the same stateful buckets', () => {
    const none = synthKitewatch(variant({}), { bundle: false });
    try {
      expect(none.stacks.forwarding).toBeInstanceOf(FeatureOffStack);
      expect(Object.values(none.forwarding.toJSON().Resources as Record<string, { Type: string }>).map((r) => r.Type)).toEqual(['AWS::SSM::Parameter']);
      // quarantine, access logs, forwarding backup, own forwarding bucket: as with every destination.
      expect(resourcesOfType(none.stateful, 'AWS::S3::Bucket')).toHaveLength(4);
    } finally {
      none.cleanup();
    }
  });
});

describe('security-lake layout (Glue tables for the Parquet conversion)', () => {
  const LAKE_BUCKET = 'aws-security-data-lake-eu-west-1-abc';
  const DB = 'kitewatch_security_lake';
  const lakeConfig = (classes?: number[]): KitewatchConfigInput => ({
    ...TEST_CONFIG,
    forwarding: {
      destinations: {
        s3: {
          layout: 'security-lake',
          securityLake: { bucketName: LAKE_BUCKET, sourceNames: { '2004': 'bk-findings' }, ...(classes === undefined ? {} : { classes: classes as never }) },
        },
      },
    },
  });
  let lake: Synthesized;
  let fs: ForwardingStack;
  let lt: Template;
  let tables: SecurityLakeTables;
  beforeAll(() => {
    lake = synthKitewatch(lakeConfig([6003, 2004]), { bundle: false });
    fs = lake.stacks.forwarding as ForwardingStack;
    lt = lake.forwarding as Template;
    if (fs.securityLakeTables === undefined) throw new Error('no Security Lake tables');
    tables = fs.securityLakeTables;
  });
  afterAll(() => lake?.cleanup());

  it('plans streams and tables, and no bucket of its own', () => {
    expect(fs.plan).toMatchObject({ firehose: true, securityLake: true, ownBucket: false });
    expect(JSON.stringify(resource(lake.stateful, logicalId(lake.stacks.stateful.forwardingWriterPolicy)).Properties)).not.toContain(logicalId(lake.stacks.stateful.forwardingBucket));
    expect(fs.streams.map((x) => x.stream.spec.name)).toEqual(['kitewatch-fwd-sl-api-activity', 'kitewatch-fwd-sl-detection-finding']);
  });

  it('creates one database and one Parquet table per class, with the columns of its OCSF schema, at its custom source prefix', () => {
    expect(resourcesOfType(lt, 'AWS::Glue::Database').map(([, r]) => r.Properties?.['DatabaseInput'])).toEqual([expect.objectContaining({ Name: DB })]);
    const byName = Object.fromEntries(resourcesOfType(lt, 'AWS::Glue::Table').map(([, r]) => [(r.Properties?.['TableInput'] as { Name: string }).Name, r.Properties ?? {}]));
    expect(Object.keys(byName).sort()).toEqual(['api_activity', 'detection_finding']);
    for (const [name, classUid, source] of [
      ['api_activity', 6003, 'kw-api'],
      ['detection_finding', 2004, 'bk-findings'],
    ] as const) {
      const props = byName[name] ?? {};
      expect(props['CatalogId']).toBe(aws.account);
      expect(props['DatabaseName']).toEqual({ Ref: logicalId(tables.database) });
      expect(props['TableInput']).toMatchObject({
        TableType: 'EXTERNAL_TABLE',
        Parameters: { classification: 'parquet', 'ocsf.class_uid': String(classUid) },
        PartitionKeys: [...SECURITY_LAKE_PARTITION_KEYS].map((k) => ({ Name: k.name, Type: k.type })),
        StorageDescriptor: {
          Location: `s3://${LAKE_BUCKET}/ext/${source}/`,
          InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
          Columns: glueColumns(ocsfClassSchema(classUid)).map((c) => ({ Name: c.name, Type: c.type })),
        },
      });
    }
    t.resourceCountIs('AWS::Glue::Table', 0);
  });

  it("converts each stream's records with its own class's table, created before the stream", () => {
    for (const [i, table] of ['api_activity', 'detection_finding'].entries()) {
      const stream = fs.streams[i]?.stream;
      if (stream === undefined) throw new Error(`stream ${i} missing`);
      const r = resource(lt, logicalId(stream.resource));
      const { Tags: _tags, ...props } = r.Properties ?? {};
      expect(props, stream.spec.name).toEqual(Stack.of(stream).resolve(stream.spec.input));
      expect((props['ExtendedS3DestinationConfiguration'] as Record<string, unknown>)['DataFormatConversionConfiguration']).toEqual({
        Enabled: true,
        InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: { CaseInsensitive: false } } },
        OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'SNAPPY' } } },
        SchemaConfiguration: {
          RoleARN: { 'Fn::GetAtt': [logicalId(fs.deliveryRole ?? fs), 'Arn'] },
          CatalogId: aws.account,
          DatabaseName: DB,
          TableName: table,
          Region: aws.region,
          VersionId: 'LATEST',
        },
      });
      const tableId = logicalId(tables.tables.get(i === 0 ? 6003 : 2004) ?? tables);
      expect([r.DependsOn ?? []].flat()).toEqual(expect.arrayContaining([tableId, logicalId(tables.database)]));
    }
  });

  it('lets Firehose read exactly those tables, their database and the catalog, and write only the custom source prefixes', () => {
    const g = grants(inlineStatements(lt, logicalId(fs.deliveryRole ?? fs)));
    const glueArn = (resource: string): string => `arn:aws:glue:${aws.region}:${aws.account}:${resource}`;
    const glueResources = [glueArn('catalog'), glueArn(`database/${DB}`), glueArn(`table/${DB}/api_activity`), glueArn(`table/${DB}/detection_finding`)].sort();
    expect(Object.fromEntries(Object.entries(g).filter(([a]) => a.startsWith('glue:')))).toEqual({
      'glue:GetTable': glueResources,
      'glue:GetTableVersion': glueResources,
      'glue:GetTableVersions': glueResources,
    });
    expect(JSON.stringify(g)).not.toMatch(/glue:[^"]*:\*|table\/\*|database\/\*/);
    expect(g['s3:PutObject']).toEqual(
      [
        `arn:aws:s3:::${LAKE_BUCKET}/ext/bk-findings/*`,
        `arn:aws:s3:::${LAKE_BUCKET}/ext/kw-api/*`,
        `arn:aws:s3:::${LAKE_BUCKET}/kitewatch-errors/bk-findings/*`,
        `arn:aws:s3:::${LAKE_BUCKET}/kitewatch-errors/kw-api/*`,
      ].sort(),
    );
    // The lake bucket holds every source's data: Kitewatch lists its own source prefixes only.
    expect(g['s3:ListBucket']).toBeUndefined();
    const list = inlineStatements(lt, logicalId(fs.deliveryRole ?? fs)).filter((st) => (Array.isArray(st.Action) ? st.Action : [st.Action]).includes('s3:ListBucket'));
    expect(list).toEqual([
      expect.objectContaining({
        Action: 's3:ListBucket',
        Resource: `arn:aws:s3:::${LAKE_BUCKET}`,
        Condition: { StringLike: { 's3:prefix': expect.arrayContaining(['ext/bk-findings/*', 'ext/kw-api/*']) as unknown } },
      }),
    ]);
  });

  it('puts the records Firehose could not convert outside ext/, the tree Security Lake crawls', () => {
    for (const x of fs.streams) {
      const dest = x.stream.spec.input['ExtendedS3DestinationConfiguration'] as { Prefix: string; ErrorOutputPrefix: string };
      expect(dest.Prefix.startsWith('ext/')).toBe(true);
      expect(dest.ErrorOutputPrefix.startsWith('kitewatch-errors/')).toBe(true);
    }
  });

  it('registers one custom source per class through a Lambda-backed custom resource (CloudFormation has no type for it)', () => {
    const reg = must(fs.securityLakeSources, 'Security Lake sources');
    const fnId = logicalId(reg.fn.fn);
    const sources = resourcesOfType(lt, LAKE_SOURCE_RESOURCE_TYPE);
    expect(sources.map(([, r]) => r.Properties).sort((a, b) => String(a?.['SourceName']).localeCompare(String(b?.['SourceName'])))).toEqual([
      {
        ServiceToken: { 'Fn::GetAtt': [fnId, 'Arn'] },
        SourceName: 'bk-findings',
        EventClasses: [],
        CrawlerRoleArn: { 'Fn::GetAtt': [logicalId(reg.crawlerRole), 'Arn'] },
        ProviderPrincipal: aws.account,
        ExternalId: 'kitewatch',
      },
      {
        ServiceToken: { 'Fn::GetAtt': [fnId, 'Arn'] },
        SourceName: 'kw-api',
        EventClasses: ['API_ACTIVITY'],
        CrawlerRoleArn: { 'Fn::GetAtt': [logicalId(reg.crawlerRole), 'Arn'] },
        ProviderPrincipal: aws.account,
        ExternalId: 'kitewatch',
      },
    ]);
    // The policies exist before Security Lake is called; the streams come after their sources.
    for (const [, r] of sources) expect([r.DependsOn ?? []].flat()).toEqual(expect.arrayContaining([logicalId(reg.fn.role), logicalId(reg.crawlerRole)]));
    for (const x of fs.streams) expect([resource(lt, logicalId(x.stream)).DependsOn ?? []].flat()).toEqual(expect.arrayContaining(sources.map(([id]) => id)));
    expect(resource(lt, fnId).Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler' });
  });

  it('gives the registration function what the Security Lake guide lists for adding a custom source, scoped to these sources', () => {
    const reg = must(fs.securityLakeSources, 'Security Lake sources');
    const statements = inlineStatements(lt, logicalId(reg.fn.role));
    const glue = (r: string): string => `arn:aws:glue:${aws.region}:${aws.account}:${r}`;
    const lakeDb = `amazon_security_lake_glue_db_${aws.region.replaceAll('-', '_')}`;
    const g = grants(statements);
    expect(Object.fromEntries(Object.entries(g).filter(([a]) => !a.startsWith('logs:') && !a.startsWith('xray:')))).toEqual({
      'securitylake:CreateCustomLogSource': [`arn:aws:securitylake:${aws.region}:${aws.account}:data-lake/default`],
      'securitylake:DeleteCustomLogSource': [`arn:aws:securitylake:${aws.region}:${aws.account}:data-lake/default`],
      'securitylake:ListLogSources': ['*'],
      'iam:GetRole': [
        JSON.stringify({ 'Fn::GetAtt': [logicalId(reg.crawlerRole), 'Arn'] }),
        `arn:aws:iam::${aws.account}:role/AmazonSecurityLake-Provider-bk-findings-${aws.region}`,
        `arn:aws:iam::${aws.account}:role/AmazonSecurityLake-Provider-kw-api-${aws.region}`,
      ].sort(),
      'iam:PutRolePolicy': [
        `arn:aws:iam::${aws.account}:role/AmazonSecurityLake-Provider-bk-findings-${aws.region}`,
        `arn:aws:iam::${aws.account}:role/AmazonSecurityLake-Provider-kw-api-${aws.region}`,
      ],
      'iam:DeleteRolePolicy': [
        `arn:aws:iam::${aws.account}:role/AmazonSecurityLake-Provider-bk-findings-${aws.region}`,
        `arn:aws:iam::${aws.account}:role/AmazonSecurityLake-Provider-kw-api-${aws.region}`,
      ],
      'glue:CreateDatabase': [glue('catalog'), glue(`database/${lakeDb}`), glue(`table/${lakeDb}/*`)].sort(),
      'glue:CreateTable': [glue('catalog'), glue(`database/${lakeDb}`), glue(`table/${lakeDb}/*`)].sort(),
      'glue:CreateCrawler': [glue('crawler/*')],
      'glue:StopCrawlerSchedule': [glue('crawler/*')],
      'lakeformation:RegisterResource': ['*'],
      'lakeformation:GrantPermissions': ['*'],
      's3:PutObject': [`arn:aws:s3:::${LAKE_BUCKET}/ext/bk-findings/*`, `arn:aws:s3:::${LAKE_BUCKET}/ext/kw-api/*`],
    });
    // Conditional: PassRole of the crawler role to Glue only; ListBucket of the source prefixes only.
    expect(statements.filter((st) => st.Condition !== undefined)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: 'iam:PassRole',
          Resource: { 'Fn::GetAtt': [logicalId(reg.crawlerRole), 'Arn'] },
          Condition: { StringEquals: { 'iam:PassedToService': 'glue.amazonaws.com' } },
        }),
        expect.objectContaining({ Action: 's3:ListBucket', Resource: `arn:aws:s3:::${LAKE_BUCKET}`, Condition: { StringLike: { 's3:prefix': ['ext/kw-api/*', 'ext/bk-findings/*'] } } }),
      ]),
    );
    const crawler = resource(lt, logicalId(reg.crawlerRole)).Properties ?? {};
    expect(JSON.stringify(crawler['AssumeRolePolicyDocument'])).toContain('glue.amazonaws.com');
    expect(JSON.stringify(crawler['ManagedPolicyArns'])).toContain('service-role/AWSGlueServiceRole');
    expect(grants(inlineStatements(lt, logicalId(reg.crawlerRole)))).toEqual({
      's3:GetObject': [`arn:aws:s3:::${LAKE_BUCKET}/ext/bk-findings/*`, `arn:aws:s3:::${LAKE_BUCKET}/ext/kw-api/*`],
      's3:PutObject': [`arn:aws:s3:::${LAKE_BUCKET}/ext/bk-findings/*`, `arn:aws:s3:::${LAKE_BUCKET}/ext/kw-api/*`],
    });
  });

  it('warns at synth about classes Security Lake does not list and about the OCSF version', () => {
    const warnings = Annotations.fromStack(fs)
      .findWarning('*', Match.anyValue())
      .map((w) => JSON.stringify(w.entry.data));
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /securityLake\.classes: 2004 \(detection_finding\) is not in Security Lake's documented list of custom source event classes; its source is registered without eventClasses/,
        ),
        expect.stringMatching(/Security Lake documents OCSF 1\.3 and earlier for custom sources; Kitewatch writes OCSF 1\.8\.0/),
      ]),
    );
  });

  it('a KMS-encrypted lake: the delivery, crawler and registration roles get the key, through S3 for the lake bucket only', () => {
    const input = lakeConfig([6003]);
    const s3 = (input.forwarding as { destinations: { s3: { securityLake: Record<string, unknown> } } }).destinations.s3;
    s3.securityLake = { ...s3.securityLake, kmsKeyArn: TEST_ARNS.lakeKey };
    const keyed = synthKitewatch(input, { bundle: false });
    try {
      const kf = keyed.stacks.forwarding as ForwardingStack;
      const kt = keyed.forwarding as Template;
      const reg = must(kf.securityLakeSources, 'Security Lake sources');
      const viaBucket = { StringLike: { 'kms:EncryptionContext:aws:s3:arn': [`arn:aws:s3:::${LAKE_BUCKET}`, `arn:aws:s3:::${LAKE_BUCKET}/*`] } };
      for (const roleId of [logicalId(must(kf.deliveryRole, 'delivery role')), logicalId(reg.crawlerRole)]) {
        expect(inlineStatements(kt, roleId).filter((st) => JSON.stringify(st.Action).includes('kms:'))).toEqual([
          expect.objectContaining({ Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: TEST_ARNS.lakeKey, Condition: viaBucket }),
        ]);
      }
      expect(Object.fromEntries(Object.entries(grants(inlineStatements(kt, logicalId(reg.fn.role)))).filter(([a]) => a.startsWith('kms:')))).toEqual(
        expect.objectContaining({ 'kms:CreateGrant': [TEST_ARNS.lakeKey], 'kms:DescribeKey': [TEST_ARNS.lakeKey], 'kms:GenerateDataKey': [TEST_ARNS.lakeKey] }),
      );
    } finally {
      keyed.cleanup();
    }
  });

  it('refuses to register sources for a lake in another Region than the stack', () => {
    const input = lakeConfig([6003]);
    const s3 = (input.forwarding as { destinations: { s3: { securityLake: Record<string, unknown> } } }).destinations.s3;
    s3.securityLake = { ...s3.securityLake, region: 'us-east-1' };
    expect(() => synthKitewatch(input, { bundle: false })).toThrow(/securityLake\.region is us-east-1, but the stack deploys to eu-west-1.*set securityLake\.register to false/);
  });

  it('registers nothing with securityLake.register false (the lake lives in another account or Region)', () => {
    const input = lakeConfig([6003]);
    const s3 = (input.forwarding as { destinations: { s3: { securityLake: Record<string, unknown> } } }).destinations.s3;
    s3.securityLake = { ...s3.securityLake, register: false };
    const off = synthKitewatch(input, { bundle: false });
    try {
      expect(resourcesOfType(off.forwarding as Template, LAKE_SOURCE_RESOURCE_TYPE)).toEqual([]);
      expect((off.stacks.forwarding as ForwardingStack).securityLakeSources).toBeUndefined();
    } finally {
      off.cleanup();
    }
  });

  it('all eight forwarded classes fit in a template CloudFormation accepts', () => {
    const all = synthKitewatch(lakeConfig(), { bundle: false });
    try {
      const template = JSON.stringify((all.forwarding as Template).toJSON());
      expect(resourcesOfType(all.forwarding as Template, 'AWS::Glue::Table')).toHaveLength(8);
      // CloudFormation's limit for a template uploaded to S3, as cdk deploy does.
      expect(template.length).toBeLessThan(1_000_000);
    } finally {
      all.cleanup();
    }
  });
});
