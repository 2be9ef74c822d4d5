/**
 * Provenance on AWS: on the synthesized templates, a queue takes events
 * from its own rule only, only Kitewatch's publishers may put on its bus and each only its own
 * detail-types, every service statement of the key policy names this account, and each state
 * writer reaches only its own partition of the state table.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLISHER_TAG, PUBLISHES } from '../../lib/infra/bus-access.ts';
import { STATE_PARTITIONS } from '../../lib/state/port.ts';
import type { ContainmentStack } from '../../lib/infra/containment-stack.ts';
import type { ForwardingStack } from '../../lib/infra/forwarding-stack.ts';
import { importOf, logicalId, synthKitewatch, TEST_CONFIG, type Synthesized } from './support/synth.ts';
import { actions, inlineStatements, resourcesOfType, type Statement } from './support/template.ts';

let s: Synthesized;
let templates: [string, Template][];

beforeAll(() => {
  s = synthKitewatch(TEST_CONFIG, { bundle: false });
  templates = [
    ['stateful', s.stateful],
    ['pipeline', s.pipeline],
    ['containment', s.containment as Template],
    ['forwarding', s.forwarding as Template],
  ];
}, 120_000);

afterAll(() => s.cleanup());

interface PolicyStatement extends Statement {
  readonly Principal?: { Service?: string | string[]; AWS?: string };
  readonly Condition?: Record<string, Record<string, unknown>>;
}

function docStatements(properties: Record<string, unknown> | undefined, key: string): PolicyStatement[] {
  return (properties?.[key] as { Statement?: PolicyStatement[] } | undefined)?.Statement ?? [];
}

function servicesOf(st: PolicyStatement): string[] {
  const svc = st.Principal?.Service;
  return svc === undefined ? [] : Array.isArray(svc) ? svc : [svc];
}

describe('queue policies: EventBridge delivers from the queue’s own rule only', () => {
  it('every events.amazonaws.com Allow on a queue names one rule by aws:SourceArn (never aws:SourceAccount alone)', () => {
    let checked = 0;
    for (const [name, t] of templates) {
      const rules = new Set(resourcesOfType(t, 'AWS::Events::Rule').map(([id]) => id));
      for (const [id, policy] of resourcesOfType(t, 'AWS::SQS::QueuePolicy')) {
        for (const st of docStatements(policy.Properties, 'PolicyDocument')) {
          if (st.Effect !== 'Allow' || !servicesOf(st).includes('events.amazonaws.com')) continue;
          checked++;
          const arn = st.Condition?.['ArnEquals']?.['aws:SourceArn'] as { 'Fn::GetAtt'?: [string, string] } | undefined;
          // Queues of the stateful stack (the bus DLQ) are fed by the bus, not by a rule.
          const source = arn?.['Fn::GetAtt']?.[0];
          expect(source, `${name} ${id}: ${JSON.stringify(st.Condition)}`).toBeDefined();
          if (name !== 'stateful') expect(rules.has(source as string), `${name} ${id} names rule ${source}`).toBe(true);
          expect(actions(st)).toContain('sqs:SendMessage');
        }
      }
    }
    // ingest, detect, contain and Security Hub queues and their DLQs, the rule DLQs, the bus DLQ.
    expect(checked).toBeGreaterThanOrEqual(12);
  });

  it('the ingest queue admits the ingest rule, not the detect rule', () => {
    const pipeline = s.stacks.pipeline;
    const queue = logicalId(pipeline.ingest.queue);
    const policy = resourcesOfType(s.pipeline, 'AWS::SQS::QueuePolicy').find(([, p]) => JSON.stringify(p.Properties?.['Queues']) === JSON.stringify([{ Ref: queue }]));
    const allowed = docStatements(policy?.[1].Properties, 'PolicyDocument')
      .filter((st) => st.Effect === 'Allow')
      .map((st) => st.Condition?.['ArnEquals']?.['aws:SourceArn']);
    expect(allowed).toEqual([{ 'Fn::GetAtt': [logicalId(pipeline.ingest.rule), 'Arn'] }]);
  });
});

describe('the Kitewatch bus: who may put, and what', () => {
  it('has a bus policy that denies PutEvents to untagged principals and to any other source', () => {
    const bus = logicalId(s.stacks.stateful.kitewatchBus);
    const statements = resourcesOfType(s.stateful, 'AWS::Events::EventBusPolicy')
      .filter(([, p]) => JSON.stringify(p.Properties?.['EventBusName']) === JSON.stringify({ Ref: bus }))
      .map(([, p]) => p.Properties?.['Statement'] as PolicyStatement);
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 'events:PutEvents',
          Condition: { StringNotEquals: { [`aws:PrincipalTag/${PUBLISHER_TAG}`]: { Ref: bus } } },
        }),
        expect.objectContaining({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'events:PutEvents', Condition: { StringNotEquals: { 'events:source': 'kitewatch' } } }),
      ]),
    );
  });

  it('every events:PutEvents statement is conditioned on source kitewatch and the publisher’s own detail-types', () => {
    const publishers: [Template, string, readonly string[]][] = [
      [s.pipeline, logicalId(s.stacks.pipeline.normalizer.role), PUBLISHES.normalize],
      [s.pipeline, logicalId(s.stacks.pipeline.detector.role), PUBLISHES.detect],
      [s.containment as Template, logicalId((s.stacks.containment as ContainmentStack).contain.role), PUBLISHES.contain],
      [s.containment as Template, logicalId((s.stacks.containment as ContainmentStack).approval.role), PUBLISHES.approval],
      ...Object.values((s.stacks.containment as ContainmentStack).runbooks).map((fn) => [s.containment as Template, logicalId(fn.role), PUBLISHES.runbook] as [Template, string, readonly string[]]),
    ];
    // normalizer, detector, contain, approval state machine and every runbook (each may put only its own detail-types).
    expect(publishers).toHaveLength(4 + Object.keys((s.stacks.containment as ContainmentStack).runbooks).length);
    for (const [t, role, detailTypes] of publishers) {
      const puts = inlineStatements(t, role).filter((st) => actions(st).includes('events:PutEvents'));
      expect(puts, role).toHaveLength(1);
      expect(puts[0]?.Condition, role).toEqual({ StringEquals: { 'events:source': 'kitewatch', 'events:detail-type': [...detailTypes] } });
      const tags = resourcesOfType(t, 'AWS::IAM::Role').find(([id]) => id === role)?.[1].Properties?.['Tags'] as { Key: string }[];
      expect(
        tags.map((tag) => tag.Key),
        role,
      ).toContain(PUBLISHER_TAG);
    }
    // Only the detector may publish findings: containment acts on them.
    expect(publishers.filter(([, , dts]) => dts.includes('OCSF Detection Finding')).map(([, r]) => r)).toEqual([logicalId(s.stacks.pipeline.detector.role)]);

    // And no other statement anywhere allows PutEvents without those conditions.
    for (const [name, t] of templates) {
      for (const [id, policy] of [...resourcesOfType(t, 'AWS::IAM::Policy'), ...resourcesOfType(t, 'AWS::IAM::ManagedPolicy')]) {
        for (const st of docStatements(policy.Properties, 'PolicyDocument')) {
          if (st.Effect === 'Allow' && actions(st).some((a) => a === 'events:PutEvents' || a === 'events:*')) {
            expect(st.Condition?.['StringEquals']?.['events:source'], `${name} ${id}`).toBe('kitewatch');
            expect(st.Condition?.['StringEquals']?.['events:detail-type'], `${name} ${id}`).toBeDefined();
          }
        }
      }
    }
  });
});

describe('the key policy: every service statement names this account', () => {
  const keyStatements = (): PolicyStatement[] => {
    const keys = resourcesOfType(s.stateful, 'AWS::KMS::Key');
    expect(keys).toHaveLength(1);
    return docStatements(keys[0]?.[1].Properties, 'KeyPolicy');
  };

  it('has a source condition (aws:SourceAccount, aws:SourceArn or the encryption context) on each', () => {
    const services = keyStatements().filter((st) => st.Effect === 'Allow' && servicesOf(st).length > 0);
    expect(services.length).toBeGreaterThanOrEqual(6);
    for (const st of services) {
      const keys = Object.values(st.Condition ?? {}).flatMap((block) => Object.keys(block));
      expect(
        keys.some((k) => k === 'aws:SourceAccount' || k === 'aws:SourceArn' || k.startsWith('kms:EncryptionContext:')),
        `${st.Sid ?? servicesOf(st).join()} ${JSON.stringify(st.Condition)}`,
      ).toBe(true);
    }
  });

  /** The topic name an `arn:aws:sns:region:account:NAME` condition value allows (resolved tokens joined), or undefined. */
  const topicArnPattern = (value: unknown): string | undefined => {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    const m = /^arn:aws:sns:eu-west-1:123456789012:([^:]+)$/.exec(text);
    return m?.[1];
  };

  it('lets SNS encrypt into each KMS-encrypted subscription dead-letter queue, for that subscription’s topic only', () => {
    const stmts = keyStatements();
    let checked = 0;
    for (const [name, t] of templates) {
      for (const [id, sub] of resourcesOfType(t, 'AWS::SNS::Subscription')) {
        const target = (sub.Properties?.['RedrivePolicy'] as { deadLetterTargetArn?: { 'Fn::GetAtt'?: [string, string] } } | undefined)?.deadLetterTargetArn?.['Fn::GetAtt']?.[0];
        if (target === undefined) continue;
        const queue = resourcesOfType(t, 'AWS::SQS::Queue').find(([qid]) => qid === target)?.[1];
        if (queue?.Properties?.['KmsMasterKeyId'] === undefined) continue;
        // The topic as the key policy (stateful stack) names it.
        const topicArn = sub.Properties?.['TopicArn'] as { Ref?: string; 'Fn::ImportValue'?: string };
        const topic =
          topicArn.Ref ??
          resourcesOfType(s.stateful, 'AWS::SNS::Topic')
            .map(([tid]) => tid)
            .find((tid) => JSON.stringify(importOf(s.stateful, tid)) === JSON.stringify(topicArn));
        expect(topic, `${name} ${id}: topic ${JSON.stringify(topicArn)}`).toBeDefined();
        const allowed = stmts.filter(
          (st) =>
            st.Effect === 'Allow' &&
            servicesOf(st).includes('sns.amazonaws.com') &&
            actions(st).includes('kms:Decrypt') &&
            actions(st).some((a) => a === 'kms:GenerateDataKey' || a === 'kms:GenerateDataKey*') &&
            topicArnPattern(st.Condition?.['ArnLike']?.['aws:SourceArn']) === `Kitewatch-Stateful-${topic}-*` &&
            st.Condition?.['StringEquals']?.['aws:SourceAccount'] === '123456789012',
        );
        expect(allowed, `${name} ${id}: dead letters to KMS-encrypted ${target}`).toHaveLength(1);
        checked++;
      }
    }
    // The backfill function's subscription to the alarm topic.
    expect(checked).toBeGreaterThanOrEqual(1);
  });

  it('lets EventBridge use the key for queues only through SQS, for queues of this account (conditions SQS sets on each request)', () => {
    const events = keyStatements().filter((st) => servicesOf(st).includes('events.amazonaws.com') && actions(st).includes('kms:GenerateDataKey'));
    const forQueues = events.filter((st) => st.Condition?.['StringEquals']?.['kms:EncryptionContext:aws:events:event-bus:arn'] === undefined);
    expect(forQueues).toHaveLength(1);
    expect(forQueues[0]?.Condition).toEqual({
      StringEquals: { 'kms:ViaService': 'sqs.eu-west-1.amazonaws.com' },
      ArnLike: { 'kms:EncryptionContext:aws:sqs:arn': 'arn:aws:sqs:eu-west-1:123456789012:*' },
    });
  });
});

