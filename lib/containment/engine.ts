import { SdkLoadError } from '../aws/lazy.ts';
import { deterministicUid } from '../ocsf/common.ts';
import type { OcsfEvent, SeverityId } from '../ocsf/types.ts';
import { STATE_PARTITIONS, type StatePort } from '../state/port.ts';
import { ACTIONS, type ActionId } from './actions.ts';
import { OUTCOME, buildActivity, type ActivityContext, type Outcome, type Target } from './activity.ts';
import { hourlyLimit, type ContainmentConfig } from './config.ts';
import { execute, preview, type ExecuteRequest, type ExecutionDeps } from './executors.ts';
import { actionsFor, entitiesFor, LIKE_FLEET, LIKE_FLEET_APPROVAL, matchingRules, needsPlacement, parseFinding, pipelinesToResolve, protectionFor, rolesFor, type FindingFacts } from './policy.ts';
import { BuildkiteApi } from '../buildkite/api.ts';
import { runbookInputFor } from './runbook-inputs.ts';
import { secretsFor } from './secrets.ts';
import { targetIdProblem } from './target-ids.ts';

/**
 * Containment on one finding: policy -> (action, target) steps -> for each, protected? dry-run?
 * already done? needs approval (configured, or past the blast-radius limit)? -> act -> one OCSF
 * Remediation Activity. The same core runs in `kitewatch replay` (stage.ts) and in the contain
 * Lambda; only the state store and the approval gateway differ.
 *
 * Idempotency (enforce mode): each (action, target) — plus the finding for actions that may be
 * repeated (rotate-secret, revoke-role-sessions, pause-queue) — has a state record, claimed
 * with a conditional write before anything is called and holding the emitted event once done.
 * A redelivered finding re-emits that very event (same metadata.uid) without calling anything; a
 * different finding about the same target gets "already done". Any failure after the claim releases
 * it and fails the delivery so that it is retried; a delivery that finds the claim held by its own
 * finding (or loses the race for it) fails with ClaimBusyError and is retried too, never reported as
 * skipped, so an action cannot be lost to a crash between claim and done.
 */

/** What the approval state machine needs to ask a responder, then run the approved runbook. */
export interface ApprovalRequest {
  readonly approvalId: string;
  readonly action: ActionId;
  readonly target: Target;
  readonly correlationUid: string;
  readonly detector?: string;
  readonly findingTitle?: string;
  readonly severityId: SeverityId;
  /** `approval required` or `blast-radius limit`. */
  readonly why: string;
  /** ISO 8601. */
  readonly deadline: string;
  /** Input of the action's runbook, run once approved. */
  readonly runbookInput: Record<string, unknown>;
  /** Emitted by the state machine when the deadline passes without an answer. */
  readonly expiredActivity: OcsfEvent;
}

export interface ApprovalGateway {
  /** Starts the wait for a responder. Idempotent per approvalId. */
  request(req: ApprovalRequest): Promise<void>;
}

export interface EngineDeps {
  readonly config: ContainmentConfig;
  readonly mode: 'dry-run' | 'enforce';
  readonly state: StatePort;
  readonly execution: ExecutionDeps;
  /** Absent (local replay): approvals are only reported as pending. */
  readonly approvals?: ApprovalGateway;
  /** How long a claim blocks other deliveries before it is considered abandoned. @default 10 minutes */
  readonly leaseMs?: number;
}

type RecordStatus = 'running' | 'done' | 'pending-approval';

/** Another delivery of the same finding holds the claim: retry the message later. */
export class ClaimBusyError extends Error {
  override readonly name = 'ClaimBusyError';
}

interface ActionRecord {
  readonly status: RecordStatus;
  readonly findingUid: string;
  readonly at: number;
  readonly event?: OcsfEvent;
}

interface StepOptions {
  readonly rotation?: 'auto' | 'random' | 'buildkite-agent-token';
  readonly jsonKey?: string;
  /** Also protected when this entity is (the Buildkite secret behind a Secrets Manager secret). */
  readonly source?: Target;
  readonly facts?: Record<string, unknown>;
  /** Wait for a responder's approval, for this reason, whatever containment.approval.required says. */
  readonly approval?: string;
}

const HOUR_MS = 3_600_000;

export function actionKey(action: ActionId, target: Target, findingUid: string): string {
  const scope = ACTIONS[action].dedupe === 'finding' ? [findingUid] : [];
  return `${STATE_PARTITIONS.containment}action:${action}:${deterministicUid(target.type, target.uid, ...scope)}`;
}

