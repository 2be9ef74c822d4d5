import { ArnFormat, Aws, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ACTION_IDS, type ActionId } from '../containment/actions.ts';
import { approvalStateMachineDefinition } from '../containment/approval.ts';
import { grantPublish } from './bus-access.ts';
import type { AwsConfig } from './config.ts';
import type { KitewatchFunction } from './kitewatch-function.ts';
import { suppress } from './suppressions.ts';

export interface ApprovalStateMachineProps {
  /** Physical name; the contain Lambda and approve-action find it by ARN. */
  readonly stateMachineName: string;
  /** The Kitewatch bus: approval requests and expiry activities are published there. */
  readonly eventBus: events.IEventBus;
  /** The runbook Lambda of each action, run once a responder approves. */
  readonly runbooks: Readonly<Record<ActionId, KitewatchFunction>>;
  /** containment.approval.deadlineMinutes, in seconds: the wait task's TimeoutSeconds. */
  readonly deadline: Duration;
  readonly key: kms.IKey;
  readonly config: Pick<AwsConfig, 'logRetentionDays' | 'tracing' | 'retainStatefulResources'>;
}

/**
 * The approval of high-impact actions (lib/containment/approval.ts): a Standard state machine
 * whose first task publishes the request with a task token and waits (`.waitForTaskToken`) until
 * approve-action answers or the deadline passes; approved, it invokes the action's runbook.
 * Encrypted with the key, logged without execution data (inputs carry the task token), traced.
 */
export class ApprovalStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;
  readonly #key: kms.IKey;
  readonly #arnForKeyContext: string;

  constructor(scope: Construct, id: string, props: ApprovalStateMachineProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const deadlineSeconds = props.deadline.toSeconds();
    this.#key = props.key;
    this.#arnForKeyContext = stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: props.stateMachineName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      // The vendedlogs prefix keeps CloudWatch's log resource policy small (AWS recommends it for Step
      // Functions). The group is retained, so its name ends with the stack's own id: a fixed name
      // would make the next create of the stack fail on the group the last one left behind.
      logGroupName: `/aws/vendedlogs/states/${props.stateMachineName}-${Fn.select(2, Fn.split('/', Aws.STACK_ID))}`,
      retention: props.config.logRetentionDays as logs.RetentionDays,
      encryptionKey: props.key,
      removalPolicy: props.config.retainStatefulResources ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: 'Kitewatch approval state machine',
    });
    grantPublish(props.eventBus, this.role, 'approval');
    // The definition invokes each runbook by its unqualified ARN: no version or alias wildcard.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RunApprovedRunbook',
        actions: ['lambda:InvokeFunction'],
        resources: ACTION_IDS.map((action) => props.runbooks[action].fn.functionArn),
      }),
    );

    const definition = approvalStateMachineDefinition({
      eventBusName: props.eventBus.eventBusName,
      runbookFunctionArns: Object.fromEntries(ACTION_IDS.map((action) => [action, props.runbooks[action].fn.functionArn])) as Record<ActionId, string>,
      deadlineSeconds,
    });

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(stack.toJsonString(definition)),
      role: this.role,
      encryptionConfiguration: new sfn.CustomerManagedEncryptionConfiguration(props.key, Duration.minutes(5)),
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: props.config.tracing,
      comment: 'Kitewatch: wait for a responder to approve a containment action, then run its runbook',
    });

    suppress(this.role, {
      nag: ['NIST.800.53.R5-IAMNoInlinePolicy'],
      reason: "CDK grant calls write this role's own policy (AWS::IAM::Policy), which dies with the role; nothing else attaches it.",
    });
    suppress(this.role, {
      nag: ['AwsSolutions-IAM5[Resource::*]'],
      reason: 'CloudWatch Logs delivery (logs:CreateLogDelivery and friends) and X-Ray have no resource-level permissions; CDK adds them for logging and tracing.',
    });
    if (!props.config.tracing) {
      suppress(this.stateMachine, {
        nag: ['AwsSolutions-SF2', 'Serverless-StepFunctionStateMachineXray'],
        reason: 'Tracing is turned off by configuration (aws.tracing: false) for this deployment, for the Lambdas and the state machine alike.',
      });
    }
  }

  /** states:StartExecution, and the key to encrypt the execution input (this state machine's context only). */
  grantStartExecution(grantee: iam.IGrantable): void {
    this.stateMachine.grantStartExecution(grantee);
    this.#grantKey(grantee);
  }

  /** SendTaskSuccess / SendTaskFailure (approve-action), and the key for the task output. */
  grantTaskResponse(grantee: iam.IGrantable): void {
    this.stateMachine.grantTaskResponse(grantee);
    this.#grantKey(grantee);
  }

  // Step Functions encrypts inputs and task outputs with the key on the caller's behalf.
  #grantKey(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [this.#key.keyArn],
        conditions: { StringEquals: { 'kms:EncryptionContext:aws:states:stateMachineArn': this.#arnForKeyContext } },
      }),
    );
  }
}
