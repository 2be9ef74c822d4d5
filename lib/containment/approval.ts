import type { SFNClient } from '@aws-sdk/client-sfn';
import { sfnSdk } from '../aws/lazy.ts';
import { ACTION_IDS, type ActionId } from './actions.ts';
import type { ApprovalGateway, ApprovalRequest } from './engine.ts';

/**
 * Approval of high-impact actions on AWS: a Step Functions state machine that announces the
 * request on the Kitewatch bus with a task token and waits; a responder answers with the
 * approve-action runbook (SendTaskSuccess / SendTaskFailure); approved, it invokes the action's
 * runbook Lambda; unanswered by the deadline, it publishes the "expired" Remediation Activity.
 *
 * This file holds the pure definition data; the CDK stack turns it into a StateMachine.
 */
export type SfnPort = Pick<SFNClient, 'send'>;

export const APPROVAL_REQUESTED_DETAIL_TYPE = 'Kitewatch Approval Requested';
export const DENIED_ERROR = 'Kitewatch.Denied';

export interface ApprovalStateMachineProps {
  /** Kitewatch bus: the approval request and the expiry activity are published there. */
  readonly eventBusName: string;
  /** Runbook Lambda ARN per action. */
  readonly runbookFunctionArns: Readonly<Record<ActionId, string>>;
  /** How long the request waits (containment.approval.deadlineMinutes * 60). */
  readonly deadlineSeconds: number;
}

/**
 * Amazon States Language for the approval state machine. Execution input: an ApprovalRequest
 * (what the contain Lambda starts it with). The task's output (from approve-action) is
 * `{"approval": {...}}`, merged into the runbook input.
 */
export function approvalStateMachineDefinition(props: ApprovalStateMachineProps): Record<string, unknown> {
  const runStates: Record<string, unknown> = {};
  const choices = ACTION_IDS.map((action) => {
    runStates[`Run ${action}`] = {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: props.runbookFunctionArns[action], 'Payload.$': 'States.JsonMerge($.runbookInput, $.decision, false)' },
      ResultSelector: { 'report.$': '$.Payload' },
      Retry: [{ ErrorEquals: ['Lambda.ServiceException', 'Lambda.TooManyRequestsException', 'Lambda.SdkClientException'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: 'FULL' }],
      End: true,
    };
    return { Variable: '$.action', StringEquals: action, Next: `Run ${action}` };
  });
  return {
    Comment: 'Kitewatch: wait for a responder to approve a containment action, then run its runbook',
    StartAt: 'Request approval',
    TimeoutSeconds: props.deadlineSeconds + 900,
    States: {
      'Request approval': {
        Type: 'Task',
        Resource: 'arn:aws:states:::events:putEvents.waitForTaskToken',
        Parameters: {
          Entries: [
            {
              EventBusName: props.eventBusName,
              Source: 'kitewatch',
              DetailType: APPROVAL_REQUESTED_DETAIL_TYPE,
              Detail: {
                'approvalId.$': '$.approvalId',
                'action.$': '$.action',
                'target.$': '$.target',
                'correlationUid.$': '$.correlationUid',
                'severityId.$': '$.severityId',
                'why.$': '$.why',
                'deadline.$': '$.deadline',
                'taskToken.$': '$$.Task.Token',
              },
            },
          ],
        },
        TimeoutSeconds: props.deadlineSeconds,
        ResultPath: '$.decision',
        Catch: [
          { ErrorEquals: [DENIED_ERROR], ResultPath: '$.error', Next: 'Denied' },
          { ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'Expired' },
        ],
        Next: 'Which action',
      },
      'Which action': { Type: 'Choice', Choices: choices, Default: 'Unknown action' },
      ...runStates,
      Denied: { Type: 'Succeed', Comment: 'approve-action emitted the denied Remediation Activity' },
      Expired: {
        Type: 'Task',
        Resource: 'arn:aws:states:::events:putEvents',
        Parameters: {
          Entries: [{ EventBusName: props.eventBusName, Source: 'kitewatch', DetailType: 'OCSF Remediation Activity', 'Detail.$': '$.expiredActivity' }],
        },
        Next: 'Not approved in time',
      },
      'Not approved in time': { Type: 'Fail', Error: 'Kitewatch.ApprovalExpired', Cause: 'No responder answered before the deadline' },
      'Unknown action': { Type: 'Fail', Error: 'Kitewatch.UnknownAction', Cause: 'The request names no known action' },
    },
  };
}

/** Starts one execution per approval id (StartExecution with the same name and input is idempotent). */
export function stepFunctionsApprovalGateway(sfn: SfnPort, stateMachineArn: string): ApprovalGateway {
  return {
    async request(req: ApprovalRequest): Promise<void> {
      const { StartExecutionCommand } = await sfnSdk();
      try {
        await sfn.send(new StartExecutionCommand({ stateMachineArn, name: req.approvalId, input: JSON.stringify(req) }));
      } catch (error) {
        if ((error as Error).name === 'ExecutionAlreadyExists') return;
        throw error;
      }
    },
  };
}

export interface Decision {
  readonly taskToken: string;
  readonly decision: 'approve' | 'deny';
  readonly responder: string;
  readonly reason?: string | undefined;
  readonly approvalId?: string | undefined;
}

/** Answers the waiting task. The task token is a credential: it goes to SFN and nowhere else. */
export async function sendDecision(sfn: SfnPort, d: Decision, now: Date): Promise<void> {
  const { SendTaskFailureCommand, SendTaskSuccessCommand } = await sfnSdk();
  if (d.decision === 'approve') {
    const output = {
      approval: { responder: d.responder, decidedAt: now.toISOString(), ...(d.reason !== undefined ? { reason: d.reason } : {}), ...(d.approvalId !== undefined ? { approvalId: d.approvalId } : {}) },
    };
    await sfn.send(new SendTaskSuccessCommand({ taskToken: d.taskToken, output: JSON.stringify(output) }));
  } else {
    await sfn.send(new SendTaskFailureCommand({ taskToken: d.taskToken, error: DENIED_ERROR, cause: `denied by ${d.responder}${d.reason !== undefined ? `: ${d.reason}` : ''}`.slice(0, 32_000) }));
  }
}
