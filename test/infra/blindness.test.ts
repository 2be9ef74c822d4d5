/**
 * The alarms that see blindness, in the synthesized template: silence (missing data breaching),
 * quarantine rate and format drift, on the metrics the normalizer really emits, to the alarm topic.
 */
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_PUBLISHED_METRIC, EVENTS_QUARANTINED_METRIC, FORMAT_DRIFT_METRIC, METRICS_NAMESPACE, PowertoolsEnv } from '../../lambdas/shared/env.ts';
import type { Construct } from 'constructs';
import { importOf, logicalId, synthKitewatch, TEST_CONFIG, type Synthesized } from './support/synth.ts';
import { actions, inlineStatements, type Statement } from './support/template.ts';

let s: Synthesized;
let pipeline: Template;
beforeAll(() => {
  s = synthKitewatch({ ...TEST_CONFIG, aws: { ...TEST_CONFIG.aws, blindness: { silenceMinutes: 45, quarantineRatePercent: 2.5 } } }, { bundle: false });
  pipeline = s.pipeline;
});
afterAll(() => s.cleanup());

type Alarm = { Properties: Record<string, unknown> };
function alarm(descriptionStart: string): Alarm {
  const found = Object.values(pipeline.findResources('AWS::CloudWatch::Alarm')).filter((a) => String((a as Alarm).Properties['AlarmDescription']).startsWith(descriptionStart)) as Alarm[];
  expect(found, descriptionStart).toHaveLength(1);
  return found[0] as Alarm;
}

/** The metrics an alarm reads, by name, with their namespace and dimensions. */
function metricsOf(a: Alarm): Array<{ name: string; namespace: string; dimensions: unknown }> {
  const metrics = (a.Properties['Metrics'] as Array<{ MetricStat?: { Metric: { MetricName: string; Namespace: string; Dimensions: unknown } } }> | undefined) ?? [];
  return metrics.flatMap((m) => (m.MetricStat === undefined ? [] : [{ name: m.MetricStat.Metric.MetricName, namespace: m.MetricStat.Metric.Namespace, dimensions: m.MetricStat.Metric.Dimensions }]));
}

describe('blindness alarms', () => {
  it('the normalizer emits its metrics under the service dimension the alarms read', () => {
    const fns = pipeline.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: Match.objectLike({ [PowertoolsEnv.serviceName]: 'normalize', [PowertoolsEnv.metricsNamespace]: METRICS_NAMESPACE }) } },
    });
    expect(Object.keys(fns)).toHaveLength(1);
  });

  it('silence: no Buildkite event for the configured minutes, missing data breaching', () => {
    const a = alarm('Kitewatch is blind: no Buildkite event for 45 minutes');
    expect(a.Properties).toMatchObject({ ComparisonOperator: 'LessThanThreshold', Threshold: 1, EvaluationPeriods: 1, TreatMissingData: 'breaching' });
    const expr = (a.Properties['Metrics'] as Array<{ Expression?: string; ReturnData?: boolean }>).find((m) => m.Expression !== undefined);
    expect(expr?.Expression).toBe('FILL(published, 0) + FILL(quarantined, 0)');
    expect(metricsOf(a)).toEqual([
      { name: EVENTS_PUBLISHED_METRIC, namespace: METRICS_NAMESPACE, dimensions: [{ Name: 'service', Value: 'normalize' }] },
      { name: EVENTS_QUARANTINED_METRIC, namespace: METRICS_NAMESPACE, dimensions: [{ Name: 'service', Value: 'normalize' }] },
    ]);
    const periods = (a.Properties['Metrics'] as Array<{ MetricStat?: { Period: number } }>).flatMap((m) => (m.MetricStat ? [m.MetricStat.Period] : []));
    expect(periods).toEqual([2700, 2700]);
  });

  it('quarantine rate above the configured percentage', () => {
    const a = alarm('More than 2.5% of Buildkite events quarantined');
    expect(a.Properties).toMatchObject({ ComparisonOperator: 'GreaterThanThreshold', Threshold: 2.5, TreatMissingData: 'notBreaching' });
    expect(metricsOf(a).map((m) => m.name)).toEqual([EVENTS_PUBLISHED_METRIC, EVENTS_QUARANTINED_METRIC]);
  });

  it('format drift above zero', () => {
    const a = alarm('Buildkite changed shape');
    expect(a.Properties).toMatchObject({
      MetricName: FORMAT_DRIFT_METRIC,
      Namespace: METRICS_NAMESPACE,
      Dimensions: [{ Name: 'service', Value: 'normalize' }],
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      TreatMissingData: 'notBreaching',
    });
  });

  it('all three notify the alarm topic on ALARM and OK', () => {
    const topic = importOf(s.stateful, logicalId(s.stacks.stateful.alarmTopic));
    for (const start of ['Kitewatch is blind', 'More than 2.5%', 'Buildkite changed shape']) {
      const a = alarm(start);
      expect(a.Properties['AlarmActions'], start).toEqual([topic]);
      expect(a.Properties['OKActions'], start).toEqual([topic]);
    }
  });

  it('defaults fit a working org: 60 minutes of silence, 5% quarantined', () => {
    const d = synthKitewatch(TEST_CONFIG, { bundle: false });
    try {
      const descriptions = Object.values(d.pipeline.findResources('AWS::CloudWatch::Alarm')).map((a) => String((a as Alarm).Properties['AlarmDescription']));
      expect(descriptions).toContainEqual(expect.stringContaining('no Buildkite event for 60 minutes'));
      expect(descriptions).toContainEqual(expect.stringContaining('More than 5% of Buildkite events'));
    } finally {
      d.cleanup();
    }
  });
});

