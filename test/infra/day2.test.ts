/**
 * Day-2 operations, read off the synthesized templates: switching a feature off, removing a
 * destination, tearing a stack down and deploying it again. test/infra/deploy-emulated.test.ts
 * runs the same changes on moto's CloudFormation.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KitewatchConfigInput } from '../../lib/config/schema.ts';
import { ConfigError } from '../../lib/config/load.ts';
import { ACTIONS } from '../../lib/containment/actions.ts';
import { REPO_ROOT } from '../../lib/infra/kitewatch-function.ts';
import { DeployConfigError } from '../../lib/infra/config.ts';
import type { ContainmentStack } from '../../lib/infra/containment-stack.ts';
import type { PipelineStack } from '../../lib/infra/pipeline-stack.ts';
import { QUEUE_AGE_FLOOR_SECONDS } from '../../lib/infra/queue-route.ts';
import { FeatureOffStack } from '../../lib/infra/feature-off-stack.ts';
import { logicalId, synthKitewatch, TEST_CONFIG, type Synthesized } from './support/synth.ts';
import { resource, resourcesOfType } from './support/template.ts';

/** An existing topic alarms also go to (a chat channel through Amazon Q Developer). */
const CHAT_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:secops-chat';
/** Everything on, as the other infra tests use it, plus an extra alarm topic. */
const ALL_ON = { ...TEST_CONFIG, aws: { ...TEST_CONFIG.aws, alarmTopicArns: [CHAT_TOPIC] } } satisfies KitewatchConfigInput;
/** The same deployment after a config change: no destination, containment off. */
const ALL_OFF = { ...ALL_ON, containment: { mode: 'off' }, forwarding: {} } satisfies KitewatchConfigInput;
/** Only some features: dry-run containment, Security Hub alone. */
const SOME = {
  ...ALL_ON,
  containment: { ...TEST_CONFIG.containment, mode: 'dry-run' },
  forwarding: { destinations: { securityHub: { enabled: true } } },
} satisfies KitewatchConfigInput;

const CONFIGS = { 'all on': ALL_ON, 'all off': ALL_OFF, some: SOME } as const;
const synths: Partial<Record<keyof typeof CONFIGS, Synthesized>> = {};
const synthOf = (name: keyof typeof CONFIGS): Synthesized => synths[name] as Synthesized;

beforeAll(() => {
  for (const [name, config] of Object.entries(CONFIGS)) synths[name as keyof typeof CONFIGS] = synthKitewatch(config, { bundle: false });
});
afterAll(() => {
  for (const s of Object.values(synths)) s.cleanup();
});

interface Outputs {
  Outputs?: Record<string, { Value: unknown; Export?: { Name: string } }>;
}
const exportNames = (t: Template): string[] =>
  Object.values((t.toJSON() as Outputs).Outputs ?? {})
    .flatMap((o) => (o.Export === undefined ? [] : [o.Export.Name]))
    .sort();
