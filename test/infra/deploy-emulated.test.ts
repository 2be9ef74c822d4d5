/**
 * The closest thing to `cdk deploy` these machines run: every Kitewatch stack deployed on moto's
 * CloudFormation with its Lambda bundles published to the bootstrap bucket, then updated through
 * a config change (a destination removed, containment switched off), then Containment destroyed
 * and deployed again. It catches what synth cannot: physical names, deploy order, exports and
 * imports, retained resources in the way of a new create. What moto cannot emulate is listed in
 * support/cloudformation.ts (NOT_EMULATED, MOTO_ADAPTATIONS) and summarized in docs/deploy.md.
 */
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NormalizeEnv } from '../../lambdas/normalize/env.ts';
import type { KitewatchConfigInput } from '../../lib/config/schema.ts';
import { runbookFunctionName } from '../../lib/infra/containment-stack.ts';
import type { ContainmentStack } from '../../lib/infra/containment-stack.ts';
import type { ForwardingStack } from '../../lib/infra/forwarding-stack.ts';
import { awsClientConfig, motoEndpoint, uniqueName } from '../support/moto.ts';
import { assemblyStacks, CloudFormationError, EmulatedCloud, emulate, notEmulatedReason, type AssemblyStack, type Template } from './support/cloudformation.ts';
import { logicalId, PARTNER_BUS, synthKitewatch, TEST_CONFIG, type Synthesized } from './support/synth.ts';

const ACCOUNT = TEST_CONFIG.aws.account;
const REGION = TEST_CONFIG.aws.region;
// A prefix of its own: the moto server is shared with the other test files.
const PREFIX = uniqueName('Kw').replace(/[^A-Za-z0-9-]/g, '');
/** Every destination, the S3 one into Security Lake (custom sources registered by a custom resource). */
const ON = {
  ...TEST_CONFIG,
  aws: { ...TEST_CONFIG.aws, stackPrefix: PREFIX, eventBusName: `${PREFIX.toLowerCase()}-bus` },
  containment: { ...TEST_CONFIG.containment, accounts: TEST_CONFIG.containment.accounts.map((a) => ({ ...a, roleName: `${PREFIX}-containment` })) },
  forwarding: {
    ...TEST_CONFIG.forwarding,
    destinations: {
      ...TEST_CONFIG.forwarding.destinations,
      s3: { layout: 'security-lake', securityLake: { bucketName: 'aws-security-data-lake-eu-west-1-abc', sourceNames: { '2004': 'bk-findings' } } },
    },
  },
} satisfies KitewatchConfigInput;
const { http: _removed, ...remainingDestinations } = ON.forwarding.destinations;
/** The day-2 change: the HTTP destination removed, containment switched off. */
const OFF = {
  ...ON,
  containment: { mode: 'off' },
  forwarding: { ...ON.forwarding, destinations: remainingDestinations },
} satisfies KitewatchConfigInput;

const stackName = (suffix: string): string => `${PREFIX}-${suffix}`;

let on: Synthesized;
let off: Synthesized;
let cloud: EmulatedCloud;
const lambda = (): LambdaClient => new LambdaClient({ ...awsClientConfig(), region: REGION });
const iam = (): IAMClient => new IAMClient({ ...awsClientConfig(), region: REGION });

beforeAll(async () => {
  on = synthKitewatch(ON);
  // Same sources and bundling options: CDK reuses the bundles of the first synth.
  off = synthKitewatch(OFF);
  console.log(`synth with bundling: ${Math.round(on.synthMs)} ms, then ${Math.round(off.synthMs)} ms`);
  cloud = new EmulatedCloud(motoEndpoint(), ACCOUNT, REGION);
  await cloud.partnerBus(PARTNER_BUS);
});
afterAll(() => {
  on?.cleanup();
  off?.cleanup();
});

const stackOf = (s: Synthesized, suffix: string): AssemblyStack => {
  const found = assemblyStacks(s.outdir).find((st) => st.name === stackName(suffix));
  if (found === undefined) throw new Error(`no stack ${stackName(suffix)} in ${s.outdir}`);
  return found;
};

