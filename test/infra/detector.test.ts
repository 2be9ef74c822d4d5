/**
 * The detector stage in the pipeline stack: rule -> queue -> detector Lambda with the IP data
 * layer, its environment read back through the handler's own parser, and its permissions.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetectEnv, parseDetectEnv } from '../../lambdas/detect/env.ts';
import { METRICS_NAMESPACE, PowertoolsEnv } from '../../lambdas/shared/env.ts';
import { IP_DATA_DIR_ENV, ipDataFiles } from '../../lib/enrich/ip.ts';
import { IP_DATA_MOUNT, ipDataLayerFiles } from '../../lib/infra/ip-data-layer.ts';
import { REPO_ROOT } from '../../lib/infra/kitewatch-function.ts';
import { importOf, logicalId, synthKitewatch, TEST_CONFIG, type Synthesized } from './support/synth.ts';
import { actions, allActions, inlineStatements, resource, resources, statementsFor, type Statement } from './support/template.ts';

const aws = TEST_CONFIG.aws;
const d = aws.detector;

let s: Synthesized;
let ids: { fn: string; role: string; layer: string; queue: string; dlq: string; rule: string; logGroup: string; key: string; bus: string; table: string; alarmTopic: string };

beforeAll(() => {
  s = synthKitewatch(TEST_CONFIG, { bundle: false });
  const { pipeline, stateful } = s.stacks;
  ids = {
    fn: logicalId(pipeline.detector.fn),
    role: logicalId(pipeline.detector.role),
    layer: logicalId(pipeline.ipData.layer),
    queue: logicalId(pipeline.detect.queue),
    dlq: logicalId(pipeline.detect.deadLetterQueue),
    rule: logicalId(pipeline.detect.rule),
    logGroup: logicalId(pipeline.detector.logGroup),
    key: logicalId(stateful.key),
    bus: logicalId(stateful.kitewatchBus),
    table: logicalId(stateful.stateTable),
    alarmTopic: logicalId(stateful.alarmTopic),
  };
});
afterAll(() => s?.cleanup());

describe('detector Lambda', () => {
  it('runs Node.js 24 on arm64 with the configured size, reserved concurrency and tracing', () => {
    expect(resource(s.pipeline, ids.fn).Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: d.memoryMiB,
      Timeout: d.timeoutSeconds,
      ReservedConcurrentExecutions: aws.reservedConcurrency,
      TracingConfig: { Mode: 'Active' },
      KmsKeyArn: importOf(s.stateful, ids.key, 'Arn'),
      Layers: [{ Ref: ids.layer }],
      LoggingConfig: { LogGroup: { Ref: ids.logGroup } },
    });
    expect(resource(s.pipeline, ids.logGroup).Properties).toMatchObject({ RetentionInDays: aws.logRetentionDays, KmsKeyId: importOf(s.stateful, ids.key, 'Arn') });
  });

  it("sets exactly the variables env.ts declares, and the handler's parser accepts them", () => {
    const variables = (resource(s.pipeline, ids.fn).Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables;
    expect(variables).toEqual({
      [PowertoolsEnv.serviceName]: 'detect',
      [PowertoolsEnv.metricsNamespace]: METRICS_NAMESPACE,
      [PowertoolsEnv.logLevel]: 'INFO',
      [DetectEnv.eventBusName]: importOf(s.stateful, ids.bus),
      [DetectEnv.stateTableName]: importOf(s.stateful, ids.table),
      [DetectEnv.detectorsConfig]: JSON.stringify(s.config.detectors),
      [DetectEnv.ipDataDir]: IP_DATA_MOUNT,
      // Default backfill reaches (7 days) plus one.
      [DetectEnv.resentMemoryDays]: '8',
    });
    const settings = parseDetectEnv({
      [DetectEnv.eventBusName]: 'kitewatch-test',
      [DetectEnv.stateTableName]: 'state',
      [DetectEnv.detectorsConfig]: variables[DetectEnv.detectorsConfig] as string,
      [DetectEnv.ipDataDir]: IP_DATA_MOUNT,
      [DetectEnv.resentMemoryDays]: variables[DetectEnv.resentMemoryDays] as string,
    });
    expect(settings.config.detectors).toEqual(s.config.detectors);
    expect(settings.config.aws?.blindness?.resentEventMemoryDays).toBe(8);
    expect(settings.config.detectors['unusual-ip'].allowedCidrs).toEqual(['203.0.113.0/24']);
  });
});

describe('IP enrichment layer', () => {
  it('is an arm64 / nodejs24.x layer with the data license', () => {
    expect(resource(s.pipeline, ids.layer).Properties).toMatchObject({
      CompatibleArchitectures: ['arm64'],
      CompatibleRuntimes: ['nodejs24.x'],
      LicenseInfo: 'CC-BY-4.0',
    });
  });

  it('holds every file lib/enrich/ip.ts reads, where it reads them under the mount', () => {
    const read = Object.values(ipDataFiles({ [IP_DATA_DIR_ENV]: IP_DATA_MOUNT }) as unknown as Record<string, string>).sort();
    const shipped = ipDataLayerFiles().map((f) => `/opt/${f.target}`);
    for (const path of read) expect(shipped, path).toContain(path);
    const data = shipped.filter((p) => p.endsWith('.csv') || p.endsWith('.json')).sort();
    expect(data, "only the *-num.csv tables (not the packages' other CSVs) and the cloud ranges").toEqual(read);
    expect(shipped).toContain(`${IP_DATA_MOUNT}/asn/DBIP-LICENSE`);
  });

  it("ships the installed package files themselves, and the repository's cloud ranges", () => {
    for (const file of ipDataLayerFiles()) {
      const fromPackage = file.source.startsWith(join(REPO_ROOT, 'node_modules/@ip-location-db/'));
      expect(fromPackage || file.source.startsWith(join(REPO_ROOT, 'data/cloud-ranges/')), file.source).toBe(true);
    }
  });
});

describe('detector route (rules/normalized-to-detect.json)', () => {
  const ruleFile = JSON.parse(readFileSync(join(REPO_ROOT, 'rules/normalized-to-detect.json'), 'utf8')) as { eventPattern: unknown };

  it('sits on the Kitewatch bus with the pattern of the file, targeting the queue with retries and the DLQ', () => {
    expect(resource(s.pipeline, ids.rule).Properties).toMatchObject({
      EventBusName: importOf(s.stateful, ids.bus),
      EventPattern: ruleFile.eventPattern,
      Targets: [
        expect.objectContaining({
          Arn: { 'Fn::GetAtt': [ids.queue, 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [ids.dlq, 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
        }),
      ],
    });
  });

  it('encrypts queue and DLQ with the key and redrives after maxReceiveCount', () => {
    for (const id of [ids.queue, ids.dlq]) expect(resource(s.pipeline, id).Properties?.['KmsMasterKeyId']).toEqual(importOf(s.stateful, ids.key, 'Arn'));
    expect(resource(s.pipeline, ids.queue).Properties).toMatchObject({
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [ids.dlq, 'Arn'] }, maxReceiveCount: aws.maxReceiveCount },
      VisibilityTimeout: 6 * d.timeoutSeconds + d.maxBatchingWindowSeconds,
    });
  });

  it('reads batches with partial failures, capped to the reserved concurrency', () => {
    s.pipeline.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [ids.queue, 'Arn'] },
      FunctionName: { Ref: ids.fn },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: d.batchSize,
      MaximumBatchingWindowInSeconds: d.maxBatchingWindowSeconds,
      ScalingConfig: { MaximumConcurrency: aws.reservedConcurrency },
    });
  });

  it('alarms on the first dead letter', () => {
    s.pipeline.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ids.dlq, 'QueueName'] } }],
      Threshold: 1,
      AlarmActions: [importOf(s.stateful, ids.alarmTopic)],
    });
  });
});

describe('detector permissions (least privilege)', () => {
  let statements: Statement[];
  beforeAll(() => {
    statements = inlineStatements(s.pipeline, ids.role);
  });

  it('has no managed policies and only the actions it uses', () => {
    expect(resource(s.pipeline, ids.role).Properties?.['ManagedPolicyArns']).toBeUndefined();
    const used = allActions(statements).filter((a) => !a.startsWith('xray:') && !a.startsWith('logs:'));
    expect(used.filter((a) => !a.startsWith('dynamodb:') && !a.startsWith('kms:') && !a.startsWith('sqs:'))).toEqual(['events:PutEvents']);
    expect(used.some((a) => a.startsWith('s3:') || a.startsWith('secretsmanager:') || a.startsWith('iam:'))).toBe(false);
  });

  it('publishes only to the Kitewatch bus', () => {
    expect(statementsFor(statements, 'events:')).toEqual([
      {
        Sid: 'PublishOwnDetailTypes',
        Effect: 'Allow',
        Action: 'events:PutEvents',
        Resource: importOf(s.stateful, ids.bus, 'Arn'),
        Condition: { StringEquals: { 'events:source': 'kitewatch', 'events:detail-type': ['OCSF Detection Finding'] } },
      },
    ]);
  });

  it('reads and writes items of the state table only (no table management)', () => {
    const ddb = statementsFor(statements, 'dynamodb:');
    expect(ddb).toHaveLength(1);
    expect(resources(ddb[0] as Statement)).toEqual([importOf(s.stateful, ids.table, 'Arn')]);
    expect(actions(ddb[0] as Statement)).toEqual(expect.arrayContaining(['dynamodb:BatchGetItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']));
    expect(actions(ddb[0] as Statement).filter((a) => /Create|Delete(Table|Backup)|UpdateTable|TimeToLive/.test(a))).toEqual([]);
  });

  it('uses the key only for the table and the queue, and consumes only its own queue', () => {
    for (const st of statementsFor(statements, 'kms:')) expect(st.Resource).toEqual(importOf(s.stateful, ids.key, 'Arn'));
    expect(statementsFor(statements, 'sqs:')).toEqual([expect.objectContaining({ Resource: { 'Fn::GetAtt': [ids.queue, 'Arn'] } })]);
    s.pipeline.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: ids.role }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'] })]) },
    });
  });
});
