/**
 * rules/ is data for both the CDK app and the local engine: every file deploys verbatim, and
 * QueueRoute wires any of them (the ingest route now, the later stages' routes next).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { loadRules } from '../../lib/engine/rules.ts';
import { KitewatchFunction } from '../../lib/infra/kitewatch-function.ts';
import { REPO_ROOT } from '../../lib/infra/kitewatch-function.ts';
import { QueueRoute } from '../../lib/infra/queue-route.ts';
import { ruleNamed, toCdkEventPattern } from '../../lib/infra/rules.ts';
import { AwsConfig } from '../../lib/infra/config.ts';
import { CDK_CONTEXT } from './support/synth.ts';

const rules = loadRules();

describe('rules/*.json', () => {
  it.each(rules.map((r) => [r.name] as const))('%s deploys with the pattern from its file, unchanged', (name) => {
    const raw = JSON.parse(readFileSync(join(REPO_ROOT, 'rules', `${name}.json`), 'utf8')) as { eventPattern: unknown };
    const stack = new Stack(new App({ context: CDK_CONTEXT }), 'Rules');
    new events.Rule(stack, 'Rule', { eventPattern: toCdkEventPattern(ruleNamed(name).eventPattern) });
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', { EventPattern: Match.exact(raw.eventPattern) });
  });

  it('names the rules it has when asked for one that does not exist', () => {
    expect(() => ruleNamed('no-such-rule')).toThrow(/no rule named "no-such-rule" in rules\/ \(have: .*buildkite-ingest/);
  });
});

describe('QueueRoute', () => {
  function stageStack(): { stack: Stack; buses: Record<'buildkite' | 'kitewatch', events.IEventBus>; fn: KitewatchFunction; key: kms.Key; topic: sns.Topic } {
    // Template-only: no bundling (the bundles test covers that).
    const app = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Stage');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const buses = {
      buildkite: events.EventBus.fromEventBusName(stack, 'Partner', 'aws.partner/buildkite.com/acme/1'),
      kitewatch: new events.EventBus(stack, 'Kitewatch', { eventBusName: 'kitewatch' }),
    };
    const fn = new KitewatchFunction(stack, 'Detector', {
      entry: 'lambdas/normalize/handler.ts',
      serviceName: 'detect',
      description: 'stand-in detector',
      memoryMiB: 512,
      timeout: Duration.seconds(10),
      environment: {},
      key,
      config: AwsConfig.parse({}),
      invokedBy: 'sqs',
    });
    return { stack, buses, fn, key, topic: new sns.Topic(stack, 'Alarms', { masterKey: key }) };
  }

  it('wires a later stage from its rule file: rule on the bus the file names -> encrypted queue -> function', () => {
    const { stack, buses, fn, key, topic } = stageStack();
    new QueueRoute(stack, 'Detect', {
      rule: ruleNamed('normalized-to-detect'),
      buses,
      consumer: fn,
      consumerTarget: 'detect',
      key,
      alarmTopic: topic,
      maxReceiveCount: 3,
      batchSize: 10,
      maxBatchingWindow: Duration.seconds(0),
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: Match.stringLikeRegexp('^Kitewatch') },
      EventPattern: ruleNamed('normalized-to-detect').eventPattern,
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] },
      RedrivePolicy: { maxReceiveCount: 3, deadLetterTargetArn: Match.anyValue() },
      VisibilityTimeout: 60,
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: Match.absent(),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1 });
  });

  it("refuses a rule whose target is another stage's", () => {
    const { stack, buses, fn, key, topic } = stageStack();
    expect(
      () =>
        new QueueRoute(stack, 'Wrong', {
          rule: ruleNamed('findings-to-containment'),
          buses,
          consumer: fn,
          consumerTarget: 'detect',
          key,
          alarmTopic: topic,
          maxReceiveCount: 3,
          batchSize: 10,
          maxBatchingWindow: Duration.seconds(0),
        }),
    ).toThrow(/rules\/findings-to-containment\.json targets "contain" but is wired to the "detect" function/);
  });
});
