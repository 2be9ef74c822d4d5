/**
 * Synthesizes the Kitewatch app the way `cdk synth` does (cdk.json context, CloudFormation
 * validation on), into cdk.out/test-* so bundles can resolve node_modules. One call per test
 * file, in beforeAll: bundling is the slow part.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import type { IConstruct } from 'constructs';
import { parseConfig } from '../../../lib/config/load.ts';
import type { KitewatchConfig, KitewatchConfigInput } from '../../../lib/config/schema.ts';
import { defineKitewatch, defineTargetAccount, type KitewatchStacks } from '../../../lib/infra/app.ts';
import type { TargetAccountStack } from '../../../lib/infra/target-account-stack.ts';
import { REPO_ROOT } from '../../../lib/infra/kitewatch-function.ts';

export const CDK_CONTEXT = (JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;

export const PARTNER_BUS = 'aws.partner/buildkite.com/acme/0106-187c-12cd4fe';

/** Secrets and roles the test config names (complete ARNs, a partial ARN, names). */
export const TEST_ARNS = {
  apiToken: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kitewatch/buildkite-api-token-AbCdEf',
  agentToken: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:buildkite/agent-token-QwErTy',
  mappedByName: 'ci/deploy-key',
  mappedByArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ci/npm-token-ZxCvBn',
  oidcRoleName: 'buildkite-deploy',
  oidcRoleArn: 'arn:aws:iam::123456789012:role/ci/buildkite-release',
  splunkToken: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kitewatch/splunk-hec-Sp1unk',
  datadogKey: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kitewatch/datadog-api-key',
  lakeKey: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
} as const;

/** Values that differ from the defaults, so a test can tell that config reached the template. */
export const TEST_CONFIG = {
  aws: {
    partnerEventBusName: PARTNER_BUS,
    region: 'eu-west-1',
    account: '123456789012',
    eventBusName: 'kitewatch-test',
    logRetentionDays: 180,
    reservedConcurrency: 7,
    maxReceiveCount: 4,
    archiveRetentionDays: 30,
    quarantineRetentionDays: 400,
    alarmEmail: 'secops@example.com',
    normalizer: { memoryMiB: 384, timeoutSeconds: 20, batchSize: 30, maxBatchingWindowSeconds: 3 },
    detector: { memoryMiB: 1536, timeoutSeconds: 45, batchSize: 20, maxBatchingWindowSeconds: 4 },
    containment: {
      buildkiteApiTokenSecretArn: TEST_ARNS.apiToken,
      agentTokenSecretArns: [TEST_ARNS.agentToken],
      agentTokenRotationDays: 14,
      memoryMiB: 384,
      timeoutSeconds: 50,
      batchSize: 4,
      maxBatchingWindowSeconds: 2,
      runbookTimeoutSeconds: 90,
      oidcRoleBoundaryPolicy: 'boundaries/buildkite-oidc',
    },
  },
  detectors: { 'unusual-ip': { allowedCidrs: ['203.0.113.0/24'] } },
  containment: {
    mode: 'enforce',
    policy: [
      { detector: 'unusual-ip', targetTypes: ['AgentToken', 'ClusterToken'], actions: ['revoke-agent-token', 'stop-agent'] },
      { detector: 'secret-access', actions: ['rotate-secret', 'revoke-role-sessions'] },
    ],
    secretMappings: [{ buildkite: { name: 'DEPLOY_KEY' }, secretsManager: [TEST_ARNS.mappedByName, TEST_ARNS.mappedByArn] }],
    oidcRoles: [{ role: TEST_ARNS.oidcRoleName }, { role: TEST_ARNS.oidcRoleArn, pipelines: ['release'] }],
    accounts: [{ id: '210987654321', externalId: 'kw-ext-test' }],
    approval: { deadlineMinutes: 45 },
  },
  forwarding: {
    destinations: {
      splunkHec: { endpoint: 'https://http-inputs-firehose-acme.splunkcloud.com:443', tokenSecretArn: TEST_ARNS.splunkToken, index: 'buildkite' },
      http: [{ name: 'datadog', endpoint: 'https://aws-kinesis-http-intake.logs.datadoghq.eu/v1/input', accessKeySecretArn: TEST_ARNS.datadogKey }],
      s3: { layout: 'ocsf', prefix: 'ocsf/' },
      securityHub: { enabled: true, batchSize: 50, maxBatchingWindowSeconds: 3 },
    },
    backupRetentionDays: 90,
    alarmFreshnessSeconds: 600,
  },
} satisfies KitewatchConfigInput;

