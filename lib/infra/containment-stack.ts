import { CfnOutput, Duration, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { ContainEnv } from '../../lambdas/contain/env.ts';
import { RotateAgentTokenEnv } from '../../lambdas/rotate-agent-token/env.ts';
import { DRY_RUN_ALIAS, RunbookEnv } from '../../lambdas/runbooks/env.ts';
import { ACTION_IDS, RUNBOOK_IDS, type ActionId, type RunbookId } from '../containment/actions.ts';
import { APPROVAL_REQUESTED_DETAIL_TYPE } from '../containment/approval.ts';
import type { ContainmentConfig } from '../containment/config.ts';
import { KITEWATCH_SOURCE } from '../engine/bus.ts';
import { ApprovalStateMachine } from './approval-state-machine.ts';
import { grantPublish } from './bus-access.ts';
import { buildkiteApiTokenSecretArnOf, type AwsConfig } from './config.ts';
import { BUILDKITE_ACTIONS, ContainmentAccess, policyActions } from './containment-access.ts';
import { KitewatchFunction } from './kitewatch-function.ts';
import { QueueRoute } from './queue-route.ts';
import { RULE_TARGET_RETRY, RuleDeadLetterQueue } from './rule-dead-letter-queue.ts';
import { ruleNamed } from './rules.ts';
import type { StatefulResources } from './stateful-stack.ts';
import { suppress } from './suppressions.ts';
import { CONTAINMENT_PRINCIPAL_TAG } from './target-account-stack.ts';

export interface ContainmentStackProps extends StackProps {
  readonly config: AwsConfig;
  /** The validated `containment` block: policy, mappings, roles, approval deadline. */
  readonly containment: ContainmentConfig;
  readonly stateful: StatefulResources;
}

/** Runbook Lambda names: `<stackPrefix>-<runbook>`, so responders can type them. */
export function runbookFunctionName(stackPrefix: string, runbook: RunbookId): string {
  return `${stackPrefix}-${runbook}`;
}

/**
 * Containment: the contain Lambda behind its QueueRoute, one runbook Lambda per action plus
 * approve-action, the approval state machine, and the agent-token rotation Lambda. Every
 * permission follows from config: the Buildkite token secret, the mapped secrets, the OIDC
 * roles. The contain Lambda gets its action permissions only in enforce mode (dry-run calls
 * nothing). Stateless: replace it at will; idempotency records live in the state table.
 */
export class ContainmentStack extends Stack {
  readonly contain: KitewatchFunction;
  readonly route: QueueRoute;
  readonly runbooks: Readonly<Record<RunbookId, KitewatchFunction>>;
  readonly approval: ApprovalStateMachine;
  readonly approvalNotifications: events.Rule;
  readonly ruleDeadLetters: RuleDeadLetterQueue;
  readonly responderPolicy: iam.ManagedPolicy;
  /** Each action runbook's dry-run alias: what responders may invoke by default. */
  readonly dryRunAliases: Readonly<Record<ActionId, lambda.Alias>>;
  readonly agentTokenRotation: KitewatchFunction | undefined;
  readonly access: ContainmentAccess;
  /** Failed and timed-out approval executions. */
  readonly approvalAlarms: readonly cloudwatch.Alarm[];
  /** RotationFailed of an agent-token secret -> the alarm topic; present with agent-token secrets. */
  readonly rotationFailures: events.Rule | undefined;

  constructor(scope: Construct, id: string, props: ContainmentStackProps) {
    super(scope, id, props);
    const { config, containment, stateful } = props;
    const apiTokenArn = buildkiteApiTokenSecretArnOf(config, containment.mode);
    const apiToken = secretsmanager.Secret.fromSecretCompleteArn(this, 'BuildkiteApiToken', apiTokenArn);
    const bus = stateful.kitewatchBus;
    this.access = new ContainmentAccess({ containment, oidcRoleBoundaryPolicy: config.containment.oidcRoleBoundaryPolicy });
    const common = { key: stateful.key, config } as const;

    this.agentTokenRotation = config.containment.agentTokenSecretArns.length === 0 ? undefined : this.agentTokenRotator(config, apiToken, stateful.key);

    const runbooks = {} as Record<RunbookId, KitewatchFunction>;
    for (const runbook of RUNBOOK_IDS) {
      const callsBuildkite = runbook !== 'approve-action' && BUILDKITE_ACTIONS.has(runbook);
      const fn = new KitewatchFunction(this, `Runbook-${runbook}`, {
        entry: `lambdas/runbooks/${runbook}/handler.ts`,
        functionName: runbookFunctionName(config.stackPrefix, runbook),
        serviceName: `runbook-${runbook}`,
        description:
          runbook === 'approve-action'
            ? 'Kitewatch runbook: approve or deny a containment action waiting in the approval state machine'
            : `Kitewatch runbook: ${runbook} on one target (dryRun defaults to true)`,
        memoryMiB: 256,
        timeout: Duration.seconds(config.containment.runbookTimeoutSeconds),
        environment: {
          [RunbookEnv.eventBusName]: bus.eventBusName,
          ...((runbook === 'rotate-secret' || runbook === 'revoke-role-sessions') && containment.accounts.length > 0 ? { [RunbookEnv.accounts]: JSON.stringify(containment.accounts) } : {}),
          ...(callsBuildkite ? { [RunbookEnv.apiTokenSecretArn]: apiTokenArn } : {}),
        },
        ...common,
        invokedBy: 'responder',
      });
      grantPublish(bus, fn.role, 'runbook');
      if (callsBuildkite) apiToken.grantRead(fn.fn);
      if (runbook === 'rotate-secret' || runbook === 'revoke-role-sessions') this.grantAssumeTargetRoles(fn, containment, config.stackPrefix);
      if (runbook !== 'approve-action') {
        this.access.grantActions(fn.role, new Set<ActionId>([runbook]));
        if (runbook === 'rotate-secret') this.grantRotationInvoke(fn.role);
      }
      runbooks[runbook] = fn;
    }
    this.runbooks = runbooks;

    this.approval = new ApprovalStateMachine(this, 'Approval', {
      stateMachineName: `${config.stackPrefix}-approval`,
      eventBus: bus,
      runbooks: Object.fromEntries(ACTION_IDS.map((a) => [a, runbooks[a]])) as Record<ActionId, KitewatchFunction>,
      deadline: Duration.minutes(containment.approval.deadlineMinutes),
      ...common,
    });
    this.approval.grantTaskResponse(runbooks['approve-action'].fn);

    this.contain = new KitewatchFunction(this, 'Contain', {
      entry: 'lambdas/contain/handler.ts',
      serviceName: 'contain',
      description: `Kitewatch: Detection Findings -> containment policy (${containment.mode}) -> Remediation Activities on the Kitewatch bus`,
      memoryMiB: config.containment.memoryMiB,
      timeout: Duration.seconds(config.containment.timeoutSeconds),
      environment: {
        [ContainEnv.eventBusName]: bus.eventBusName,
        [ContainEnv.stateTable]: stateful.stateTable.tableName,
        [ContainEnv.config]: JSON.stringify(containment),
        [ContainEnv.apiTokenSecretArn]: apiTokenArn,
        [ContainEnv.approvalStateMachineArn]: this.approval.stateMachine.stateMachineArn,
      },
      ...common,
      invokedBy: 'sqs',
    });
    grantPublish(bus, this.contain.role, 'contain');
    if (containment.mode === 'enforce') {
      const actions = policyActions(containment);
      stateful.grantStateReadWrite(this.contain.role, 'containment');
      if ([...actions].some((a) => BUILDKITE_ACTIONS.has(a))) apiToken.grantRead(this.contain.fn);
      this.access.grantActions(this.contain.role, actions);
      if (actions.has('rotate-secret')) this.grantRotationInvoke(this.contain.role);
      if (actions.has('rotate-secret') || actions.has('revoke-role-sessions')) this.grantAssumeTargetRoles(this.contain, containment, config.stackPrefix);
      if (actions.size > 0) this.approval.grantStartExecution(this.contain.fn);
    }

    this.route = new QueueRoute(this, 'Route', {
      rule: ruleNamed('findings-to-containment'),
      buses: { buildkite: stateful.ingestBus, kitewatch: bus },
      consumer: this.contain,
      consumerTarget: 'contain',
      key: stateful.key,
      alarmTopic: stateful.alarmTopic,
      maxReceiveCount: config.maxReceiveCount,
      retainDeadLetters: config.retainStatefulResources,
      batchSize: config.containment.batchSize,
      maxBatchingWindow: Duration.seconds(config.containment.maxBatchingWindowSeconds),
    });

    // A responder learns of a request (and gets its task token) by mail, on the alarm topic.
    this.ruleDeadLetters = new RuleDeadLetterQueue(this, 'RuleDeadLetters', {
      key: stateful.key,
      retain: config.retainStatefulResources,
      alarmTopic: stateful.alarmTopic,
      holds: 'approval requests for the alarm topic',
    });
    const approveFn = runbookFunctionName(config.stackPrefix, 'approve-action');
    const field = (path: string): string => events.EventField.fromPath(`$.detail.${path}`);
    this.approvalNotifications = new events.Rule(this, 'ApprovalRequests', {
      eventBus: bus,
      description: 'Kitewatch approval requests (from the approval state machine) -> the alarm topic, so a responder can answer',
      eventPattern: { source: [KITEWATCH_SOURCE], detailType: [APPROVAL_REQUESTED_DETAIL_TYPE] },
    });
    const notifyRole = new iam.Role(this, 'ApprovalRequestsRole', {
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': this.account } } }),
      description: 'Kitewatch: EventBridge publishes approval requests to the alarm topic',
    });
    suppress(notifyRole, {
      nag: ['AwsSolutions-IAM5[Action::kms:GenerateDataKey*]', 'NIST.800.53.R5-IAMNoInlinePolicy'],
      reason: "grantPublish on the KMS-encrypted alarm topic: sns:Publish on that topic and the key's data-key calls on that one key, in this role's own policy.",
    });
    // The alarm topic, and the extra topics (aws.alarmTopicArns): a responder may watch either.
    const approvalTopics = [stateful.alarmTopic, ...config.alarmTopicArns.map((arn, i) => sns.Topic.fromTopicArn(this, `AlarmTopicArn${i}`, arn))];
    const request = events.RuleTargetInput.fromText(
      // No angle brackets or quotes in the text: EventBridge reads <x> as a placeholder.
      [
        `Kitewatch asks for approval: ${field('action')} on ${field('target.type')} ${field('target.uid')} (${field('why')}).`,
        `Finding ${field('correlationUid')}, approval ${field('approvalId')}. Deadline ${field('deadline')}: unanswered, the action is not run.`,
        `Answer with: kitewatch runbook approve-action --deployed --function-name ${approveFn} --input answer.json`,
        'answer.json holds taskToken (below), decision (approve or deny), responder (your name) and dryRun false; see docs/deploy.md.',
        'Whoever holds the task token and may call the approve-action runbook decides: do not forward this mail.',
        `Task token: ${field('taskToken')}`,
      ].join('\n'),
    );
    for (const topic of approvalTopics) {
      this.approvalNotifications.addTarget(new targets.SnsTopic(topic, { role: notifyRole, deadLetterQueue: this.ruleDeadLetters.queue, ...RULE_TARGET_RETRY, message: request }));
    }

    this.approvalAlarms = this.approvalFailureAlarms(stateful.alarmTopic);
    this.rotationFailures = this.agentTokenRotation === undefined ? undefined : this.rotationFailureRule(config, stateful.alarmTopic, notifyRole);

    // Responders answer approvals and may dry-run any action; acting directly would bypass the
    // approval state machine, so it is an explicit opt-in. A qualified ARN grants that alias only.
    this.dryRunAliases = Object.fromEntries(ACTION_IDS.map((a) => [a, new lambda.Alias(this, `Runbook-${a}-DryRun`, { aliasName: DRY_RUN_ALIAS, version: runbooks[a].fn.currentVersion })])) as Record<
      ActionId,
      lambda.Alias
    >;
    const responderStatements = [
      new iam.PolicyStatement({ sid: 'AnswerApprovals', actions: ['lambda:InvokeFunction'], resources: [runbooks['approve-action'].fn.functionArn] }),
      new iam.PolicyStatement({ sid: 'DryRunActions', actions: ['lambda:InvokeFunction'], resources: ACTION_IDS.map((a) => this.dryRunAliases[a].functionArn) }),
    ];
    if (config.containment.respondersMayActDirectly) {
      responderStatements.push(new iam.PolicyStatement({ sid: 'ActDirectly', actions: ['lambda:InvokeFunction'], resources: ACTION_IDS.map((a) => runbooks[a].fn.functionArn) }));
    }
    this.responderPolicy = new iam.ManagedPolicy(this, 'ResponderPolicy', {
      description: config.containment.respondersMayActDirectly
        ? 'Kitewatch responders: answer approvals, dry-run or run any action runbook (aws.containment.respondersMayActDirectly)'
        : "Kitewatch responders: answer approvals and dry-run any action (each action runbook's dry-run alias); real actions pass approval",
      statements: responderStatements,
    });

    new CfnOutput(this, 'ApprovalStateMachineArn', { value: this.approval.stateMachine.stateMachineArn });
    new CfnOutput(this, 'ResponderPolicyArn', {
      value: this.responderPolicy.managedPolicyArn,
      description: 'Attach to the people or roles who run runbooks',
    });
    for (const runbook of RUNBOOK_IDS) {
      new CfnOutput(this, `RunbookFunction-${runbook}`, { value: runbooks[runbook].fn.functionName, description: `kitewatch runbook ${runbook} --deployed --function-name <this>` });
    }
  }

  /**
   * An execution that failed or timed out lost an approved (or pending) action: an expired
   * deadline is not one of them, the definition catches it and publishes the expiry.
   */
  private approvalFailureAlarms(topic: sns.ITopic): cloudwatch.Alarm[] {
    const sm = this.approval.stateMachine;
    const alarms = [
      sm.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }).createAlarm(this.approval, 'ExecutionsFailedAlarm', {
        alarmDescription: 'Kitewatch approval: an execution failed (the approved runbook errored, or the request could not be published); the action did not run',
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      sm.metricTimedOut({ period: Duration.minutes(5), statistic: 'Sum' }).createAlarm(this.approval, 'ExecutionsTimedOutAlarm', {
        alarmDescription: 'Kitewatch approval: an execution timed out; the action did not run and no expiry was published',
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ];
    for (const alarm of alarms) alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));
    return alarms;
  }

  /**
   * Secrets Manager reports a rotation it could not finish (the function failed a step, or could
   * not be invoked) as a RotationFailed CloudTrail event on the default bus; the rotation
   * function's Errors alarm misses the second case.
   */
  private rotationFailureRule(config: AwsConfig, topic: sns.ITopic, role: iam.IRole): events.Rule {
    const rule = new events.Rule(this, 'RotationFailures', {
      description: 'Kitewatch: a rotation of an agent-token secret failed (Secrets Manager RotationFailed) -> the alarm topic',
      eventPattern: {
        source: ['aws.secretsmanager'],
        detailType: ['AWS Service Event via CloudTrail'],
        detail: { eventName: ['RotationFailed'], additionalEventData: { SecretId: [...config.containment.agentTokenSecretArns] } },
      },
    });
    const secret = events.EventField.fromPath('$.detail.additionalEventData.SecretId');
    const message = events.RuleTargetInput.fromText(`Kitewatch: Secrets Manager could not rotate ${secret}; agents keep the current token. See the rotation Lambda's log group and docs/runbooks.md.`);
    for (const target of [topic, ...config.alarmTopicArns.map((arn, i) => sns.Topic.fromTopicArn(this, `RotationAlarmTopicArn${i}`, arn))]) {
      rule.addTarget(new targets.SnsTopic(target, { role, deadLetterQueue: this.ruleDeadLetters.queue, ...RULE_TARGET_RETRY, message }));
    }
    return rule;
  }

  /**
   * sts:AssumeRole (and sts:TagSession, for the finding's session tags) on the containment role of
   * each account of containment.accounts, and the tag those roles' trust policies require.
   */
  private grantAssumeTargetRoles(fn: KitewatchFunction, containment: ContainmentConfig, stackPrefix: string): void {
    if (containment.accounts.length === 0) return;
    Tags.of(fn.role).add(CONTAINMENT_PRINCIPAL_TAG, stackPrefix);
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'AssumeTargetAccountRoles',
        actions: ['sts:AssumeRole', 'sts:TagSession'],
        resources: containment.accounts.map((a) => `arn:${this.partition}:iam::${a.id}:role/${a.roleName}`),
      }),
    );
  }

  /** RotateSecret on a secret with a rotation Lambda needs lambda:InvokeFunction on it (unqualified ARN only). */
  private grantRotationInvoke(role: iam.Role): void {
    if (this.agentTokenRotation === undefined) return;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'RotateWithAgentTokenRotation', actions: ['lambda:InvokeFunction'], resources: [this.agentTokenRotation.fn.functionArn] }));
  }

  /**
   * The Secrets Manager rotation function of the agent-token secrets, with a schedule on each.
   * CDK's addRotationSchedule grants it Describe/Get/Put/UpdateVersionStage on that secret only.
   */
  private agentTokenRotator(config: AwsConfig, apiToken: secretsmanager.ISecret, key: StatefulResources['key']): KitewatchFunction {
    const rotator = new KitewatchFunction(this, 'AgentTokenRotation', {
      entry: 'lambdas/rotate-agent-token/handler.ts',
      serviceName: 'rotate-agent-token',
      description: 'Kitewatch: Secrets Manager rotation of secrets holding a Buildkite cluster agent token',
      memoryMiB: 256,
      timeout: Duration.seconds(60),
      environment: { [RotateAgentTokenEnv.apiTokenSecretArn]: apiToken.secretArn },
      key,
      config,
      invokedBy: 'secrets-manager',
    });
    apiToken.grantRead(rotator.fn);
    suppress(rotator.role, {
      nag: ['AwsSolutions-IAM5[Resource::*]'],
      reason: 'secretsmanager:GetRandomPassword, which addRotationSchedule grants, takes no secret: the API has no resource-level permissions.',
    });
    for (const arn of config.containment.agentTokenSecretArns) {
      const name = arn.slice(arn.indexOf(':secret:') + ':secret:'.length);
      const secret = secretsmanager.Secret.fromSecretCompleteArn(this, `AgentTokenSecret-${name.replace(/[^A-Za-z0-9-]/g, '-')}`, arn);
      secret.addRotationSchedule('Rotation', {
        rotationLambda: rotator.fn,
        automaticallyAfter: Duration.days(config.containment.agentTokenRotationDays),
        // A deploy must not rotate (and revoke) a token that agents are using right now.
        rotateImmediatelyOnUpdate: false,
      });
    }
    // Secrets Manager of this account only (CDK's grant names the service, not the account).
    for (const child of rotator.fn.node.children) {
      if (child instanceof lambda.CfnPermission && child.principal === 'secretsmanager.amazonaws.com') child.sourceAccount = this.account;
    }
    return rotator;
  }
}
