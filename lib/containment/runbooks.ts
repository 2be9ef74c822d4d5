import { awsSetupProblem } from '../aws/errors.ts';
import { deterministicUid } from '../ocsf/common.ts';
import type { OcsfEvent, SeverityId } from '../ocsf/types.ts';
import { isActionId, type ActionId, type RunbookId } from './actions.ts';
import { OUTCOME, buildActivity, type ActivityContext, type Outcome, type OutcomeCode, type Target } from './activity.ts';
import { sendDecision, type SfnPort } from './approval.ts';
import { execute, preview, type ExecuteRequest, type ExecutionDeps } from './executors.ts';
import { parseRunbookInput, targetOf, type RunbookInput } from './runbook-inputs.ts';

/**
 * Runbooks: a responder (or the approval state machine) runs one action on one target. The same
 * executors as automatic containment, without policy, protection or blast-radius checks (a human
 * decided). `dryRun` defaults to true. Every run returns a report with the Remediation Activity.
 */
export interface RunbookDeps {
  readonly execution: ExecutionDeps;
  /** For approve-action. */
  readonly sfn?: SfnPort;
  /** Publishes the Remediation Activities (the Kitewatch bus on AWS); absent locally. */
  readonly publish?: (events: readonly OcsfEvent[]) => Promise<void>;
}

export interface RunbookReport {
  readonly runbook: RunbookId;
  readonly dryRun: boolean;
  /** `done`, `dry-run`, `failed`, `already-gone`, `approved`, `denied`, ... */
  readonly outcome: OutcomeCode;
  readonly ok: boolean;
  /** The Remediation Activity's status_detail. */
  readonly detail: string;
  readonly message: string;
  readonly target?: Target;
  /** API calls made, or in dry-run those that would be made. */
  readonly calls: readonly string[];
  readonly facts?: Readonly<Record<string, unknown>>;
  readonly activities: readonly OcsfEvent[];
}

const RUNBOOK_SEVERITY: SeverityId = 3;

function context(input: { correlationUid?: string | undefined }, dryRun: boolean, now: number, severityId: SeverityId = RUNBOOK_SEVERITY): ActivityContext {
  return { origin: 'runbook', mode: dryRun ? 'dry-run' : 'enforce', severityId, time: now, ...(input.correlationUid !== undefined ? { correlationUid: input.correlationUid } : {}) };
}

function report(runbook: RunbookId, dryRun: boolean, outcome: Outcome, target: Target | undefined, activities: OcsfEvent[]): RunbookReport {
  return {
    runbook,
    dryRun,
    outcome: outcome.code,
    ok: outcome.statusId !== 2,
    detail: outcome.detail,
    message: outcome.message,
    ...(target !== undefined ? { target } : {}),
    calls: outcome.calls ?? [],
    ...(outcome.facts !== undefined ? { facts: outcome.facts } : {}),
    activities,
  };
}

/**
 * Runs a runbook. @throws RunbookInputError (naming the invalid fields) before doing anything
 * when the input does not parse; every other failure is a report with `ok: false`.
 */
export async function runRunbook(runbook: RunbookId, rawInput: unknown, deps: RunbookDeps): Promise<RunbookReport> {
  if (runbook === 'approve-action') return approveAction(parseRunbookInput('approve-action', rawInput), deps);
  const input = parseRunbookInput(runbook, rawInput) as RunbookInput<ActionId>;
  const action: ActionId = runbook;
  const target = targetOf(action, input);
  const now = deps.execution.now();
  const approvedBy = input.approval?.responder;
  const reason = input.reason ?? (approvedBy !== undefined ? `Kitewatch: approved by ${approvedBy}` : 'Kitewatch runbook');
  const request: ExecuteRequest = {
    action,
    target,
    reason: action === 'pause-queue' ? ((input as RunbookInput<'pause-queue'>).note ?? reason) : reason,
    idempotencyToken: deterministicUid('kitewatch-rotation', rotationKey(input, now), target.uid),
    findingUid: input.correlationUid ?? 'runbook',
    ...(action === 'stop-agent' ? { force: (input as RunbookInput<'stop-agent'>).force } : {}),
    ...(action === 'rotate-secret' ? rotationOf(input as RunbookInput<'rotate-secret'>) : {}),
    ...(action === 'revoke-role-sessions' && (input as RunbookInput<'revoke-role-sessions'>).issuedBefore !== undefined
      ? { issuedBefore: new Date((input as RunbookInput<'revoke-role-sessions'>).issuedBefore as string) }
      : {}),
  };
  let outcome = input.dryRun ? preview(request, deps.execution.crossAccount) : await execute(request, deps.execution);
  if (approvedBy !== undefined) outcome = { ...outcome, message: `${outcome.message} (approved by ${approvedBy})`, facts: { ...outcome.facts, approved_by: approvedBy } };
  const activity = buildActivity(action, target, outcome, context(input, input.dryRun, now));
  await deps.publish?.([activity]);
  return report(runbook, input.dryRun, outcome, target, [activity]);
}

