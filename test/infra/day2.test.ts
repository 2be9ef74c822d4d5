/**
 * Day-2 operations, read off the synthesized templates: switching a feature off, removing a
 * destination, tearing a stack down and deploying it again. test/infra/deploy-emulated.test.ts
 * runs the same changes on moto's CloudFormation.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KitewatchConfigInput } from '../../lib/config/schema.ts';
import type { ContainmentStack } from '../../lib/infra/containment-stack.ts';
import { FeatureOffStack } from '../../lib/infra/feature-off-stack.ts';
import { logicalId, synthKitewatch, TEST_CONFIG, type Synthesized } from './support/synth.ts';
import { resource, resourcesOfType } from './support/template.ts';

/** Everything on, as the other infra tests use it. */
const ALL_ON = TEST_CONFIG;
/** The same deployment after a config change: no destination, containment off. */
const ALL_OFF = { ...TEST_CONFIG, containment: { mode: 'off' }, forwarding: {} } satisfies KitewatchConfigInput;
/** Only some features: dry-run containment, Security Hub alone. */
const SOME = {
  ...TEST_CONFIG,
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
    expect(s.app.synth().stacks.map((st) => st.stackName).sort()).toEqual(
      ['Kitewatch-Containment', 'Kitewatch-Forwarding', 'Kitewatch-Pipeline', 'Kitewatch-Stateful'],
    );
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
      // And each stateless stack with a queue route has its DLQ retained.
      expect(resourcesOfType(s.pipeline, 'AWS::SQS::Queue').filter(([, q]) => q.DeletionPolicy === 'Retain')).toHaveLength(2);
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
