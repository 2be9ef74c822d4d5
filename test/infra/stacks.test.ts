/**
 * Fine-grained template assertions: every security property the issue names, checked on the
 * resource it belongs to, with the values from the test config (not the defaults).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NormalizeEnv } from '../../lambdas/normalize/env.ts';
import { METRICS_NAMESPACE, PowertoolsEnv, QUARANTINE_PREFIX } from '../../lambdas/shared/env.ts';
import { APPROVAL_REQUESTED_DETAIL_TYPE } from '../../lib/containment/approval.ts';
import { REPO_ROOT } from '../../lib/infra/kitewatch-function.ts';
import { STATE_TABLE } from '../../lib/infra/stateful-stack.ts';
import { importOf, logicalId, PARTNER_BUS, synthKitewatch, TEST_CONFIG, type Synthesized } from './support/synth.ts';

const aws = TEST_CONFIG.aws;
const n = aws.normalizer;

interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
}

function resourcesOf(template: Template): Record<string, Resource> {
  return template.toJSON()['Resources'] as Record<string, Resource>;
}

function onlyResource(template: Template, type: string, props: Record<string, unknown> = {}): [string, Resource] {
  const found = Object.entries(template.findResources(type, props.Properties === undefined ? {} : props)) as [string, Resource][];
  expect(found, `exactly one ${type}`).toHaveLength(1);
  return found[0] as [string, Resource];
}

let s: Synthesized;
let ids: {
  key: string;
  kitewatchBus: string;
  quarantineBucket: string;
  accessLogBucket: string;
  alarmTopic: string;
  queue: string;
  dlq: string;
  fn: string;
  role: string;
  logGroup: string;
  rule: string;
  writerPolicy: string;
};

beforeAll(() => {
  s = synthKitewatch(TEST_CONFIG, { bundle: false });
  const { stateful, pipeline } = s.stacks;
  ids = {
    key: logicalId(stateful.key),
    kitewatchBus: logicalId(stateful.kitewatchBus),
    quarantineBucket: logicalId(stateful.quarantineBucket),
    accessLogBucket: logicalId(stateful.accessLogBucket),
    alarmTopic: logicalId(stateful.alarmTopic),
    writerPolicy: logicalId(stateful.quarantineWriterPolicy),
    queue: logicalId(pipeline.ingest.queue),
    dlq: logicalId(pipeline.ingest.deadLetterQueue),
    fn: logicalId(pipeline.normalizer.fn),
    role: logicalId(pipeline.normalizer.role),
    logGroup: logicalId(pipeline.normalizer.logGroup),
    rule: logicalId(pipeline.ingest.rule),
  };
});
afterAll(() => s?.cleanup());

const keyArnImport = (): unknown => importOf(s.stateful, ids.key, 'Arn');

describe('KMS key', () => {
  it('rotates and is retained', () => {
    s.stateful.hasResource('AWS::KMS::Key', {
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('lets CloudWatch Logs use it only for log groups of this account and region', () => {
    s.stateful.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: `logs.${aws.region}.amazonaws.com` },
            Condition: {
              ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${aws.region}:${aws.account}:log-group:*` },
            },
          }),
        ]),
      },
    });
  });

  it('lets EventBridge use it only through SQS for queues of this account (queue targets) or for the Kitewatch bus', () => {
    const [, key] = onlyResource(s.stateful, 'AWS::KMS::Key');
    const statements = (key.Properties?.['KeyPolicy'] as { Statement: { Principal?: { Service?: string }; Action: string | string[]; Condition?: unknown }[] }).Statement;
    const forEvents = statements.filter((st) => st.Principal?.Service === 'events.amazonaws.com');
    expect(forEvents.length).toBeGreaterThan(0);
    for (const st of forEvents) {
      const condition = JSON.stringify(st.Condition ?? {});
      // DescribeKey alone reveals key metadata, no data; everything else must be scoped.
      const describeOnly = JSON.stringify(st.Action) === JSON.stringify('kms:DescribeKey');
      const scoped =
        (condition.includes('"kms:ViaService":"sqs.') && condition.includes(`"kms:EncryptionContext:aws:sqs:arn":"arn:aws:sqs:${aws.region}:${aws.account}:*"`)) ||
        condition.includes('aws:SourceAccount') ||
        condition.includes('kms:EncryptionContext:aws:events:event-bus:arn');
      expect(scoped || describeOnly, JSON.stringify(st)).toBe(true);
    }
  });
});

describe('SQS: ingest queue and its DLQ', () => {
  it('encrypts both queues with the key', () => {
    for (const id of [ids.queue, ids.dlq]) {
      const queue = resourcesOf(s.pipeline)[id] as Resource;
      expect(queue.Properties?.['KmsMasterKeyId']).toEqual(keyArnImport());
    }
  });

  it('redrives to the DLQ after maxReceiveCount receives', () => {
    s.pipeline.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [ids.dlq, 'Arn'] }, maxReceiveCount: aws.maxReceiveCount },
    });
  });

  it('sets the visibility timeout to six times the function timeout plus the batching window', () => {
    const queue = resourcesOf(s.pipeline)[ids.queue] as Resource;
    expect(queue.Properties?.['VisibilityTimeout']).toBe(6 * n.timeoutSeconds + n.maxBatchingWindowSeconds);
  });

  it('keeps dead letters for the 14-day maximum', () => {
    const dlq = resourcesOf(s.pipeline)[ids.dlq] as Resource;
    expect(dlq.Properties?.['MessageRetentionPeriod']).toBe(14 * 24 * 3600);
  });

  it('denies every non-TLS request on both queues', () => {
    for (const id of [ids.queue, ids.dlq]) {
      s.pipeline.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('alarms (to the alarm topic) as soon as one message is in the DLQ', () => {
    s.pipeline.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ids.dlq, 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [importOf(s.stateful, ids.alarmTopic)],
    });
  });
});

describe('EventBridge rule from rules/buildkite-ingest.json', () => {
  const ruleFile = JSON.parse(readFileSync(join(REPO_ROOT, 'rules/buildkite-ingest.json'), 'utf8')) as { eventPattern: unknown };

  it('sits on the configured partner bus and deploys the file pattern verbatim', () => {
    const rule = resourcesOf(s.pipeline)[ids.rule] as Resource;
    expect(rule.Properties?.['EventBusName']).toBe(PARTNER_BUS);
    expect(rule.Properties?.['EventPattern']).toEqual(ruleFile.eventPattern);
  });

  it('targets the ingest queue, with retries and the DLQ for undeliverable events', () => {
    s.pipeline.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [ids.queue, 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [ids.dlq, 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
        }),
      ],
    });
  });

  it('lets only its own rule send to the queue', () => {
    s.pipeline.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: ids.queue }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [logicalId(s.stacks.pipeline.ingest.rule), 'Arn'] } } },
          }),
        ]),
      },
    });
  });
});

describe('normalizer Lambda', () => {
  let fn: Resource;
  beforeAll(() => {
    fn = resourcesOf(s.pipeline)[ids.fn] as Resource;
  });

  it('runs Node.js 24 on arm64 with explicit memory, timeout and reserved concurrency', () => {
    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: n.memoryMiB,
      Timeout: n.timeoutSeconds,
      ReservedConcurrentExecutions: aws.reservedConcurrency,
      TracingConfig: { Mode: 'Active' },
      Handler: 'index.handler',
    });
  });

  it('encrypts its environment with the key and sets the variables env.ts declares', () => {
    expect(fn.Properties?.['KmsKeyArn']).toEqual(keyArnImport());
    expect(fn.Properties?.['Environment']).toEqual({
      Variables: {
        [PowertoolsEnv.serviceName]: 'normalize',
        [PowertoolsEnv.metricsNamespace]: METRICS_NAMESPACE,
        [PowertoolsEnv.logLevel]: 'INFO',
        [NormalizeEnv.eventBusName]: importOf(s.stateful, ids.kitewatchBus),
        [NormalizeEnv.quarantineBucket]: importOf(s.stateful, ids.quarantineBucket),
        [NormalizeEnv.expectedSource]: PARTNER_BUS,
      },
    });
  });

  it('logs to its own KMS-encrypted log group with the configured retention', () => {
    expect(fn.Properties?.['LoggingConfig']).toEqual({ LogGroup: { Ref: ids.logGroup } });
    const logGroup = resourcesOf(s.pipeline)[ids.logGroup] as Resource;
    expect(logGroup.Properties).toMatchObject({ RetentionInDays: aws.logRetentionDays, KmsKeyId: keyArnImport() });
  });

  it('reads the queue in batches and reports partial batch failures', () => {
    s.pipeline.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [ids.queue, 'Arn'] },
      FunctionName: { Ref: ids.fn },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: n.batchSize,
      MaximumBatchingWindowInSeconds: n.maxBatchingWindowSeconds,
      // Pollers beyond the reserved concurrency would be throttled into the DLQ.
      ScalingConfig: { MaximumConcurrency: aws.reservedConcurrency },
    });
  });
});

describe('normalizer permissions (least privilege)', () => {
  interface Statement {
    Effect: string;
    Action: string | string[];
    Resource: unknown;
    Condition?: unknown;
  }
  const actions = (st: Statement): string[] => (Array.isArray(st.Action) ? st.Action : [st.Action]);
  let inline: Statement[];
  let managed: Statement[];

  beforeAll(() => {
    const [, policy] = onlyResource(s.pipeline, 'AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: ids.role }] },
    });
    inline = (policy.Properties?.['PolicyDocument'] as { Statement: Statement[] }).Statement;
    const writer = resourcesOf(s.stateful)[ids.writerPolicy] as Resource;
    managed = (writer.Properties?.['PolicyDocument'] as { Statement: Statement[] }).Statement;
  });

  it('has no AWS managed policies, only the quarantine writer policy', () => {
    const role = resourcesOf(s.pipeline)[ids.role] as Resource;
    expect(role.Properties?.['ManagedPolicyArns']).toEqual([importOf(s.stateful, ids.writerPolicy)]);
  });

  it('can PutEvents only on the Kitewatch bus', () => {
    const putEvents = inline.filter((st) => actions(st).some((a) => a.startsWith('events:')));
    expect(putEvents).toEqual([
      {
        Sid: 'PublishOwnDetailTypes',
        Effect: 'Allow',
        Action: 'events:PutEvents',
        Resource: importOf(s.stateful, ids.kitewatchBus, 'Arn'),
        Condition: { StringEquals: { 'events:source': 'kitewatch', 'events:detail-type': ['OCSF Event'] } },
      },
    ]);
  });

  it('can write to S3 only with PutObject under the quarantine/ prefix of the quarantine bucket', () => {
    expect(inline.flatMap(actions).filter((a) => a.startsWith('s3:'))).toEqual([]);
    const s3Statements = managed.filter((st) => actions(st).some((a) => a.startsWith('s3:')));
    expect(s3Statements).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [ids.quarantineBucket, 'Arn'] }, `/${QUARANTINE_PREFIX}*`]] },
      }),
    ]);
  });

  it('uses the key only to decrypt queue messages and, via S3, to encrypt quarantine records', () => {
    const kms = [...inline, ...managed].filter((st) => actions(st).some((a) => a.startsWith('kms:')));
    expect(kms).toEqual([
      // Through SQS only: the event source's own grant would have no condition.
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: keyArnImport(), Condition: { StringEquals: { 'kms:ViaService': `sqs.${aws.region}.amazonaws.com` } } },
      expect.objectContaining({
        Action: 'kms:GenerateDataKey',
        Resource: { 'Fn::GetAtt': [ids.key, 'Arn'] },
        Condition: { StringEquals: { 'kms:ViaService': `s3.${aws.region}.amazonaws.com` } },
      }),
    ]);
  });

  it('consumes only the ingest queue and writes logs only to its log group', () => {
    const sqs = inline.filter((st) => actions(st).some((a) => a.startsWith('sqs:')));
    expect(sqs).toEqual([expect.objectContaining({ Resource: { 'Fn::GetAtt': [ids.queue, 'Arn'] } })]);
    expect(actions(sqs[0] as Statement)).not.toContain('sqs:SendMessage');
    const logs = inline.filter((st) => actions(st).some((a) => a.startsWith('logs:')));
    expect(logs).toHaveLength(1);
    expect(JSON.stringify(logs[0]?.Resource)).toContain(ids.logGroup);
    expect(actions(logs[0] as Statement).sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
  });
});

describe('quarantine and access-log buckets', () => {
  it('encrypts quarantine objects with the key (bucket key on) and versions them', () => {
    s.stateful.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            {
              ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [ids.key, 'Arn'] } },
              BucketKeyEnabled: true,
            },
          ],
        },
        VersioningConfiguration: { Status: 'Enabled' },
        LoggingConfiguration: { DestinationBucketName: { Ref: ids.accessLogBucket }, LogFilePrefix: 'quarantine-bucket/' },
        LifecycleConfiguration: {
          Rules: Match.arrayWith([Match.objectLike({ ExpirationInDays: aws.quarantineRetentionDays, Status: 'Enabled' })]),
        },
      }),
      DeletionPolicy: 'Retain',
    });
  });

  it('blocks public access and denies non-TLS requests on both buckets', () => {
    for (const id of [ids.quarantineBucket, ids.accessLogBucket]) {
      const bucket = resourcesOf(s.stateful)[id] as Resource;
      expect(bucket.Properties?.['PublicAccessBlockConfiguration']).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      s.stateful.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
        },
      });
    }
  });
});

describe('state table (contract with lib/state/dynamodb.ts)', () => {
  it('has pk (String) and no sort key, TTL on ttl, on-demand, PITR and the key', () => {
    s.stateful.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({
        KeySchema: [{ AttributeName: STATE_TABLE.partitionKey, KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: STATE_TABLE.partitionKey, AttributeType: 'S' }],
        TimeToLiveSpecification: { AttributeName: STATE_TABLE.ttlAttribute, Enabled: true },
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [ids.key, 'Arn'] } },
        DeletionProtectionEnabled: true,
      }),
      DeletionPolicy: 'Retain',
    });
    expect(STATE_TABLE).toEqual({ partitionKey: 'pk', ttlAttribute: 'ttl' });
  });
});

describe('Kitewatch bus, archive and alarm topic', () => {
  it('names the bus from config and encrypts it with the key, with a DLQ', () => {
    s.stateful.hasResourceProperties('AWS::Events::EventBus', {
      Name: aws.eventBusName,
      KmsKeyIdentifier: { 'Fn::GetAtt': [ids.key, 'Arn'] },
      DeadLetterConfig: { Arn: Match.anyValue() },
    });
  });

  it('archives everything Kitewatch publishes but approval requests (their task tokens expire), encrypted, for the configured retention', () => {
    s.stateful.hasResource('AWS::Events::Archive', {
      Properties: {
        SourceArn: `arn:aws:events:${aws.region}:${aws.account}:event-bus/${aws.eventBusName}`,
        EventPattern: { source: ['kitewatch'], 'detail-type': [{ 'anything-but': [APPROVAL_REQUESTED_DETAIL_TYPE] }] },
        RetentionDays: aws.archiveRetentionDays,
        KmsKeyIdentifier: { 'Fn::GetAtt': [ids.key, 'Arn'] },
        Description: Match.anyValue(),
      },
      // The bus and its policy statements.
      DependsOn: Match.arrayWith([ids.kitewatchBus]),
      DeletionPolicy: 'Retain',
    });
  });

  it("lets only this account's CloudWatch alarms publish to the alarm topic", () => {
    s.stateful.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: ids.alarmTopic }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: { ArnLike: { 'aws:SourceArn': `arn:aws:cloudwatch:${aws.region}:${aws.account}:alarm:*` } },
          }),
        ]),
      },
    });
  });

  it('encrypts the alarm topic and mails the configured address, with a DLQ for failed mail', () => {
    s.stateful.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [ids.key, 'Arn'] } });
    s.stateful.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: aws.alarmEmail,
      TopicArn: { Ref: ids.alarmTopic },
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue() },
    });
  });
});

describe('stack split', () => {
  it('keeps data in the stateful stack and code in the stateless stacks', () => {
    const stateless = [s.pipeline, s.containment, s.forwarding];
    for (const type of ['AWS::KMS::Key', 'AWS::DynamoDB::Table', 'AWS::S3::Bucket', 'AWS::Events::Archive', 'AWS::Events::EventBus']) {
      for (const template of stateless) expect(Object.keys(template?.findResources(type) ?? {}), type).toEqual([]);
    }
    for (const type of ['AWS::Lambda::Function', 'AWS::Lambda::EventSourceMapping', 'AWS::Events::Rule', 'AWS::KinesisFirehose::DeliveryStream', 'AWS::StepFunctions::StateMachine']) {
      expect(Object.keys(s.stateful.findResources(type)), type).toEqual([]);
    }
  });

  it('puts each concern in its own stack: detection in the pipeline, containment and forwarding apart', () => {
    expect(Object.keys(s.pipeline.findResources('AWS::StepFunctions::StateMachine'))).toEqual([]);
    expect(Object.keys(s.pipeline.findResources('AWS::KinesisFirehose::DeliveryStream'))).toEqual([]);
    expect(Object.keys(s.containment?.findResources('AWS::StepFunctions::StateMachine') ?? {})).toHaveLength(1);
    expect(Object.keys(s.forwarding?.findResources('AWS::KinesisFirehose::DeliveryStream') ?? {})).toHaveLength(3);
  });

  it('pins the environment from config and protects the stateful stack', () => {
    expect(s.stacks.stateful.account).toBe(aws.account);
    expect(s.stacks.stateful.region).toBe(aws.region);
    expect(s.stacks.stateful.terminationProtection).toBe(true);
    for (const stack of [s.stacks.pipeline, s.stacks.containment, s.stacks.forwarding]) {
      expect(stack?.dependencies).toContain(s.stacks.stateful);
      expect(stack?.account).toBe(aws.account);
      expect(stack?.terminationProtection).toBe(false);
    }
    expect(s.stacks.containment.dependencies).not.toContain(s.stacks.pipeline);
    expect(s.stacks.forwarding.dependencies).not.toContain(s.stacks.pipeline);
  });
});
