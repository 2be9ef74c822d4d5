import { Annotations, App, Tags, Validations, type Environment } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks, ServerlessChecks, type NagPack } from 'cdk-nag';
import { loadConfig, parseConfig } from '../config/load.ts';
import type { KitewatchConfig } from '../config/schema.ts';
import { ContainmentStack } from './containment-stack.ts';
import { arnProblems } from './arn-checks.ts';
import { alarmDestinationsOf, DeployConfigError } from './config.ts';
import { FeatureOffStack } from './feature-off-stack.ts';
import { addFunctionAlarms, routeAlarms } from './operational-alarms.ts';
import { ForwardingStack } from './forwarding-stack.ts';
import { forwardingPlan, forwardsAnything } from './forwarding-plan.ts';
import { PipelineStack } from './pipeline-stack.ts';
import { StatefulStack } from './stateful-stack.ts';
import { TargetAccountStack } from './target-account-stack.ts';

export interface KitewatchStacks {
  readonly stateful: StatefulStack;
  readonly pipeline: PipelineStack;
  /** A FeatureOffStack when containment.mode is off: the stack is always there, so switching off removes what was deployed. */
  readonly containment: ContainmentStack | FeatureOffStack;
  /** A FeatureOffStack when `forwarding` configures no destination. */
  readonly forwarding: ForwardingStack | FeatureOffStack;
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
    forwarding: config.forwarding,
    description: 'Kitewatch stateful resources: KMS key, state table, quarantine, access-log and forwarding buckets, buses, archive, alarm topic',
    terminationProtection: aws.retainStatefulResources,
  });
  const pipeline = new PipelineStack(app, `${aws.stackPrefix}-Pipeline`, {
    env,
    config: aws,
    detectors: config.detectors,
    stateful,
    description: 'Kitewatch pipeline: normalizer and detector with their rules, queues and IP data layer (stateless, safe to replace)',
  });
  const containmentId = `${aws.stackPrefix}-Containment`;
  const containment =
    config.containment.mode === 'off'
      ? new FeatureOffStack(app, containmentId, {
          env,
          feature: 'containment',
          because: 'containment.mode is off',
          description: 'Kitewatch containment: switched off (containment.mode is off); nothing here acts',
        })
      : new ContainmentStack(app, containmentId, {
          env,
          config: aws,
          containment: config.containment,
          stateful,
          description: 'Kitewatch containment: contain Lambda, runbook Lambdas, approval state machine, agent-token rotation (stateless)',
        });
  const forwardingId = `${aws.stackPrefix}-Forwarding`;
  const forwarding = forwardsAnything(forwardingPlan(config.forwarding, aws.stackPrefix))
    ? new ForwardingStack(app, forwardingId, {
        env,
        config: aws,
        forwarding: config.forwarding,
        stateful,
        description: 'Kitewatch forwarding: Firehose delivery streams to the configured SIEMs, their transform Lambda and alarms, the Security Hub forwarder (stateless)',
      })
    : new FeatureOffStack(app, forwardingId, {
        env,
        feature: 'forwarding',
        because: 'forwarding.destinations names no destination',
        description: 'Kitewatch forwarding: switched off (no destination configured); nothing here acts',
      });
  // Checked once the stacks have reported a missing bus or token: those come first.
  const badArns = arnProblems(config);
  if (badArns.length > 0) throw new DeployConfigError(`ARNs that do not fit this deployment:\n  ${badArns.join('\n  ')}`);
  const alarms = alarmDestinationsOf(aws);
  // Consumers go first on `cdk destroy --all`, and come after the stateful stack on deploy.
  for (const consumer of [pipeline, containment, forwarding]) {
    consumer.addStackDependency(stateful);
    addFunctionAlarms(consumer, stateful.alarmTopic);
  }
  routeAlarms(app, alarms);
  if (alarms.none) {
    Annotations.of(stateful).addWarningV2(
      'kitewatch:alarms-none',
      'aws.alarms is "none": no alarm and no approval request reaches anyone. Set aws.alarmEmail or aws.alarmTopicArns before relying on this deployment.',
    );
  }
  if (config.containment.mode !== 'off' && config.containment.accounts.length > 0) {
    // What the target-account template (bin/target-account.ts) needs, checked here too: a deploy
    // that grants roles no template can create fails now, not later in each account.
    kitewatchAccountFor(aws.account);
    sharedRoleName(config.containment.accounts);
  }
  Tags.of(app).add('project', 'kitewatch');
  return { stateful, pipeline, containment, forwarding };
}

/**
 * The containment role for the accounts of containment.accounts: one environment-agnostic
 * template (StackSets, the external id a parameter). A separate app (bin/target-account.ts), so
 * that `cdk deploy --all` of Kitewatch does not also create it in Kitewatch's own account, where
 * nothing assumes it.
 */
export function defineTargetAccount(app: App, config: KitewatchConfig): TargetAccountStack {
  const { aws } = config;
  if (config.containment.mode === 'off') throw new DeployConfigError('containment.mode is off: no target-account role to synthesize');
  if (config.containment.accounts.length === 0) throw new DeployConfigError('containment.accounts names no account: no target-account role to synthesize');
  const stack = new TargetAccountStack(app, `${aws.stackPrefix}-TargetAccount`, {
    kitewatchAccount: kitewatchAccountFor(aws.account),
    stackPrefix: aws.stackPrefix,
    roleName: sharedRoleName(config.containment.accounts),
    oidcRoleBoundaryPolicy: aws.containment.oidcRoleBoundaryPolicy,
    description: 'Kitewatch containment role for a target account: deploy in each account of containment.accounts (StackSets-ready)',
  });
  Tags.of(app).add('project', 'kitewatch');
  return stack;
}

function kitewatchAccountFor(account: string | undefined): string {
  if (account === undefined) throw new DeployConfigError("containment.accounts is set but aws.account is not: the target-account role trusts Kitewatch's account by id, so set aws.account");
  return account;
}

/** One template serves every account, so every account must name the same role. */
function sharedRoleName(accounts: KitewatchConfig['containment']['accounts']): string {
  const names = [...new Set(accounts.map((a) => a.roleName))];
  if (names.length > 1) throw new DeployConfigError(`containment.accounts name different roleNames (${names.join(', ')}); the target-account stack creates one role name for every account`);
  return names[0] as string;
}

/** Registers the nag packs as synth-time validation plugins. */
export function addCompliancePlugins(app: App): void {
  Validations.of(app).addPlugins(...compliancePacks());
}