function rotationKey(input: { correlationUid?: string | undefined; idempotencyKey?: string | undefined }, now: number): string {
  // Same key, same rotation: a retried call finds its version already current and stops.
  return input.idempotencyKey ?? input.correlationUid ?? `hour:${Math.floor(now / 3_600_000)}`;
}

function rotationOf(input: RunbookInput<'rotate-secret'>): Pick<ExecuteRequest, 'rotation'> {
  return { rotation: { kind: input.rotation, ...(input.jsonKey !== undefined ? { jsonKey: input.jsonKey } : {}) } };
}

async function approveAction(input: RunbookInput<'approve-action'>, deps: RunbookDeps): Promise<RunbookReport> {
  const now = deps.execution.now();
  const req = input.request;
  const verb = input.decision === 'approve' ? 'approve' : 'deny';
  const what = req === undefined ? 'the waiting action' : `${req.action} on ${req.target.type} ${req.target.name ?? req.target.uid}`;
  let outcome: Outcome;
  if (input.dryRun) {
    outcome = OUTCOME.other('dry-run', 'dry-run', `Would ${verb} ${what} as ${input.responder} (dry-run, nothing sent)`, {
      calls: [input.decision === 'approve' ? 'states:SendTaskSuccess' : 'states:SendTaskFailure'],
    });
  } else if (deps.sfn === undefined) {
    outcome = OUTCOME.failed('Step Functions is not configured', `Could not ${verb} ${what}: no Step Functions client`);
  } else {
    const call = input.decision === 'approve' ? 'states:SendTaskSuccess' : 'states:SendTaskFailure';
    try {
      await sendDecision(deps.sfn, { taskToken: input.taskToken, decision: input.decision, responder: input.responder, reason: input.reason, approvalId: req?.approvalId }, new Date(now));
      const suffix = input.reason !== undefined ? `: ${input.reason}` : '';
      outcome =
        input.decision === 'approve'
          ? OUTCOME.other('approved', `approved by ${input.responder}`, `${input.responder} approved ${what}${suffix}; it runs now`, { calls: [call] })
          : OUTCOME.other('denied', `denied by ${input.responder}`, `${input.responder} denied ${what}${suffix}; it will not run`, { calls: [call] });
    } catch (error) {
      const name = (error as Error).name;
      const gone = name === 'TaskTimedOut' || name === 'TaskDoesNotExist' || name === 'InvalidToken';
      // Never echo a service message: it can quote the task token.
      const reason = gone ? `${name}: the request expired, was already answered, or the token is wrong` : (awsSetupProblem(error) ?? `${name} from Step Functions`);
      outcome = OUTCOME.failed(reason, `Could not ${verb} ${what}: ${reason}`, { calls: [call] });
    }
  }
  const activities: OcsfEvent[] = [];
  let target: Target | undefined;
  if (req !== undefined && isActionId(req.action)) {
    target = { type: req.target.type, uid: req.target.uid, ...(req.target.name !== undefined ? { name: req.target.name } : {}), ...(req.target.org !== undefined ? { org: req.target.org } : {}) };
    const severity = (req.severityId !== undefined && [1, 2, 3, 4, 5].includes(req.severityId) ? req.severityId : RUNBOOK_SEVERITY) as SeverityId;
    const facts = { ...outcome.facts, responder: input.responder, approval_id: req.approvalId, ...(input.reason !== undefined ? { decision_reason: input.reason } : {}) };
    activities.push(buildActivity(req.action, target, { ...outcome, facts }, context({ correlationUid: req.correlationUid }, input.dryRun, now, severity)));
    await deps.publish?.(activities);
  }
  return report('approve-action', input.dryRun, outcome, target, activities);
}