describe('Lambda roles use the Kitewatch key only through a service', () => {
  const lambdaRoles = (t: Template): [string, string][] =>
    resourcesOfType(t, 'AWS::Lambda::Function').map(([id, fn]) => [id, ((fn.Properties?.['Role'] as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'] ?? [''])[0]]);
  /** A managed policy the role lists: in its own template ({ Ref }) or exported by another ({ Fn::ImportValue }). */
  const managedStatements = (t: Template, arn: unknown): Statement[] => {
    const ref = (arn as { Ref?: string }).Ref;
    const imported = (arn as { 'Fn::ImportValue'?: string })['Fn::ImportValue'];
    const from = (tt: Template, id: string): Statement[] =>
      (resourcesOfType(tt, 'AWS::IAM::ManagedPolicy').find(([x]) => x === id)?.[1].Properties?.['PolicyDocument'] as { Statement: Statement[] } | undefined)?.Statement ?? [];
    if (ref !== undefined) return from(t, ref);
    for (const [, tt] of templates) {
      const outputs = (tt.toJSON() as { Outputs?: Record<string, { Value: { Ref?: string }; Export?: { Name: string } }> }).Outputs ?? {};
      const out = Object.values(outputs).find((o) => o.Export?.Name === imported);
      if (out?.Value.Ref !== undefined) return from(tt, out.Value.Ref);
    }
    return [];
  };
  const roleStatements = (t: Template, roleId: string): Statement[] => {
    const role = resourcesOfType(t, 'AWS::IAM::Role').find(([id]) => id === roleId)?.[1];
    const own = ((role?.Properties?.['Policies'] ?? []) as { PolicyDocument: { Statement: Statement[] } }[]).flatMap((p) => p.PolicyDocument.Statement);
    const managed = ((role?.Properties?.['ManagedPolicyArns'] ?? []) as unknown[]).flatMap((arn) => managedStatements(t, arn));
    return [...inlineStatements(t, roleId), ...own, ...managed];
  };

  it('every kms: statement of every function role is conditioned on kms:ViaService or an encryption context naming the resource', () => {
    let roles = 0;
    for (const [name, t] of templates) {
      for (const [fn, roleId] of lambdaRoles(t)) {
        roles++;
        for (const st of roleStatements(t, roleId).filter((x) => x.Effect === 'Allow' && actions(x).some((a) => a.startsWith('kms:')))) {
          const keys = Object.values(st.Condition ?? {}).flatMap((block) => Object.keys(block as Record<string, unknown>));
          expect(
            keys.some((k) => k === 'kms:ViaService' || k.startsWith('kms:EncryptionContext:')),
            `${name} ${fn} (${roleId}): ${JSON.stringify(actions(st))} ${JSON.stringify(st.Condition ?? null)}`,
          ).toBe(true);
        }
      }
    }
    expect(roles).toBeGreaterThanOrEqual(15);
  });

  it('each queue consumer decrypts through SQS only, and the backfill sends through SQS only', () => {
    let consumers = 0;
    for (const [name, t] of templates) {
      const roles = new Map(lambdaRoles(t));
      for (const [, mapping] of resourcesOfType(t, 'AWS::Lambda::EventSourceMapping')) {
        const fn = (mapping.Properties?.['FunctionName'] as { Ref: string }).Ref;
        const kms = roleStatements(t, roles.get(fn) ?? '').filter((st) => actions(st).includes('kms:Decrypt'));
        expect(
          kms.some((st) => (st.Condition?.['StringEquals'] as Record<string, unknown> | undefined)?.['kms:ViaService'] === 'sqs.eu-west-1.amazonaws.com'),
          `${name} ${fn}`,
        ).toBe(true);
        consumers++;
      }
    }
    expect(consumers).toBeGreaterThanOrEqual(4);
    const backfillFn = s.stacks.pipeline.backfill?.function;
    if (backfillFn === undefined) throw new Error('the test config deploys the backfill');
    const backfill = roleStatements(s.pipeline, logicalId(backfillFn.role));
    const send = backfill.filter((st) => actions(st).includes('kms:GenerateDataKey'));
    expect(send.map((st) => [actions(st).sort(), st.Condition])).toEqual([[['kms:Decrypt', 'kms:GenerateDataKey'], { StringEquals: { 'kms:ViaService': 'sqs.eu-west-1.amazonaws.com' } }]]);
  });
});

describe('the state table: each writer in its own partition', () => {
  it('the detector, contain and Firehose transform roles reach only keys under their own prefix, the key via DynamoDB only', () => {
    const writers: [Template, string, string][] = [
      [s.pipeline, logicalId(s.stacks.pipeline.detector.role), STATE_PARTITIONS.detect],
      [s.containment as Template, logicalId((s.stacks.containment as ContainmentStack).contain.role), STATE_PARTITIONS.containment],
      [s.forwarding as Template, logicalId((s.stacks.forwarding as ForwardingStack).transform!.role), STATE_PARTITIONS.forward],
    ];
    for (const [t, role, prefix] of writers) {
      const statements = inlineStatements(t, role);
      const dynamo = statements.filter((st) => actions(st).some((a) => a.startsWith('dynamodb:')));
      expect(dynamo.length, role).toBeGreaterThan(0);
      for (const st of dynamo) {
        expect(st.Condition, role).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${prefix}*`] }, Null: { 'dynamodb:LeadingKeys': 'false' } });
        // No Scan or Query: they could read across partitions.
        expect(
          actions(st).filter((a) => a === 'dynamodb:Scan' || a === 'dynamodb:Query' || a === 'dynamodb:*'),
          role,
        ).toEqual([]);
      }
      const kms = statements.filter((st) => actions(st).some((a) => a.startsWith('kms:')) && JSON.stringify(st.Resource).includes('Key'));
      const viaDynamo = kms.filter((st) => (st.Condition as Record<string, Record<string, string>> | undefined)?.['StringEquals']?.['kms:ViaService'] === 'dynamodb.eu-west-1.amazonaws.com');
      expect(viaDynamo.length, role).toBe(1);
    }
  });
});
