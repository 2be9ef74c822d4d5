/**
 * The detections-ack runbook in the pipeline stack: its function, its environment read back
 * through the handler's own parser, its IAM (state items of the detect: partition only) and the
 * responders' policy that may invoke it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckEnv, parseAckEnv } from '../../lambdas/detections-ack/env.ts';
import { STATE_PARTITIONS } from '../../lib/state/port.ts';
import { importOf, logicalId, synthKitewatch, TEST_CONFIG, type Synthesized } from './support/synth.ts';
import { actions, allActions, inlineStatements, resource, resources, resourcesOfType, statementsFor, type Statement } from './support/template.ts';

let s: Synthesized;
let ids: { fn: string; role: string; table: string; key: string; policy: string };

beforeAll(() => {
  s = synthKitewatch(TEST_CONFIG, { bundle: false });
  const { pipeline, stateful } = s.stacks;
  ids = {
    fn: logicalId(pipeline.ack.fn),
    role: logicalId(pipeline.ack.role),
    table: logicalId(stateful.stateTable),
    key: logicalId(stateful.key),
    policy: logicalId(pipeline.ackResponderPolicy),
  };
});
afterAll(() => s?.cleanup());

describe('detections-ack runbook', () => {
  it('is a named Node.js 24 arm64 function whose environment its handler accepts', () => {
    const props = resource(s.pipeline, ids.fn).Properties ?? {};
    expect(props).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], FunctionName: 'Kitewatch-detections-ack' });
    const env = (props['Environment'] as { Variables: Record<string, unknown> }).Variables;
    expect(env[AckEnv.stateTableName]).toEqual(importOf(s.stateful, ids.table));
    expect(parseAckEnv({ [AckEnv.stateTableName]: 'kw-state' })).toEqual({ stateTableName: 'kw-state' });
  });

  it('reads and writes state items of the detect: partition only, with no other service', () => {
    const statements = inlineStatements(s.pipeline, ids.role);
    expect(resource(s.pipeline, ids.role).Properties?.['ManagedPolicyArns']).toBeUndefined();
    const used = allActions(statements).filter((a) => !a.startsWith('xray:') && !a.startsWith('logs:'));
    expect(used.filter((a) => !a.startsWith('dynamodb:') && !a.startsWith('kms:'))).toEqual([]);
    const ddb = statementsFor(statements, 'dynamodb:');
    expect(ddb).toHaveLength(1);
    const st = ddb[0] as Statement;
    expect(resources(st)).toEqual([importOf(s.stateful, ids.table, 'Arn')]);
    expect(actions(st).filter((a) => /Scan|Create|Delete(Table|Backup)|UpdateTable|TimeToLive/.test(a))).toEqual([]);
    expect(st.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${STATE_PARTITIONS.detect}*`] },
      Null: { 'dynamodb:LeadingKeys': 'false' },
    });
    for (const k of statementsFor(statements, 'kms:')) expect(k.Resource).toEqual(importOf(s.stateful, ids.key, 'Arn'));
  });

  it('responders get a managed policy that invokes this function and nothing else', () => {
    const policies = resourcesOfType(s.pipeline, 'AWS::IAM::ManagedPolicy');
    expect(policies.map(([id]) => id)).toEqual([ids.policy]);
    const doc = resource(s.pipeline, ids.policy).Properties?.['PolicyDocument'] as { Statement: Statement[] };
    expect(doc.Statement).toEqual([{ Sid: 'AcknowledgeFindings', Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [ids.fn, 'Arn'] } }]);
  });
});
