import { App, Tags, Validations, type Environment } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks, ServerlessChecks, type NagPack } from 'cdk-nag';
import { loadConfig, parseConfig } from '../config/load.ts';
import type { KitewatchConfig } from '../config/schema.ts';
import { PipelineStack } from './pipeline-stack.ts';
import { StatefulStack } from './stateful-stack.ts';

export interface KitewatchStacks {
  readonly stateful: StatefulStack;
  readonly pipeline: PipelineStack;
}

/**
 * The configuration `cdk synth` / `cdk deploy` use, from context: `-c config='{"aws":...}'`
 * (inline JSON), else `-c configFile=path`, else ./kitewatch.config.json, else defaults (which
 * fail at synth with a message naming the missing bus).
 */
export function configFromContext(app: App): KitewatchConfig {
  const inline: unknown = app.node.tryGetContext('config');
  if (inline !== undefined) {
    const raw: unknown = typeof inline === 'string' ? JSON.parse(inline) : inline;
    return parseConfig(raw, 'context "config"');
  }
  const file: unknown = app.node.tryGetContext('configFile');
  if (file !== undefined && typeof file !== 'string') throw new Error('context "configFile" must be a path');
  return loadConfig(file);
}

/** The nag packs every synth runs; findings of severity error fail the synth. */
export function compliancePacks(): NagPack[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks(), new NIST80053R5Checks()];
}

/** Adds the Kitewatch stacks to `app`. Tests call this with explicit config. */
export function defineKitewatch(app: App, config: KitewatchConfig): KitewatchStacks {
  const { aws } = config;
  const env: Environment = { account: aws.account, region: aws.region };
  const stateful = new StatefulStack(app, `${aws.stackPrefix}-Stateful`, {
    env,
    config: aws,
    description: 'Kitewatch stateful resources: KMS key, state table, quarantine and access-log buckets, buses, archive',
    terminationProtection: aws.retainStatefulResources,
  });
  const pipeline = new PipelineStack(app, `${aws.stackPrefix}-Pipeline`, {
    env,
    config: aws,
    stateful,
    description: 'Kitewatch pipeline: rules, queues and functions (stateless, safe to replace)',
  });
  Tags.of(app).add('project', 'kitewatch');
  return { stateful, pipeline };
}

/** Registers the nag packs as synth-time validation plugins. */
export function addCompliancePlugins(app: App): void {
  Validations.of(app).addPlugins(...compliancePacks());
}