describe('cdk deploy --all, emulated', () => {
  it('deploys every stack after the ones it imports from, with its Lambda bundles in the bootstrap bucket', async () => {
    const order = assemblyStacks(on.outdir).map((s) => s.name);
    expect(order.indexOf(stackName('Stateful'))).toBeLessThan(Math.min(...['Pipeline', 'Containment', 'Forwarding'].map((n) => order.indexOf(stackName(n)))));
    const started = performance.now();
    const results = await cloud.deployAll(on.outdir);
    console.log(`deploy of ${results.size} stacks on moto: ${Math.round(performance.now() - started)} ms`);
    expect([...results]).toEqual(order.map((name) => [name, 'created']));
    for (const name of order) expect(await cloud.cfn.stackStatus(name)).toBe('CREATE_COMPLETE');

    // Every function was created from its published bundle: the code object is where the template points.
    for (const stack of assemblyStacks(on.outdir)) {
      for (const [id, r] of Object.entries(stack.template.Resources)) {
        if (r.Type !== 'AWS::Lambda::Function') continue;
        const code = r.Properties?.['Code'] as { S3Bucket: unknown; S3Key: string };
        const bucket = JSON.stringify(code.S3Bucket)
          .replace(/^\{"Fn::Sub":"(.*)"\}$/, '$1')
          .replaceAll('"', '')
          .replace('${AWS::AccountId}', ACCOUNT)
          .replace('${AWS::Region}', REGION);
        await expect(cloud.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: code.S3Key })), `${stack.name}/${id}`).resolves.toBeDefined();
      }
    }
  });

  it('wires the consumers to the stateful resources through the exports', async () => {
    const stateful = await cloud.cfn.resources(stackName('Stateful'));
    const pipeline = await cloud.cfn.resources(stackName('Pipeline'));
    const normalizer = pipeline.get(logicalId(on.stacks.pipeline.normalizer.fn))?.physicalId as string;
    const env = (await lambda().send(new GetFunctionConfigurationCommand({ FunctionName: normalizer }))).Environment?.Variables ?? {};
    expect(env[NormalizeEnv.quarantineBucket]).toBe(stateful.get(logicalId(on.stacks.stateful.quarantineBucket))?.physicalId);
    expect(env[NormalizeEnv.eventBusName]).toBe(ON.aws.eventBusName);
  });

  it('refuses, as CloudFormation does, a stateful update that drops an export a deployed stack imports', async () => {
    const stateful = stackOf(on, 'Stateful');
    const outputs = stateful.template.Outputs ?? {};
    const imported = JSON.stringify(stackOf(on, 'Pipeline').template);
    const [dropped] = Object.entries(outputs).find(([, o]) => typeof o.Export?.Name === 'string' && imported.includes(`"${o.Export.Name}"`)) ?? [];
    expect(dropped).toBeDefined();
    const { [dropped as string]: _gone, ...kept } = outputs;
    const deploy = cloud.deploy({ ...stateful, template: { ...stateful.template, Outputs: kept } });
    await expect(deploy).rejects.toThrow(CloudFormationError);
    await expect(deploy).rejects.toThrow(new RegExp(`Cannot delete export .* as it is in use by .*${stackName('Pipeline')}`));
    expect(Object.keys((await cloud.cfn.template(stackName('Stateful'))).Outputs ?? {})).toContain(dropped);
  });

  it('removing a destination and switching containment off updates every stack in order, without an export deadlock', async () => {
    const results = await cloud.deployAll(off.outdir);
    expect([...results.keys()]).toEqual(assemblyStacks(off.outdir).map((s) => s.name));
    expect(results.get(stackName('Containment'))).toBe('updated');
    expect(results.get(stackName('Forwarding'))).toBe('updated');
    for (const name of results.keys()) expect(await cloud.cfn.stackStatus(name)).toMatch(/^(CREATE|UPDATE)_COMPLETE$/);
  });

  it('containment off: the stack holds one SSM parameter, and the functions that acted are gone', async () => {
    const resources = [...(await cloud.cfn.resources(stackName('Containment'))).values()];
    expect(resources.map((r) => r.type)).toEqual(['AWS::SSM::Parameter']);
    const gone = lambda().send(new GetFunctionConfigurationCommand({ FunctionName: runbookFunctionName(PREFIX, 'revoke-agent-token') }));
    await expect(gone).rejects.toThrow(/not found/i);
  });

  it("the removed destination's resources are gone, the others stay", async () => {
    const before = stackOf(on, 'Forwarding').template.Resources;
    const after = stackOf(off, 'Forwarding').template.Resources;
    const deployed = await cloud.cfn.resources(stackName('Forwarding'));
    // moto lists what it created: the substituted placeholders are not among them.
    const real = (rs: Record<string, { Type: string }>): string[] => Object.keys(rs).filter((id) => notEmulatedReason(rs[id]?.Type as string) === undefined);
    const removed = real(before).filter((id) => after[id] === undefined);
    expect(removed.length).toBeGreaterThan(0);
    for (const id of removed) expect(deployed.has(id), id).toBe(false);
    expect([...deployed.keys()].sort()).toEqual(real(after).sort());
    // The HTTP destination's rule no longer exists on the Kitewatch bus; the others' rules do.
    const rules = (f: ForwardingStack): Map<string, string> => new Map(f.streams.map((s) => [s.stream.spec.name, logicalId(s.rule)]));
    const onRules = rules(on.stacks.forwarding as ForwardingStack);
    const offRules = rules(off.stacks.forwarding as ForwardingStack);
    const gone = [...onRules].filter(([name]) => !offRules.has(name));
    expect(gone).toHaveLength(1);
    expect(gone[0]?.[0]).toMatch(/datadog/);
    for (const [, id] of gone) expect(deployed.has(id)).toBe(false);
    for (const [, id] of offRules) expect(deployed.get(id)?.type).toBe('AWS::Events::Rule');
  });

  it('Containment can be destroyed and deployed again, on and off, without a retained resource in the way', async () => {
    const name = stackName('Containment');
    await cloud.destroy(name);
    expect(await cloud.cfn.stackStatus(name)).toBeUndefined();
    // Switched back on after the incident: a new create of the full stack.
    expect(await cloud.deploy(stackOf(on, 'Containment'))).toBe('created');
    const contain = on.stacks.containment as ContainmentStack;
    const role = (await cloud.cfn.resources(name)).get(logicalId(contain.contain.role))?.physicalId as string;
    await expect(iam().send(new GetRoleCommand({ RoleName: role }))).resolves.toBeDefined();
    // Destroyed again: its retained log groups and queues stay behind, and the next create must not collide with them.
    await cloud.destroy(name);
    await expect(iam().send(new GetRoleCommand({ RoleName: role }))).rejects.toThrow(/not found|NoSuchEntity/);
    expect(await cloud.deploy(stackOf(on, 'Containment'))).toBe('created');
    await cloud.destroy(name);
    expect(await cloud.deploy(stackOf(off, 'Containment'))).toBe('created');
    expect(await cloud.cfn.stackStatus(name)).toBe('CREATE_COMPLETE');
  });

  it('cdk destroy --all, then cdk deploy --all: every stack comes back', async () => {
    const order = assemblyStacks(off.outdir).map((s) => s.name);
    // Consumers first: the stateful stack's exports are in use until they are gone.
    await expect(cloud.destroy(stackName('Stateful'))).rejects.toThrow(/Cannot delete export .* as it is in use by/);
    for (const name of [...order].reverse()) await cloud.destroy(name);
    expect(await cloud.cfn.liveStacks()).not.toContain(stackName('Stateful'));
    const results = await cloud.deployAll(off.outdir);
    expect([...results]).toEqual(order.map((name) => [name, 'created']));
  });

  it('substitutes only the resource types listed as not emulated', () => {
    const types = new Set(cloud.substituted.values());
    console.log(`substituted for moto: ${[...types].sort().join(', ')}`);
    for (const type of types) expect(notEmulatedReason(type), type).toBeDefined();
    // The resources that matter for names, order and exports were deployed for real.
    for (const type of ['AWS::Lambda::Function', 'AWS::IAM::Role', 'AWS::SQS::Queue', 'AWS::S3::Bucket', 'AWS::Logs::LogGroup', 'AWS::Events::Rule']) expect(types.has(type), type).toBe(false);
  });
});

