import { compact, deterministicUid } from '../ocsf/common.ts';
import { classify, OCSF_VERSION, status, type OcsfEvent, type OcsfObservable, type SeverityId, type StatusId } from '../ocsf/types.ts';
import { KITEWATCH_VERSION } from '../version.ts';
import { ACTIONS, type ActionId, type TargetType } from './actions.ts';

/**
 * Builds the OCSF 1.8 Remediation Activity (class 7001) that every containment step emits.
 *
 * Layout (7001 has no `resources`, so the target goes to `unmapped`):
 * - `command_uid`: the action id (`revoke-agent-token`, ...)
 * - `metadata.correlation_uid`: the triggering finding's `finding_info.uid` (absent for a runbook
 *   run without one)
 * - `metadata.uid`: deterministic over (correlation, action, target, outcome), so a redelivery
 *   emits the very same event and the SIEM de-duplicates it
 * - `unmapped.kitewatch.target {type, uid, name, org, ...}`: what was acted on, with observables
 *   pointing at its uid and name
 * - `status_id` / `status_detail`: 1 Success (`done`, `already gone (404)`, ...), 2 Failure
 *   (`failed: ...`), 99 Other (`dry-run`, `skipped: protected`, `pending approval: ...`,
 *   `approved by ...`, `denied by ...`)
 * - `countermeasures[]`: the D3FEND tactic/technique; `remediation.desc`: what it changes, how to undo
 */

export interface Target {
  readonly type: TargetType;
  /** Buildkite uuid, Secrets Manager ARN, IAM role ARN/name, or `pipeline/number` for a build. */
  readonly uid: string;
  readonly name?: string;
  /** Organization slug (Buildkite targets). */
  readonly org?: string;
  /** More about the target (cluster id, pipeline, build number, the Buildkite secret it maps from). */
  readonly attrs?: Readonly<Record<string, string | number>>;
}

/** A stable outcome code: part of `metadata.uid`, while `status_detail` may carry free text. */
export type OutcomeCode = 'done' | 'already-gone' | 'already-done' | 'dry-run' | 'protected' | 'pending-approval' | 'in-progress' | 'not-applicable' | 'failed' | 'approved' | 'denied' | 'expired';

export interface Outcome {
  readonly code: OutcomeCode;
  readonly statusId: StatusId;
  /** `status_detail`, e.g. `done`, `already gone (404)`, `skipped: protected`. */
  readonly detail: string;
  /** Human sentence for `message`. */
  readonly message: string;
  /** API calls made (or, in dry-run, that would be made), e.g. `DELETE /v2/...`. */
  readonly calls?: readonly string[];
  /** Extra facts for `unmapped.kitewatch` (cluster found, new version id, ...). Never secret values. */
  readonly facts?: Readonly<Record<string, unknown>>;
}

export interface ActivityContext {
  /** The finding's `finding_info.uid`, or a responder-given id for runbooks. */
  readonly correlationUid?: string;
  readonly findingTitle?: string;
  readonly detector?: string;
  readonly severityId: SeverityId;
  /** `automatic` (policy on a finding) or `runbook`. */
  readonly origin: 'automatic' | 'runbook';
  readonly mode: 'dry-run' | 'enforce';
  /** Epoch ms. */
  readonly time: number;
  readonly tenantUid?: string;
}

export const OUTCOME = {
  done: (message: string, extra: Partial<Outcome> = {}): Outcome => ({ code: 'done', statusId: 1, detail: 'done', message, ...extra }),
  alreadyGone: (detail: string, message: string, extra: Partial<Outcome> = {}): Outcome => ({ code: 'already-gone', statusId: 1, detail, message, ...extra }),
  failed: (reason: string, message: string, extra: Partial<Outcome> = {}): Outcome => ({ code: 'failed', statusId: 2, detail: `failed: ${reason}`, message, ...extra }),
  other: (code: OutcomeCode, detail: string, message: string, extra: Partial<Outcome> = {}): Outcome => ({ code, statusId: 99, detail, message, ...extra }),
} as const;

/** Kitewatch made these events (the findings use the same product, feature = detector). */
export const REMEDIATION_PRODUCT = { name: 'Kitewatch', vendor_name: 'Kitewatch', version: KITEWATCH_VERSION, feature: { name: 'containment' } } as const;

export function remediationUid(correlationUid: string | undefined, action: ActionId, target: Target, code: OutcomeCode): string {
  return deterministicUid('kitewatch-remediation', correlationUid ?? 'manual', action, target.type, target.uid, code);
}

export function buildActivity(action: ActionId, target: Target, outcome: Outcome, ctx: ActivityContext): OcsfEvent {
  const spec = ACTIONS[action];
  const observables: OcsfObservable[] = [{ name: 'unmapped.kitewatch.target.uid', type_id: 10, type: 'Resource UID', value: target.uid }];
  if (target.name !== undefined && target.name !== '') {
    observables.push({ name: 'unmapped.kitewatch.target.name', type_id: 38, type: 'Resource Details: name', value: target.name });
  }
  const technique = spec.d3fend.technique;
  return compact({
    ...classify(7001, spec.activityId, ctx.severityId),
    ...status(outcome.statusId, outcome.detail),
    time: ctx.time,
    command_uid: action,
    message: outcome.message,
    metadata: compact({
      version: OCSF_VERSION,
      product: REMEDIATION_PRODUCT,
      uid: remediationUid(ctx.correlationUid, action, target, outcome.code),
      correlation_uid: ctx.correlationUid,
      tenant_uid: ctx.tenantUid,
      log_name: 'kitewatch-remediation',
      log_provider: 'Kitewatch',
      labels: [ctx.mode, ctx.origin],
    }),
    countermeasures: [compact({ d3f_tactic: { name: spec.d3fend.tactic }, d3f_technique: technique === undefined ? undefined : { uid: technique.uid, name: technique.name } })],
    remediation: { desc: `${spec.title}. ${spec.changes} Undo: ${spec.undo}` },
    observables,
    unmapped: {
      // Only what has no OCSF home: the action is command_uid, mode and origin are labels, the
      // finding's uid is metadata.correlation_uid.
      kitewatch: compact({
        outcome: outcome.code,
        target: compact({ type: target.type, uid: target.uid, name: target.name, org: target.org, ...target.attrs }),
        finding: ctx.correlationUid === undefined ? undefined : compact({ detector: ctx.detector, title: ctx.findingTitle }),
        calls: outcome.calls !== undefined && outcome.calls.length > 0 ? [...outcome.calls] : undefined,
        ...outcome.facts,
      }),
    },
  }) as OcsfEvent;
}