describe('backfill Lambda in the template', () => {
  type Fn = { Properties: { Environment: { Variables: Record<string, unknown> }; Runtime: string; Architectures: string[] } };
  const backfillFn = (): Fn => {
    const found = Object.values(pipeline.findResources('AWS::Lambda::Function')).filter((f) => (f as Fn).Properties.Environment?.Variables?.[PowertoolsEnv.serviceName] === 'backfill') as Fn[];
    expect(found).toHaveLength(1);
    return found[0] as Fn;
  };

  it('runs on nodejs24.x ARM64 with the org, the ingest queue, the seed days and the silence alarm', () => {
    const fn = backfillFn();
    expect(fn.Properties.Runtime).toBe('nodejs24.x');
    expect(fn.Properties.Architectures).toEqual(['arm64']);
    expect(fn.Properties.Environment.Variables).toMatchObject({
      KITEWATCH_BUILDKITE_ORG: 'acme',
      KITEWATCH_BACKFILL_SEED_DAYS: '7',
      KITEWATCH_SILENCE_MINUTES: '45',
      BUILDKITE_API_TOKEN_SECRET_ARN: TEST_CONFIG.aws.containment.buildkiteApiTokenSecretArn,
      KITEWATCH_INGEST_QUEUE_URL: { Ref: logicalId(s.stacks.pipeline.ingest.queue) },
      KITEWATCH_SILENCE_ALARM_NAME: { Ref: logicalId(s.stacks.pipeline.blindness.silence) },
      KITEWATCH_BACKFILL_MAX_REACH_DAYS: '7',
      KITEWATCH_STATE_TABLE: importOf(s.stateful, logicalId(s.stacks.stateful.stateTable)),
    });
  });

  it('reads the detectors’ last event time from the state table, that one item only (GetItem)', () => {
    const role = s.stacks.pipeline.backfill?.function.role;
    expect(role).toBeDefined();
    const statements = inlineStatements(pipeline, logicalId(role as Construct));
    const state = statements.filter((st) => actions(st).some((a) => a.startsWith('dynamodb:')));
    expect(state).toHaveLength(1);
    expect(actions(state[0] as Statement)).toEqual(['dynamodb:GetItem']);
    expect((state[0] as Statement & { Condition?: unknown }).Condition).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['detect:last-event'] },
      Null: { 'dynamodb:LeadingKeys': 'false' },
    });
  });

  it('is started at first deploy (seed), by Kitewatch monitoring-disabled findings and by the silence alarm going OK', () => {
    pipeline.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['kitewatch'], 'detail-type': ['OCSF Detection Finding'], detail: { finding_info: { analytic: { uid: ['monitoring-disabled'] } } } },
      Targets: Match.arrayWith([Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: Match.anyValue() })]),
    });
    pipeline.hasResourceProperties('AWS::Events::Rule', {
      Name: 'Kitewatch-backfill-seed',
      EventPattern: {
        source: ['aws.cloudformation'],
        'detail-type': ['CloudFormation Stack Status Change'],
        resources: [{ Ref: 'AWS::StackId' }],
        detail: { 'status-details': { status: ['CREATE_COMPLETE'] } },
      },
    });
    pipeline.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'lambda',
      FilterPolicyScope: 'MessageBody',
      FilterPolicy: { AlarmName: [{ Ref: logicalId(s.stacks.pipeline.blindness.silence) }], NewStateValue: ['OK'] },
    });
  });
});