describe('the target-account role (bin/target-account.ts, for StackSets)', () => {
  it("deploys in a target account with that account's external id, and not in Kitewatch's account", async () => {
    const [target] = ON.containment.accounts;
    const s = synthKitewatch(ON, { bundle: false, targetAccount: true });
    try {
      const stack = assemblyStacks(s.outdir).find((st) => st.name === stackName('TargetAccount'));
      if (stack === undefined || target === undefined) throw new Error('no target-account stack');
      const other = new EmulatedCloud(motoEndpoint(), target.id, REGION);
      await other.bootstrap(stack);
      await other.publishAssets(stack);
      expect(await other.deploy(stack, { parameters: { ExternalId: target.externalId } })).toBe('created');
      const roles = [...(await other.cfn.resources(stack.name)).values()].filter((r) => r.type === 'AWS::IAM::Role');
      expect(roles.map((r) => r.physicalId)).toEqual([target.roleName]);
      await expect(iam().send(new GetRoleCommand({ RoleName: target.roleName }))).rejects.toThrow(/not found|NoSuchEntity/);
      expect(await cloud.cfn.stackStatus(stack.name)).toBeUndefined();
    } finally {
      s.cleanup();
    }
  });
});

describe('exports that do not match', () => {
  it('a consumer whose import the stateful stack does not export fails to deploy', async () => {
    // Another region of the same moto: nothing of the flow above is there.
    const other = new EmulatedCloud(motoEndpoint(), ACCOUNT, 'eu-west-3');
    await other.partnerBus(PARTNER_BUS);
    const stateful = stackOf(on, 'Stateful');
    const pipeline = stackOf(on, 'Pipeline');
    const imported = JSON.stringify(pipeline.template);
    const outputs = stateful.template.Outputs ?? {};
    const dropped = Object.keys(outputs).find((k) => imported.includes(`"${String(outputs[k]?.Export?.Name)}"`)) as string;
    const { [dropped]: _gone, ...kept } = outputs;
    await other.bootstrap(stateful);
    await other.publishAssets(pipeline);
    expect(await other.deploy({ ...stateful, template: { ...stateful.template, Outputs: kept } })).toBe('created');
    await expect(other.deploy(pipeline)).rejects.toThrow(`No export named ${String(outputs[dropped]?.Export?.Name)} found`);
  });
});