export interface Synthesized {
  readonly app: App;
  readonly config: KitewatchConfig;
  readonly stacks: KitewatchStacks;
  /** bin/target-account.ts's stack, when asked for (`targetAccount: true`) and containment.accounts names one. */
  readonly targetAccount: TargetAccountStack | undefined;
  readonly outdir: string;
  readonly stateful: Template;
  readonly pipeline: Template;
  /** The FeatureOffStack's template when the config turns containment off. */
  readonly containment: Template;
  /** The FeatureOffStack's template when the config forwards nowhere. */
  readonly forwarding: Template;
  readonly synthMs: number;
  /** Removes the assembly directory. */
  cleanup(): void;
}

export interface SynthOptions {
  /** Run esbuild; off, NodejsFunction gets a placeholder asset (fast, for template-only tests). */
  readonly bundle?: boolean;
  /** Called between defining the stacks and synthesizing (e.g. to register nag plugins). */
  readonly beforeSynth?: (app: App) => void;
  /**
   * Also define the target-account stack (bin/target-account.ts, a separate app in use) in the same
   * assembly, so that the compliance gates read its template too. Only when containment.accounts names one.
   */
  readonly targetAccount?: boolean;
}

export function synthKitewatch(input: KitewatchConfigInput, options: SynthOptions = {}): Synthesized {
  const base = join(REPO_ROOT, 'cdk.out');
  mkdirSync(base, { recursive: true });
  const outdir = mkdtempSync(join(base, 'test-'));
  // The CLI turns asset and path metadata on by default; the gates read both.
  const context: Record<string, unknown> = {
    ...CDK_CONTEXT,
    'aws:cdk:enable-asset-metadata': true,
    'aws:cdk:enable-path-metadata': true,
  };
  if (options.bundle === false) context['aws:cdk:bundling-stacks'] = [];
  const started = performance.now();
  const app = new App({ outdir, context });
  let config: KitewatchConfig;
  let stacks: KitewatchStacks;
  let targetAccount: TargetAccountStack | undefined;
  let assembly: CloudAssembly;
  try {
    config = parseConfig(input, 'test config');
    stacks = defineKitewatch(app, config);
    if (options.targetAccount === true && config.containment.mode !== 'off' && config.containment.accounts.length > 0) targetAccount = defineTargetAccount(app, config);
    options.beforeSynth?.(app);
    assembly = app.synth();
  } catch (error) {
    rmSync(outdir, { recursive: true, force: true });
    throw error;
  }
  const synthMs = performance.now() - started;
  const template = (stack: Stack): Template => Template.fromJSON(assembly.getStackByName(stack.stackName).template as Record<string, unknown>);
  return {
    app,
    config,
    stacks,
    targetAccount,
    outdir,
    stateful: template(stacks.stateful),
    pipeline: template(stacks.pipeline),
    containment: template(stacks.containment),
    forwarding: template(stacks.forwarding),
    synthMs,
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

/** Logical id of a construct's CloudFormation resource (the L2 construct or the L1 itself). */
export function logicalId(construct: IConstruct): string {
  const resource = CfnResource.isCfnResource(construct) ? construct : construct.node.defaultChild;
  if (resource === undefined || !CfnResource.isCfnResource(resource)) {
    throw new Error(`${construct.node.path} has no CloudFormation resource`);
  }
  return Stack.of(resource).getLogicalId(resource);
}

/**
 * What a consumer stack sees for a producer attribute: `{ "Fn::ImportValue": <export> }`,
 * looked up in the producer's Outputs so assertions name the exact resource.
 */
export function importOf(producer: Template, resourceLogicalId: string, attribute?: string): { 'Fn::ImportValue': string } {
  const outputs = (producer.toJSON() as { Outputs?: Record<string, { Value: unknown; Export?: { Name: string } }> }).Outputs ?? {};
  const wanted = attribute === undefined ? { Ref: resourceLogicalId } : { 'Fn::GetAtt': [resourceLogicalId, attribute] };
  for (const output of Object.values(outputs)) {
    if (JSON.stringify(output.Value) === JSON.stringify(wanted) && output.Export !== undefined) {
      return { 'Fn::ImportValue': output.Export.Name };
    }
  }
  throw new Error(`no export of ${JSON.stringify(wanted)}`);
}