const importNames = (t: Template): string[] => [...new Set([...JSON.stringify(t.toJSON()).matchAll(/"Fn::ImportValue":"([^"]+)"/g)].map((m) => m[1] as string))].sort();
const consumers = (s: Synthesized): Template[] => [s.pipeline, s.containment, s.forwarding];

describe('switching a feature off', () => {
  it.each(Object.keys(CONFIGS))('%s: synthesizes all four stacks, so a deploy updates each of them', (name) => {
    const s = synthOf(name as keyof typeof CONFIGS);
    // Exactly these: the target-account role is a template for the other accounts (bin/target-account.ts), never deployed here.
    const names = s.app.synth().stacks.map((st) => st.stackName);
    expect(names.sort()).toEqual(['Kitewatch-Containment', 'Kitewatch-Forwarding', 'Kitewatch-Pipeline', 'Kitewatch-Stateful']);
  });

  it('off deploys a stack with no Lambda, rule, queue or role, so the update deletes what was there', () => {
    const off = synthOf('all off');
    for (const stack of [off.stacks.containment, off.stacks.forwarding]) expect(stack).toBeInstanceOf(FeatureOffStack);
    for (const t of [off.containment, off.forwarding]) {
      const types = Object.values(t.toJSON().Resources as Record<string, { Type: string }>).map((r) => r.Type);
      expect(types).toEqual(['AWS::SSM::Parameter']);
      expect(importNames(t)).toEqual([]);
    }
    // Same stack names as when the features are on: the same stacks get updated.
    expect(off.stacks.containment.stackName).toBe(synthOf('all on').stacks.containment.stackName);
    expect(off.stacks.forwarding.stackName).toBe(synthOf('all on').stacks.forwarding.stackName);
  });

  it('every consumer stack depends on the stateful stack, on or off (destroyed first, deployed after)', () => {
    for (const s of Object.values(synths)) {
      for (const stack of [s.stacks.pipeline, s.stacks.containment, s.stacks.forwarding]) expect(stack.dependencies).toContain(s.stacks.stateful);
    }
  });
});

describe('cross-stack references do not depend on which features are on', () => {
  it('the stateful stack exports the same values whatever the config', () => {
    const [first, ...rest] = Object.values(synths).map((s) => exportNames(s.stateful));
    expect(first?.length).toBeGreaterThan(5);
    for (const names of rest) expect(names).toEqual(first);
  });

  it('consumer stacks import only those stable exports (removing a destination never drops an import target first)', () => {
    const stable = new Set(exportNames(synthOf('all off').stateful));
    for (const s of Object.values(synths)) {
      for (const t of consumers(s)) for (const name of importNames(t)) expect(stable.has(name), name).toBe(true);
    }
  });

  it('the stateful stack holds the same resources whatever the config', () => {
    const shape = (s: Synthesized): string[] => Object.keys(s.stateful.toJSON().Resources as object).sort();
    const [first, ...rest] = Object.values(synths).map(shape);
    for (const r of rest) expect(r).toEqual(first);
  });
});

/** Properties that carry a resource's physical name, by type. */
const NAME_PROPERTIES: Record<string, readonly string[]> = {
  'AWS::Logs::LogGroup': ['LogGroupName'],
  'AWS::S3::Bucket': ['BucketName'],
  'AWS::DynamoDB::Table': ['TableName'],
  'AWS::SQS::Queue': ['QueueName'],
  'AWS::SNS::Topic': ['TopicName'],
  'AWS::Events::EventBus': ['Name'],
  'AWS::Events::Archive': ['ArchiveName'],
  'AWS::KMS::Alias': ['AliasName'],
  'AWS::Lambda::Function': ['FunctionName'],
  'AWS::StepFunctions::StateMachine': ['StateMachineName'],
  'AWS::IAM::Role': ['RoleName'],
  'AWS::IAM::ManagedPolicy': ['ManagedPolicyName'],
  'AWS::SSM::Parameter': ['Name'],
  'AWS::KinesisFirehose::DeliveryStream': ['DeliveryStreamName'],
  'AWS::Glue::Database': ['DatabaseInput.Name'],
};

/** A name that is the same on every create: a literal, or an expression of literals and the stack's fixed attributes. */
function isFixed(value: unknown): boolean {
  if (value === undefined) return false;
  const json = JSON.stringify(value);
  // The stack's own id changes on every create; a Ref to a resource of the stack does too.
  return !json.includes('AWS::StackId') && !/"Ref":"(?!AWS::)/.test(json) && !json.includes('Fn::GetAtt');
}

describe('tearing down and deploying again', () => {
  it.each(Object.keys(CONFIGS))('%s: no retained resource carries a fixed physical name (the next create would collide with it)', (name) => {
    const s = synthOf(name as keyof typeof CONFIGS);
    const offenders: string[] = [];
    for (const t of [s.stateful, ...consumers(s)]) {
      for (const [id, r] of Object.entries(t.toJSON().Resources as Record<string, { Type: string; DeletionPolicy?: string; Properties?: Record<string, unknown> }>)) {
        if (r.DeletionPolicy !== 'Retain') continue;
        for (const path of NAME_PROPERTIES[r.Type] ?? []) {
          const value = path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], r.Properties);
          if (isFixed(value)) offenders.push(`${id} (${r.Type}) ${path}=${JSON.stringify(value)}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the approval log group is retained under a name made of the stack id', () => {
    const s = synthOf('all on');
    const lg = resource(s.containment, logicalId((s.stacks.containment as ContainmentStack).approval.logGroup));
    expect(lg.DeletionPolicy).toBe('Retain');
    expect(JSON.stringify(lg.Properties?.['LogGroupName'])).toContain('AWS::StackId');
    expect(JSON.stringify(lg.Properties?.['LogGroupName'])).toContain('/aws/vendedlogs/states/Kitewatch-approval-');
  });

  it('every dead-letter queue is retained: the stateless stacks are deleted, the failed messages are not', () => {
    for (const s of Object.values(synths)) {
      for (const t of [s.stateful, ...consumers(s)]) {
        const json = JSON.stringify(t.toJSON());
        for (const [id, q] of resourcesOfType(t, 'AWS::SQS::Queue')) {
          const isDlq =
            json.includes(`"deadLetterTargetArn":{"Fn::GetAtt":["${id}","Arn"]}`) ||
            json.includes(`"DeadLetterConfig":{"Arn":{"Fn::GetAtt":["${id}","Arn"]}}`) ||
            json.includes(`"DeadLetterConfig":{"TargetArn":{"Fn::GetAtt":["${id}","Arn"]}}`) ||
            json.includes(`"RedrivePolicy":{"deadLetterTargetArn":{"Fn::GetAtt":["${id}","Arn"]}}`);
          if (isDlq) expect(q.DeletionPolicy, id).toBe('Retain');
        }
      }
      // The queue routes' DLQs by name, so the loop above cannot pass by finding none.
      const p = s.stacks.pipeline as PipelineStack;
      for (const dlq of [p.ingest.deadLetterQueue, p.detect.deadLetterQueue]) expect(resource(s.pipeline, logicalId(dlq)).DeletionPolicy).toBe('Retain');
    }
  });

  it('the alarm topic is retained with the stateful resources', () => {
    const s = synthOf('all on');
    expect(resource(s.stateful, logicalId(s.stacks.stateful.alarmTopic)).DeletionPolicy).toBe('Retain');
  });

  it('the Kitewatch bus is not retained: its name is fixed, and the retained archives serve a re-created bus of the same name', () => {
    const s = synthOf('all on');
    const bus = resource(s.stateful, logicalId(s.stacks.stateful.kitewatchBus));
    expect(bus.DeletionPolicy).toBeUndefined();
    expect(resource(s.stateful, logicalId(s.stacks.stateful.archive)).DeletionPolicy).toBe('Retain');
    expect(resource(s.stateful, logicalId(s.stacks.stateful.rawArchive)).DeletionPolicy).toBe('Retain');
  });
});

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;
const alarmsOf = (t: Template): [string, Record<string, unknown>][] =>
  Object.entries(t.toJSON().Resources as Resources)
    .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
    .map(([id, r]) => [id, r.Properties ?? {}]);
const alarmTopicImport = (s: Synthesized): unknown => {
  const outputs = (s.stateful.toJSON() as Outputs).Outputs ?? {};
  const out = Object.values(outputs).find((o) => JSON.stringify(o.Value) === JSON.stringify({ Ref: logicalId(s.stacks.stateful.alarmTopic) }));
  return { 'Fn::ImportValue': out?.Export?.Name };
};

describe('alarms need somewhere to go', () => {
  const { alarmEmail: _email, ...withoutEmail } = TEST_CONFIG.aws;

  it('synth refuses a deployment whose alarms and approval requests would reach no one', () => {
    const synth = (): Synthesized => synthKitewatch({ ...TEST_CONFIG, aws: withoutEmail }, { bundle: false });
    expect(synth).toThrow(DeployConfigError);
    expect(synth).toThrow(/aws\.alarmEmail and aws\.alarmTopicArns are both unset[\s\S]*aws\.alarms: "none"/);
  });

  it('alarms: "none" deploys, with a synth warning', () => {
    const s = synthKitewatch({ ...TEST_CONFIG, aws: { ...withoutEmail, alarms: 'none' } }, { bundle: false });
    try {
      Annotations.fromStack(s.stacks.stateful).hasWarning('*', Match.stringLikeRegexp('aws.alarms is "none"'));
      s.stateful.resourceCountIs('AWS::SNS::Subscription', 0);
    } finally {
      s.cleanup();
    }
  });

  it('alarms: "none" beside a destination is a contradiction the config rejects', () => {
    expect(() => synthKitewatch({ ...TEST_CONFIG, aws: { ...TEST_CONFIG.aws, alarms: 'none' } }, { bundle: false })).toThrow(ConfigError);
  });

  it('an alarm topic ARN must be an SNS topic ARN', () => {
    expect(() => synthKitewatch({ ...TEST_CONFIG, aws: { ...TEST_CONFIG.aws, alarmTopicArns: ['arn:aws:sqs:eu-west-1:123456789012:q'] } }, { bundle: false })).toThrow(
      /alarmTopicArns[\s\S]*SNS topic ARN/,
    );
  });

  it.each(Object.keys(CONFIGS))('%s: every alarm of every stack notifies the alarm topic and the extra topic', (name) => {
    const s = synthOf(name as keyof typeof CONFIGS);
    const own = (t: Template): unknown => (t === s.stateful ? { Ref: logicalId(s.stacks.stateful.alarmTopic) } : alarmTopicImport(s));
    for (const t of [s.stateful, ...consumers(s)]) {
      for (const [id, alarm] of alarmsOf(t)) {
        expect(alarm['AlarmActions'], id).toEqual(expect.arrayContaining([own(t), CHAT_TOPIC]));
      }
    }
  });

  it('approval requests and rotation failures go to the extra topic too', () => {
    const s = synthOf('all on');
    const c = s.stacks.containment as ContainmentStack;
    const targetsOf = (id: string): unknown[] => (s.containment.toJSON().Resources as Resources)[id]?.Properties?.['Targets'] as unknown[];
    for (const rule of [c.approvalNotifications, c.rotationFailures]) {
      const arns = targetsOf(logicalId(rule ?? c)).map((t) => (t as { Arn: unknown }).Arn);
      expect(arns).toEqual(expect.arrayContaining([alarmTopicImport(s), CHAT_TOPIC]));
    }
  });
});

describe('alarms on what fails quietly', () => {
  it.each(['all on', 'some'] as const)('%s: every Lambda function has an Errors alarm and a sustained Throttles alarm', (name) => {
    const s = synthOf(name);
    for (const t of consumers(s)) {
      const alarms = alarmsOf(t);
      for (const fnId of Object.keys(t.findResources('AWS::Lambda::Function'))) {
        const on = (metric: string) =>
          alarms.filter(
            ([, a]) => a['MetricName'] === metric && a['Namespace'] === 'AWS/Lambda' && JSON.stringify(a['Dimensions']) === JSON.stringify([{ Name: 'FunctionName', Value: { Ref: fnId } }]),
          );
        expect(on('Errors'), `${fnId} Errors`).toHaveLength(1);
        expect(on('Errors')[0]?.[1]).toMatchObject({ Threshold: 1, EvaluationPeriods: 1, Statistic: 'Sum', TreatMissingData: 'notBreaching' });
        expect(on('Throttles'), `${fnId} Throttles`).toHaveLength(1);
        expect(on('Throttles')[0]?.[1]).toMatchObject({ Threshold: 1, EvaluationPeriods: 3, DatapointsToAlarm: 3 });
      }
    }
  });

  it('every working queue alarms when its oldest message outlives every retry', () => {
    const s = synthOf('all on');
    const p = s.stacks.pipeline as PipelineStack;
    const aws = ALL_ON.aws;
    const expected = [
      [p.ingest, (aws.normalizer.timeoutSeconds * 6 + aws.normalizer.maxBatchingWindowSeconds) * aws.maxReceiveCount],
      [p.detect, (aws.detector.timeoutSeconds * 6 + aws.detector.maxBatchingWindowSeconds) * aws.maxReceiveCount],
    ] as const;
    for (const [route, seconds] of expected) {
      expect(seconds).toBeGreaterThan(QUEUE_AGE_FLOOR_SECONDS * aws.maxReceiveCount);
      s.pipeline.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(route.queue), 'QueueName'] } }],
        Threshold: seconds,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
    for (const t of [s.containment, s.forwarding]) {
      t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage' });
    }
  });

  it('failed and timed-out approval executions alarm', () => {
    const s = synthOf('all on');
    const sm = logicalId((s.stacks.containment as ContainmentStack).approval.stateMachine);
    for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut']) {
      s.containment.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/States',
        MetricName: metric,
        Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: sm } }],
        Threshold: 1,
      });
    }
  });

  it('a failed rotation of an agent-token secret reaches the alarm topic', () => {
    const s = synthOf('all on');
    const rule = (s.stacks.containment as ContainmentStack).rotationFailures;
    expect(rule).toBeDefined();
    const props = (s.containment.toJSON().Resources as Resources)[logicalId(rule ?? s.stacks.containment)]?.Properties;
    expect(props?.['EventBusName']).toBeUndefined(); // the default bus, where CloudTrail events arrive
    expect(props?.['EventPattern']).toEqual({
      source: ['aws.secretsmanager'],
      'detail-type': ['AWS Service Event via CloudTrail'],
      detail: { eventName: ['RotationFailed'], additionalEventData: { SecretId: [...TEST_CONFIG.aws.containment.agentTokenSecretArns] } },
    });
  });

  it('the alarm mail dead-letter queue alarms', () => {
    const s = synthOf('all on');
    const dlq = Object.entries(s.stateful.findResources('AWS::SNS::Subscription'))[0]?.[1] as { Properties: { RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [string, string] } } } };
    const dlqId = dlq.Properties.RedrivePolicy.deadLetterTargetArn['Fn::GetAtt'][0];
    s.stateful.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }],
    });
  });
});

describe('docs/deploy.md', () => {
  const deploy = readFileSync(join(REPO_ROOT, 'docs/deploy.md'), 'utf8');

  it.each(Object.keys(ACTIONS))('lists the Buildkite token scopes %s documents, on its own row', (action) => {
    const scopes = [...ACTIONS[action as keyof typeof ACTIONS].permissions.matchAll(/`((?:read|write)_[a-z_]+)`/g)].map((m) => m[1] as string);
    const row = deploy.split('\n').find((line) => line.startsWith('|') && line.includes(`\`${action}\``));
    if (scopes.length === 0 && !/Buildkite/.test(ACTIONS[action as keyof typeof ACTIONS].permissions)) return; // IAM only
    expect(row, `a scopes row naming ${action}`).toBeDefined();
    for (const scope of scopes) expect(row, `${action}: ${scope}`).toContain(`\`${scope}\``);
  });

  it('documents the re-normalize runbook against the raw archive, through the ingest rule only', () => {
    expect(deploy).toMatch(/aws events start-replay[\s\S]*--destination "Arn=\$BUS,FilterArns=\$RULE"/);
    expect(deploy).toContain("starts_with(LogicalResourceId,'RawArchive')");
    expect(deploy).toContain("starts_with(Description,'buildkite-ingest:')");
  });
});