describe('the emulated template', () => {
  const template: Template = {
    Resources: {
      Stream: { Type: 'AWS::KinesisFirehose::DeliveryStream', Properties: { DeliveryStreamName: 'x' }, DeletionPolicy: 'Retain' },
      Queue: { Type: 'AWS::SQS::Queue' },
      Rule: {
        Type: 'AWS::Events::Rule',
        Properties: { Targets: [{ Arn: { 'Fn::GetAtt': ['Stream', 'Arn'] } }, { Arn: { 'Fn::GetAtt': ['Queue', 'Arn'] } }], Description: { 'Fn::Sub': '${Stream} to ${Queue}' } },
        DependsOn: 'Stream',
      },
    },
    Outputs: { Name: { Value: { Ref: 'Stream' } } },
  };

  it('replaces a type moto lacks by a placeholder, and Refs and GetAtts to it by what CloudFormation returns', () => {
    const { template: t, substituted } = emulate(template, 'S', 'eu-west-1', '123456789012');
    expect([...substituted]).toEqual([['Stream', 'AWS::KinesisFirehose::DeliveryStream']]);
    expect(t.Resources['Stream']).toEqual({ Type: 'AWS::CloudFormation::WaitConditionHandle', Metadata: { 'kitewatch:emulates': 'AWS::KinesisFirehose::DeliveryStream' }, DeletionPolicy: 'Retain' });
    expect(t.Resources['Rule']?.Properties).toEqual({
      Targets: [{ Arn: 'arn:aws:kinesisfirehose:eu-west-1:123456789012:deliverystream/S-Stream' }, { Arn: { 'Fn::GetAtt': ['Queue', 'Arn'] } }],
      Description: { 'Fn::Sub': 'S-Stream to ${Queue}' },
    });
    expect(t.Resources['Rule']?.DependsOn).toBe('Stream');
    expect(t.Outputs?.['Name']?.Value).toBe('S-Stream');
  });

  it('stops on a type it has not been told about', () => {
    expect(() => emulate({ Resources: { X: { Type: 'AWS::Pipes::Pipe' } } }, 'S', 'eu-west-1', '123456789012')).toThrow(/AWS::Pipes::Pipe.*EMULATED or NOT_EMULATED/);
  });
});