export function rateKey(action: ActionId, nowMs: number): string {
  return `${STATE_PARTITIONS.containment}rate:${action}:${Math.floor(nowMs / HOUR_MS)}`;
}

export class ContainmentEngine {
  readonly #deps: EngineDeps;
  readonly #leaseMs: number;
  /** dry-run's own blast-radius count, so its report matches what enforce would do in this run. */
  readonly #dryRunCounts = new Map<string, number>();

  constructor(deps: EngineDeps) {
    this.#deps = deps;
    this.#leaseMs = deps.leaseMs ?? 10 * 60_000;
  }

  get #now(): number {
    return this.#deps.execution.now();
  }

  #log(line: string): void {
    this.#deps.execution.log(line);
  }

  /** Remediation Activities for a finding; [] when the policy says nothing. */
  async contain(event: OcsfEvent): Promise<OcsfEvent[]> {
    const parsed = parseFinding(event);
    if (!parsed.ok) {
      this.#log(`containment: ignored event ${event.metadata?.uid ?? '(no uid)'}: ${parsed.reason}`);
      return [];
    }
    const finding = parsed.finding;
    const actions = actionsFor(matchingRules(finding, this.#deps.config.policy));
    const out: OcsfEvent[] = [];
    for (const action of actions) {
      if (action === 'revoke-role-sessions') {
        const roles = rolesFor(finding, this.#deps.config, await this.#pipelineSlugs(finding));
        if (roles.length === 0) this.#log(`containment: ${finding.uid}: revoke-role-sessions selects no role (containment.oidcRoles)`);
        for (const role of roles) out.push(await this.#step(finding, action, role));
        continue;
      }
      const { targets, notes, approvalFirst = [] } = entitiesFor(action, finding);
      for (const note of notes) this.#log(`containment: ${finding.uid}: ${note}`);
      // No agent to stop is normal (a blocked registration connected nobody); anything else is worth a line.
      if (targets.length === 0 && action !== 'stop-agent') this.#log(`containment: ${finding.uid}: ${action} has no target in the finding`);
      if (action === 'rotate-secret') {
        for (const secret of targets) out.push(...(await this.#rotateMapped(finding, secret)));
        continue;
      }
      for (const target of targets) {
        const facts = action === 'revoke-agent-token' ? this.#relatedAgents(finding) : undefined;
        out.push(await this.#step(finding, action, target, facts === undefined ? {} : { facts }));
      }
      for (const target of approvalFirst) out.push(await this.#step(finding, action, target, { approval: LIKE_FLEET_APPROVAL, facts: { [LIKE_FLEET]: true } }));
    }
    return out;
  }

  /**
   * Slugs of the finding's pipelines as Buildkite reports them for their uuids (enforce mode, and
   * only when some oidcRoles entry names a slug). A pipeline that cannot be looked up selects
   * roles by uuid only, and the line says so.
   */
  async #pipelineSlugs(finding: FindingFacts): Promise<Map<string, string>> {
    const slugs = new Map<string, string>();
    const uuids = pipelinesToResolve(finding, this.#deps.config);
    if (uuids.length === 0) return slugs;
    const client = this.#deps.execution.buildkite;
    if (this.#deps.mode === 'dry-run' || client === undefined) {
      this.#log(`containment: ${finding.uid}: oidcRoles by pipeline slug need Buildkite's slug for ${uuids.join(', ')}; looked up in enforce mode only`);
      return slugs;
    }
    const api = new BuildkiteApi(client);
    for (const uuid of uuids) {
      try {
        const p = await api.pipelineByUuid(uuid);
        if (p !== undefined && p.uuid === uuid && (finding.org === undefined || p.org === finding.org)) slugs.set(uuid, p.slug);
      } catch (error) {
        if (error instanceof SdkLoadError) throw error;
        this.#log(`containment: ${finding.uid}: could not look up the slug of pipeline ${uuid} (${(error as Error).name}); oidcRoles match it by uuid only`);
      }
    }
    return slugs;
  }

  /** The token's other agents (role `related`): listed for the responder, not stopped. */
  #relatedAgents(finding: FindingFacts): Record<string, unknown> | undefined {
    const related = finding.entities.filter((e) => e.type === 'Agent' && e.role === 'related').map((e) => ({ uid: e.uid, ...(e.name !== undefined ? { name: e.name } : {}) }));
    return related.length > 0 ? { related_agents_not_stopped: related } : undefined;
  }

  async #rotateMapped(finding: FindingFacts, secret: Target): Promise<OcsfEvent[]> {
    const ctx = this.#context(finding);
    const protection = protectionFor(secret, this.#deps.config.protected);
    if (protection !== undefined) return [buildActivity('rotate-secret', secret, protectedOutcome(secret, protection.reason), ctx)];
    const lookup = this.#deps.mode === 'enforce' && this.#deps.config.secretTagLookup ? this.#deps.execution.secretsManager : undefined;
    let mapped;
    try {
      mapped = await secretsFor(secret, this.#deps.config, lookup);
    } catch (error) {
      if (error instanceof SdkLoadError) throw error; // the function's failure: retry the delivery
      const reason = `ListSecrets failed (${(error as Error).name})`;
      return [buildActivity('rotate-secret', secret, OUTCOME.failed(reason, `Could not look up the Secrets Manager secrets of Buildkite secret ${secret.name ?? secret.uid}: ${reason}`), ctx)];
    }
    if (mapped.length === 0) {
      // Only a Buildkite secret is expected to have one; other entities rarely do.
      if (secret.type !== 'Secret') return [];
      const outcome =
        this.#deps.mode === 'dry-run' && this.#deps.config.secretTagLookup
          ? OUTCOME.other(
              'dry-run',
              'dry-run',
              `Would rotate the Secrets Manager secrets tagged kitewatch:buildkite-uid=${secret.uid}${secret.name ? ` or kitewatch:buildkite-name=${secret.name}` : ''} (tags are looked up only in enforce mode; none is mapped in containment.secretMappings)`,
            )
          : OUTCOME.other(
              'not-applicable',
              'skipped: no Secrets Manager secret mapped',
              `No Secrets Manager secret is mapped to Buildkite secret ${secret.name ?? secret.uid}: rotate it by hand, and map it (containment.secretMappings or the kitewatch:buildkite-uid / kitewatch:buildkite-name tags)`,
            );
      return [buildActivity('rotate-secret', secret, outcome, ctx)];
    }
    const out: OcsfEvent[] = [];
    for (const m of mapped) {
      out.push(
        await this.#step(finding, 'rotate-secret', m.target, { rotation: m.rotation, ...(m.jsonKey !== undefined ? { jsonKey: m.jsonKey } : {}), source: secret, facts: { mapped_via: m.via } }),
      );
    }
    return out;
  }

  #context(finding: FindingFacts): ActivityContext {
    return {
      correlationUid: finding.uid,
      severityId: finding.severityId,
      origin: 'automatic',
      mode: this.#deps.mode,
      time: this.#now,
      ...(finding.detector !== undefined ? { detector: finding.detector } : {}),
      ...(finding.title !== undefined ? { findingTitle: finding.title } : {}),
      ...(finding.tenantUid !== undefined ? { tenantUid: finding.tenantUid } : {}),
    };
  }

  async #step(finding: FindingFacts, action: ActionId, target: Target, opts: StepOptions = {}): Promise<OcsfEvent> {
    const ctx = this.#context(finding);
    const emit = (o: Outcome): OcsfEvent => buildActivity(action, target, opts.facts ? { ...o, facts: { ...opts.facts, ...o.facts } } : o, ctx);
    // The same id checks as the runbooks, before anything else (an approval request included).
    const badId = targetIdProblem(action, target);
    if (badId !== undefined) this.#log(`containment: ${finding.uid}: ${action} on ${target.type} ${target.uid} not attempted: invalid id`);
    if (badId !== undefined) return emit(OUTCOME.failed(`invalid id: ${badId}`, `${ACTIONS[action].title}: not attempted, ${badId}`, { calls: [] }));
    const protection = protectionFor(target, this.#deps.config.protected) ?? (opts.source ? protectionFor(opts.source, this.#deps.config.protected) : undefined);
    if (protection !== undefined) return emit(protectedOutcome(target, protection.reason));
    const byPlacement = await this.#placementProtection(target);
    if (byPlacement !== undefined) return emit(byPlacement);

    const request: ExecuteRequest = {
      action,
      target,
      reason: `Kitewatch containment: ${finding.detector ?? 'finding'} ${finding.uid}`,
      idempotencyToken: deterministicUid('kitewatch-rotation', finding.uid, target.uid),
      findingUid: finding.uid,
      ...(opts.rotation !== undefined ? { rotation: { kind: opts.rotation, ...(opts.jsonKey !== undefined ? { jsonKey: opts.jsonKey } : {}) } } : {}),
    };
    const gate = opts.approval ?? (this.#deps.config.approval.required.includes(action) ? 'approval required' : undefined);

    if (this.#deps.mode === 'dry-run') {
      const why = gate ?? (this.#countDryRun(action) > hourlyLimit(this.#deps.config, action) ? 'blast-radius limit' : undefined);
      const p = preview(request, this.#deps.execution.crossAccount);
      return emit(why === undefined ? p : { ...p, message: `${p.message}; in enforce mode it would wait for approval (${why})`, facts: { would_wait_for_approval: why } });
    }

    const state = this.#deps.state;
    const key = actionKey(action, target, finding.uid);
    const existing = await state.get<ActionRecord>(key);
    if (existing !== undefined) {
      const rec = existing.value;
      if (rec.status !== 'running' && rec.findingUid === finding.uid && rec.event !== undefined) return rec.event;
      if (rec.status === 'done') {
        return emit(
          OUTCOME.other('already-done', 'already done', `${ACTIONS[action].title}: already done for ${describe(target)} (finding ${rec.findingUid}); nothing called`, {
            facts: { done_for_finding: rec.findingUid },
          }),
        );
      }
      if (rec.status === 'pending-approval') {
        return emit(OUTCOME.other('pending-approval', 'pending approval: already requested', `${ACTIONS[action].title} on ${describe(target)} already waits for approval (finding ${rec.findingUid})`));
      }
      if (this.#now - rec.at < this.#leaseMs) {
        // Our own finding's claim: an earlier delivery of this very message may have died after
        // claiming. Fail so that the queue delivers again later, rather than report a skip and
        // lose the action.
        if (rec.findingUid === finding.uid) throw new ClaimBusyError(`${action} on ${target.type} ${target.uid} is claimed by an unfinished delivery of this finding; retry later`);
        return emit(OUTCOME.other('in-progress', 'skipped: in progress', `${ACTIONS[action].title} on ${describe(target)} is being done by another delivery (finding ${rec.findingUid})`));
      }
      this.#log(`containment: taking over an abandoned claim on ${action} ${target.uid}`);
    }
    const expiresAt = this.#expiresAt(finding);
    const claimed = await state.put<ActionRecord>(key, { status: 'running', findingUid: finding.uid, at: this.#now }, { expiresAt, expectedVersion: existing?.version ?? 0 });
    if (!claimed) {
      // Lost a race for the claim: retry later, when the winner's record says what happened.
      throw new ClaimBusyError(`${action} on ${target.type} ${target.uid} was claimed by another delivery at the same time; retry later`);
    }

    const hourKey = rateKey(action, this.#now);
    let counted = false;
    try {
      let why = gate;
      if (why === undefined) {
        const n = await state.increment(hourKey, 1, this.#rateExpiry());
        counted = true;
        if (n > hourlyLimit(this.#deps.config, action)) {
          why = 'blast-radius limit';
          await state.increment(hourKey, -1, this.#rateExpiry());
          counted = false;
        }
      }
      if (why !== undefined) return await this.#awaitApproval(finding, action, target, why, request, opts, key, expiresAt, emit);

      const outcome = await execute(request, this.#deps.execution);
      if (outcome.statusId === 2) {
        // Release, so that a redelivery (or the next replay) tries again.
        await state.delete(key);
        if (counted) await state.increment(hourKey, -1, this.#rateExpiry());
        return emit(outcome);
      }
      const event = emit(outcome);
      await state.put<ActionRecord>(key, { status: 'done', findingUid: finding.uid, at: this.#now, event }, { expiresAt });
      return event;
    } catch (error) {
      // Anything that throws after the claim (state store, a crash in an executor) must not leave
      // the claim behind: release it and the counter, then fail so the delivery is retried.
      await state.delete(key).catch(() => undefined);
      if (counted) await state.increment(hourKey, -1, this.#rateExpiry()).catch(() => undefined);
      throw error;
    }
  }

  async #awaitApproval(
    finding: FindingFacts,
    action: ActionId,
    target: Target,
    why: string,
    request: ExecuteRequest,
    opts: StepOptions,
    key: string,
    expiresAt: number,
    emit: (o: Outcome) => OcsfEvent,
  ): Promise<OcsfEvent> {
    const approvalId = deterministicUid('kitewatch-approval', finding.uid, action, target.type, target.uid);
    const deadline = new Date(this.#now + this.#deps.config.approval.deadlineMinutes * 60_000).toISOString();
    const limit = why === 'blast-radius limit' ? ` (${hourlyLimit(this.#deps.config, action)} per hour)` : '';
    const how = this.#deps.approvals === undefined ? 'run its runbook to act' : 'answer with the approve-action runbook';
    const pending = emit(
      OUTCOME.other('pending-approval', `pending approval: ${why}`, `${ACTIONS[action].title} on ${describe(target)} waits for a responder's approval: ${why}${limit}; ${how} before ${deadline}`, {
        facts: { approval_id: approvalId, approval_deadline: deadline },
      }),
    );
    if (this.#deps.approvals !== undefined) {
      const expired = emit(
        OUTCOME.other('expired', 'expired: approval deadline passed', `${ACTIONS[action].title} on ${describe(target)} was not approved before ${deadline}; not done`, {
          facts: { approval_id: approvalId },
        }),
      );
      try {
        await this.#deps.approvals.request({
          approvalId,
          action,
          target,
          correlationUid: finding.uid,
          severityId: finding.severityId,
          why,
          deadline,
          runbookInput: runbookInputFor(action, target, {
            correlationUid: finding.uid,
            reason: request.reason,
            ...(opts.rotation !== undefined ? { rotation: opts.rotation } : {}),
            ...(opts.jsonKey !== undefined ? { jsonKey: opts.jsonKey } : {}),
          }),
          expiredActivity: expired,
          ...(finding.detector !== undefined ? { detector: finding.detector } : {}),
          ...(finding.title !== undefined ? { findingTitle: finding.title } : {}),
        });
      } catch (error) {
        await this.#deps.state.delete(key);
        if (error instanceof SdkLoadError) throw error; // the function's failure: retry the delivery
        const reason = `could not request approval (${(error as Error).name}: ${(error as Error).message})`;
        return emit(OUTCOME.failed(reason, `${ACTIONS[action].title} on ${describe(target)} needs approval, but ${reason}`));
      }
    }
    if (this.#deps.approvals === undefined) {
      // Locally nothing waits: release the claim so that a later replay decides again.
      await this.#deps.state.delete(key);
      return pending;
    }
    await this.#deps.state.put<ActionRecord>(key, { status: 'pending-approval', findingUid: finding.uid, at: this.#now, event: pending }, { expiresAt });
    return pending;
  }

  /**
   * Agents protected by cluster or queue: where Buildkite placed the agent, asked before acting
   * (what the agent reports about itself is the attacker's to choose). Fails closed: a lookup
   * that fails acts on nothing. Dry-run does not call Buildkite and says the check is pending.
   */
  async #placementProtection(target: Target): Promise<Outcome | undefined> {
    if (target.type !== 'Agent' || !needsPlacement(this.#deps.config.protected)) return undefined;
    if (this.#deps.mode === 'dry-run') return undefined;
    const client = this.#deps.execution.buildkite;
    let placement;
    try {
      if (client === undefined || target.org === undefined) throw new Error('the Buildkite API or the organization is unknown');
      placement = await new BuildkiteApi(client).agentPlacement(target.org, target.uid);
    } catch (error) {
      if (error instanceof SdkLoadError) throw error;
      const reason = `could not check the agent's cluster and queue against containment.protected (${(error as Error).name}: ${(error as Error).message})`;
      return OUTCOME.failed(reason, `${describe(target)}: not acted on, ${reason}`);
    }
    if (placement === undefined) return undefined;
    const p = protectionFor(target, this.#deps.config.protected, placement);
    return p === undefined ? undefined : { ...protectedOutcome(target, p.reason), facts: { placement } };
  }

  #countDryRun(action: ActionId): number {
    const key = rateKey(action, this.#now);
    const n = (this.#dryRunCounts.get(key) ?? 0) + 1;
    this.#dryRunCounts.set(key, n);
    return n;
  }

  /**
   * Retention from the latest of the injected clock, the wall clock and the finding's time: the
   * state store may expire items by wall clock or by event time, and neither may kill a record early.
   */
  #expiresAt(finding: FindingFacts): number {
    return Math.floor(Math.max(this.#now, Date.now(), finding.time) / 1000) + this.#deps.config.retentionDays * 86_400;
  }

  /** An hourly counter lives two hours past the latest clock. */
  #rateExpiry(): number {
    return Math.floor(Math.max(this.#now, Date.now()) / 1000) + 2 * 3600;
  }
}

function describe(t: Target): string {
  return t.name !== undefined && t.name !== t.uid ? `${t.type} "${t.name}" (${t.uid})` : `${t.type} ${t.uid}`;
}

function protectedOutcome(target: Target, reason: string | undefined): Outcome {
  return OUTCOME.other('protected', 'skipped: protected', `${describe(target)} is protected${reason ? ` (${reason})` : ''}: not acted on automatically`);
}
