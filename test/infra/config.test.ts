/**
 * How configuration reaches `cdk synth`: the `aws` section of the one schema, its synth-time
 * checks, and bin/app.ts run exactly as the CDK CLI runs it (CDK_OUTDIR + CDK_CONTEXT_JSON).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import * as z from 'zod';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../lib/config/load.ts';
import { KitewatchConfig } from '../../lib/config/schema.ts';
import { configFromContext } from '../../lib/infra/app.ts';
import { AwsConfig, DeployConfigError, ingestSourceOf } from '../../lib/infra/config.ts';
import { REPO_ROOT } from '../../lib/infra/kitewatch-function.ts';
import { CDK_CONTEXT, PARTNER_BUS } from './support/synth.ts';

const scratch = mkdtempSync(join(tmpdir(), 'kitewatch-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function awsError(aws: unknown): string {
  try {
    parseConfig({ aws });
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected the config to be rejected');
}

describe('aws config schema', () => {
  it('has safe defaults and no bus', () => {
    const aws = AwsConfig.parse(undefined);
    expect(aws).toMatchObject({
      createCustomBus: false,
      eventBusName: 'kitewatch',
      logRetentionDays: 365,
      tracing: true,
      reservedConcurrency: 5,
      maxReceiveCount: 5,
      retainStatefulResources: true,
      logLevel: 'INFO',
      normalizer: { memoryMiB: 256, timeoutSeconds: 30, batchSize: 25, maxBatchingWindowSeconds: 2 },
      detector: { memoryMiB: 1024, timeoutSeconds: 60, batchSize: 25, maxBatchingWindowSeconds: 2 },
      containment: { agentTokenSecretArns: [], agentTokenRotationDays: 30, memoryMiB: 256, timeoutSeconds: 60, batchSize: 5, maxBatchingWindowSeconds: 1, runbookTimeoutSeconds: 120 },
    });
    expect(aws.partnerEventBusName).toBeUndefined();
    expect(aws.containment.buildkiteApiTokenSecretArn).toBeUndefined();
  });

  it('describes every key (docs/configuration.md is generated from the descriptions)', () => {
    interface JsonSchema {
      description?: string;
      properties?: Record<string, JsonSchema>;
    }
    const schema = z.toJSONSchema(KitewatchConfig, { io: 'input' }) as unknown as { properties: { aws: JsonSchema } };
    const missing: string[] = [];
    const visit = (node: JsonSchema, path: string): void => {
      for (const [key, child] of Object.entries(node.properties ?? {})) {
        if (!child.description) missing.push(`${path}.${key}`);
        visit(child, `${path}.${key}`);
      }
    };
    visit(schema.properties.aws, 'aws');
    expect(missing).toEqual([]);
  });

  it.each([
    [{ partnerEventBusName: 'buildkite' }, /aws\.partnerEventBusName: must look like aws\.partner\/buildkite\.com\/<org-slug>\/<id>/],
    [{ partnerEventBusName: 'aws.partner/github.com/acme/1' }, /aws\.partnerEventBusName: must look like/],
    [{ partnerEventBusName: PARTNER_BUS, createCustomBus: true }, /aws\.createCustomBus: set either partnerEventBusName or createCustomBus/],
    [{ partnerEventBusName: PARTNER_BUS, customBusAllowedAccounts: ['123456789012'] }, /customBusAllowedAccounts: only applies with createCustomBus/],
    [{ createCustomBus: true, customBusAllowedAccounts: ['1234'] }, /must be a 12-digit AWS account id/],
    [{ logRetentionDays: 42 }, /aws\.logRetentionDays: must be one of 1, 3, 5/],
    [{ reservedConcurrency: 1 }, /aws\.reservedConcurrency: must be at least 2/],
    [{ normalizer: { batchSize: 50, maxBatchingWindowSeconds: 0 } }, /batchSize above 10 only with maxBatchingWindowSeconds/],
    [{ alarmEmail: 'not-an-address' }, /aws\.alarmEmail/],
    [{ partnerBus: PARTNER_BUS }, /unknown key "aws\.partnerBus"/],
    [{ detector: { batchSize: 50, maxBatchingWindowSeconds: 0 } }, /aws\.detector\.maxBatchingWindowSeconds: SQS allows a batchSize above 10/],
    [
      { containment: { buildkiteApiTokenSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:kitewatch/token' } },
      /aws\.containment\.buildkiteApiTokenSecretArn: must be the complete secret ARN, with the 6-character suffix/,
    ],
    [{ containment: { agentTokenSecretArns: ['buildkite/agent-token'] } }, /aws\.containment\.agentTokenSecretArns\.0: must be the complete secret ARN/],
    [{ containment: { timeoutSeconds: 10 } }, /aws\.containment\.timeoutSeconds: must be at least 30/],
    [{ containment: { batchSize: 20 } }, /aws\.containment\.batchSize/],
    [{ containment: { apiToken: 'x' } }, /unknown key "aws\.containment\.apiToken"/],
    [{ blindness: { backfillSeedDays: 30, resentEventMemoryDays: 14 } }, /aws\.blindness\.resentEventMemoryDays: must be more than the backfill's reach \(30 days.*set it to 31 or more/],
  ])('rejects %j with a message naming the key', (aws, message) => {
    expect(awsError(aws)).toMatch(message);
  });

  it('fails the synth clearly when neither the partner bus nor a custom bus is configured', () => {
    const aws = AwsConfig.parse({});
    expect(() => ingestSourceOf(aws)).toThrow(DeployConfigError);
    expect(() => ingestSourceOf(aws)).toThrow(/aws\.partnerEventBusName is not set.*createCustomBus: true.*-c configFile=/s);
    expect(ingestSourceOf(AwsConfig.parse({ partnerEventBusName: PARTNER_BUS }))).toEqual({ kind: 'partner', busName: PARTNER_BUS });
    expect(ingestSourceOf(AwsConfig.parse({ createCustomBus: true }))).toEqual({ kind: 'custom' });
  });
});

describe('config from CDK context', () => {
  it('reads -c configFile=path', () => {
    const app = new App({ context: { configFile: join(REPO_ROOT, 'examples/kitewatch.config.json') } });
    expect(configFromContext(app).aws.partnerEventBusName).toMatch(/^aws\.partner\/buildkite\.com\//);
  });

  it('reads inline -c config=<json>, which wins over configFile', () => {
    const app = new App({
      context: {
        config: JSON.stringify({ aws: { createCustomBus: true } }),
        configFile: join(REPO_ROOT, 'examples/kitewatch.config.json'),
      },
    });
    const { aws } = configFromContext(app);
    expect(aws.createCustomBus).toBe(true);
    expect(aws.partnerEventBusName).toBeUndefined();
  });

  it('names the file when configFile does not exist', () => {
    const app = new App({ context: { configFile: join(scratch, 'missing.json') } });
    expect(() => configFromContext(app)).toThrow(/config file not found: .*missing\.json/);
  });
});

describe('bin/app.ts as the CDK CLI runs it', () => {
  function runApp(context: Record<string, unknown>, cwd = REPO_ROOT): { status: number | null; stderr: string; outdir: string } {
    const outdir = mkdtempSync(join(scratch, 'out-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CDK_OUTDIR: outdir,
      // Bundling is covered by bundles.test.ts; here it would only cost time.
      CDK_CONTEXT_JSON: JSON.stringify({ ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context }),
    };
    delete env['NODE_ENV'];
    const run = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/app.ts')], { cwd, env, encoding: 'utf8', timeout: 120_000 });
    return { status: run.status, stderr: run.stderr, outdir };
  }

  it('synthesizes every stack from examples/kitewatch.config.json with every gate on', () => {
    const run = runApp({ configFile: 'examples/kitewatch.config.json' });
    expect(run.stderr).not.toMatch(/Error|Validation failed/);
    expect(run.status).toBe(0);
    for (const stack of ['Stateful', 'Pipeline', 'Containment', 'Forwarding']) {
      expect(existsSync(join(run.outdir, `Kitewatch-${stack}.template.json`)), stack).toBe(true);
    }
    // Four stacks through three nag packs and the CloudFormation rules: slow on a shared 2-core machine.
  }, 240_000);

  const example = (): { aws: Record<string, unknown> } & Record<string, unknown> =>
    JSON.parse(readFileSync(join(REPO_ROOT, 'examples/kitewatch.config.json'), 'utf8')) as { aws: Record<string, unknown> };

  it('exits 1 listing every ARN of the example left in another region (placeholders copied as they are)', () => {
    const config = example();
    config.aws['region'] = 'eu-west-1';
    const run = runApp({ config: JSON.stringify(config) }, scratch);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^kitewatch: ARNs that do not fit this deployment:/);
    expect(run.stderr).toMatch(/aws\.containment\.buildkiteApiTokenSecretArn: "arn:aws:secretsmanager:us-east-1:[^"]+" is in region us-east-1, but aws\.region is eu-west-1/);
    expect(run.stderr).toMatch(/containment\.secretMappings\[0\]\.secretsManager\[0\]/);
    expect(run.stderr).toMatch(/forwarding\.destinations\.http\[0\]\.accessKeySecretArn/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 1 naming an ARN of the wrong service', () => {
    const config = example();
    config.aws['alarmTopicArns'] = ['arn:aws:sns:us-east-1:123456789012:secops'];
    (config['containment'] as { oidcRoles: unknown[] }).oidcRoles = [{ role: 'arn:aws:sts::123456789012:assumed-role/deploy/x' }];
    const run = runApp({ config: JSON.stringify(config) }, scratch);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/containment\.oidcRoles\[0\]\.role: "arn:aws:sts::123456789012:assumed-role\/deploy\/x" is an ARN of sts, not iam/);
  });

  it('exits 1 when alarms would reach no one, naming the keys that fix it', () => {
    const config = example();
    delete config.aws['alarmEmail'];
    const run = runApp({ config: JSON.stringify(config) }, scratch);
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toMatch(/^kitewatch: aws\.alarmEmail and aws\.alarmTopicArns are both unset/);
  });

  it('exits 1 with one line naming the key when containment has no Buildkite API token secret', () => {
    const run = runApp({ config: JSON.stringify({ aws: { partnerEventBusName: PARTNER_BUS } }) }, scratch);
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toMatch(/^kitewatch: aws\.containment\.buildkiteApiTokenSecretArn is not set, and containment\.mode is "dry-run"/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 1 with one line, not a stack trace, when no bus is configured', () => {
    const run = runApp({}, scratch);
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toMatch(/^kitewatch: aws\.partnerEventBusName is not set\./);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 1 naming the key when the partner bus name is malformed', () => {
    const run = runApp({ config: JSON.stringify({ aws: { partnerEventBusName: 'my-bus' } }) }, scratch);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/kitewatch: context "config": aws\.partnerEventBusName: must look like/);
  });
});
