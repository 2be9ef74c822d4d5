import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { fetchAuditEvents, fetchOrganization, describeApiFailure, restItemToEnvelope, type EnvelopeOptions, type OrgRef, type Window } from '../../lib/backfill/audit-events.ts';
import type { BuildkiteClient } from '../../lib/buildkite/client.ts';
import type { LastEvent } from '../../lib/detections/seen.ts';
import { KITEWATCH_SOURCE } from '../../lib/engine/bus.ts';

/**
 * The backfill Lambda's logic: which window a trigger asks for, and the audit events of that
 * window from Buildkite's REST API onto the ingest queue, as the envelopes live delivery puts
 * there. The normalizer then handles them like any other event. Idempotent by construction: an
 * envelope's id and its OCSF metadata.uid are derived from the audit uuid, so a trigger delivered
 * twice, or a window overlapping live delivery, yields the same events again, which forwarding
 * and the SIEM de-duplicate by uid.
 *
 * Triggers:
 * - first deploy (the pipeline stack's CREATE_COMPLETE, or `{}` by hand): the last `seedDays` days, to seed baselines;
 * - a Kitewatch `monitoring-disabled` Detection Finding: from an hour before it up to now;
 * - the silence alarm going back to OK (as an EventBridge alarm state change, or the alarm topic's SNS
 *   notification): from the last event the detectors saw before the silence (state: `last-event`,
 *   lib/detections/seen.ts), less a margin; without it, from the alarm's own estimate (the EventBridge
 *   change: one alarm period before it fired) or the farthest reach. Never further back than
 *   `maxReachDays` (nor the seed days when seeding is on). Reaching back too far costs nothing but
 *   API calls: the detectors count a re-sent event once;
 * - by hand, as a runbook: `{"since": ISO, "until"?: ISO}`.
 */

export const MONITORING_DISABLED = 'monitoring-disabled';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export type Trigger =
  | { readonly kind: 'seed'; readonly window: Window }
  | { readonly kind: 'monitoring-disabled'; readonly window: Window; readonly finding: string }
  | { readonly kind: 'silence-ended'; readonly window: Window; readonly alarm: string; /** The window's start estimates the silence's (else: the farthest allowed). */ readonly estimated: boolean }
  | { readonly kind: 'manual'; readonly window: Window };

export interface TriggerSettings {
  readonly seedDays: number;
  readonly silenceMinutes: number;
  /** The silence alarm's name: only its state changes start a backfill. */
  readonly silenceAlarmName: string;
  /** aws.blindness.backfillMaxReachDays (default 7): the farthest a gap backfill reaches back. */
  readonly maxReachDays?: number;
}

/** Before the last event seen, for events delivered late or out of order. */
const LAST_EVENT_MARGIN = 15 * 60_000;
/** The first event after a silence may come a little after the alarm's OK (clocks, metric periods). */
const RESUME_SLACK = 5 * 60_000;

/** How far back a gap backfill may reach: maxReachDays, and no more than the seed days when seeding is on. */
export function maxReachMs(settings: TriggerSettings): number {
  const days = Math.min(settings.maxReachDays ?? 7, settings.seedDays > 0 ? settings.seedDays : Number.POSITIVE_INFINITY);
  return days * DAY;
}

/**
 * The last event time the detectors saw before a silence that ended at `until`, from `last-event`:
 * its latest time while no event after the silence was detected yet, else the start of the latest
 * pause that ended by then and was at least half the silence alarm's period. Undefined: unknown.
 */
export function lastEventBeforeSilence(last: LastEvent | undefined, until: number, silenceMinutes: number): number | undefined {
  if (last === undefined || !Number.isFinite(last.t)) return undefined;
  const silence = silenceMinutes * 60_000;
  if (last.t <= until - silence) return last.t;
  for (let i = last.gaps.length - 1; i >= 0; i--) {
    const [from, to] = last.gaps[i] as readonly [number, number];
    if (from < until && to <= until + RESUME_SLACK && to - from >= silence / 2) return from;
  }
  return undefined;
}

/** Where the window of a silence-ended trigger starts, and why. */
export function silenceWindow(trigger: Trigger, last: LastEvent | undefined, settings: TriggerSettings): { window: Window; reach: 'last-event' | 'alarm' | 'max-reach' } {
  const { until } = trigger.window;
  const floor = until - maxReachMs(settings);
  const before = lastEventBeforeSilence(last, until, settings.silenceMinutes);
  let since = trigger.window.since;
  let reach: 'last-event' | 'alarm' | 'max-reach' = trigger.kind === 'silence-ended' && trigger.estimated ? 'alarm' : 'max-reach';
  // The last event replaces a fallback, and moves an estimate earlier (never later: overlap is free).
  if (before !== undefined && (reach === 'max-reach' || before - LAST_EVENT_MARGIN < since)) {
    since = before - LAST_EVENT_MARGIN;
    reach = 'last-event';
  }
  if (since <= floor) {
    since = floor;
    reach = 'max-reach';
  }
  return { window: { since, until }, reach };
}

export class BackfillInputError extends Error {
  override readonly name = 'BackfillInputError';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function time(value: unknown, what: string): number {
  const t = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : typeof value === 'number' ? value : Number.NaN;
  if (!Number.isFinite(t)) throw new BackfillInputError(`${what} must be an ISO-8601 time, got ${JSON.stringify(value)}`);
  return t;
}

/** The window a trigger asks for; throws BackfillInputError for anything else (never guesses). */
export function triggerOf(event: unknown, settings: TriggerSettings, now: number): Trigger {
  const e = isRecord(event) ? event : {};
  const detailType = e['detail-type'];
  const detail = isRecord(e['detail']) ? e['detail'] : undefined;
  if (detailType === 'OCSF Detection Finding' && detail !== undefined) {
    // Only findings Kitewatch produced: its own source on its own bus, its own product name.
    const product = isRecord(detail['metadata']) && isRecord(detail['metadata']['product']) ? detail['metadata']['product'] : {};
    const info = isRecord(detail['finding_info']) ? detail['finding_info'] : {};
    const analytic = isRecord(info['analytic']) ? info['analytic'] : {};
    if (e['source'] !== KITEWATCH_SOURCE || product['name'] !== 'Kitewatch' || analytic['uid'] !== MONITORING_DISABLED) {
      throw new BackfillInputError('not a Kitewatch monitoring-disabled finding');
    }
    const first = typeof info['first_seen_time'] === 'number' ? info['first_seen_time'] : time(e['time'], 'time');
    return { kind: 'monitoring-disabled', window: { since: first - HOUR, until: now }, finding: typeof info['uid'] === 'string' ? info['uid'] : '' };
  }
  if (detailType === 'CloudWatch Alarm State Change' && detail !== undefined) {
    const state = isRecord(detail['state']) ? detail['state'] : {};
    const previous = isRecord(detail['previousState']) ? detail['previousState'] : {};
    if (e['source'] !== 'aws.cloudwatch' || detail['alarmName'] !== settings.silenceAlarmName || state['value'] !== 'OK' || previous['value'] !== 'ALARM') {
      throw new BackfillInputError(`not the silence alarm (${settings.silenceAlarmName}) going from ALARM to OK`);
    }
    // The alarm fired a full period after the last event: start one period before it.
    const since = time(previous['timestamp'], 'detail.previousState.timestamp') - settings.silenceMinutes * 60_000;
    return { kind: 'silence-ended', window: { since, until: time(state['timestamp'], 'detail.state.timestamp') }, alarm: settings.silenceAlarmName, estimated: true };
  }
  // First deploy: the pipeline stack's own CREATE_COMPLETE (updates do not seed again).
  if (detailType === 'CloudFormation Stack Status Change' && detail !== undefined) {
    const status = isRecord(detail['status-details']) ? detail['status-details']['status'] : undefined;
    if (e['source'] !== 'aws.cloudformation' || status !== 'CREATE_COMPLETE') throw new BackfillInputError('not a stack CREATE_COMPLETE');
    if (settings.seedDays <= 0) throw new BackfillInputError('seeding is off (aws.blindness.backfillSeedDays is 0)');
    return { kind: 'seed', window: { since: now - settings.seedDays * DAY, until: now } };
  }
  // The silence alarm's OK notification, through the alarm topic (SNS -> Lambda).
  const records = Array.isArray(e['Records']) ? (e['Records'] as unknown[]) : undefined;
  const sns = records?.length === 1 && isRecord(records[0]) && isRecord(records[0]['Sns']) ? records[0]['Sns'] : undefined;
  if (sns !== undefined) {
    let message: unknown;
    try {
      message = JSON.parse(String(sns['Message']));
    } catch {
      throw new BackfillInputError('the alarm topic message is not JSON');
    }
    const m = isRecord(message) ? message : {};
    if (m['AlarmName'] !== settings.silenceAlarmName || m['NewStateValue'] !== 'OK' || m['OldStateValue'] !== 'ALARM') {
      throw new BackfillInputError(`not the silence alarm (${settings.silenceAlarmName}) going from ALARM to OK`);
    }
    // The notification has no start of the silence: as far as allowed (runBackfill narrows it from state).
    const changed = typeof m['StateChangeTime'] === 'string' ? m['StateChangeTime'] : '';
    const until = time(changed.replace(/\+0000$/, 'Z'), 'StateChangeTime');
    return { kind: 'silence-ended', window: { since: until - maxReachMs(settings), until }, alarm: settings.silenceAlarmName, estimated: false };
  }
  if ('since' in e) {
    const since = time(e['since'], 'since');
    const until = e['until'] === undefined ? now : time(e['until'], 'until');
    if (since > until) throw new BackfillInputError('since is after until');
    return { kind: 'manual', window: { since, until } };
  }
  if (Object.keys(e).length === 0 || e['RequestType'] === 'Create') {
    if (settings.seedDays <= 0) throw new BackfillInputError('seeding is off (aws.blindness.backfillSeedDays is 0)');
    return { kind: 'seed', window: { since: now - settings.seedDays * DAY, until: now } };
  }
  throw new BackfillInputError('unrecognized trigger: expected a monitoring-disabled finding, the silence alarm state change, {} (seed) or {"since": ISO, "until"?: ISO}');
}

export interface BackfillDeps {
  readonly buildkite: BuildkiteClient;
  readonly sqs: Pick<SQSClient, 'send'>;
  /** The ingest queue the normalizer reads. */
  readonly queueUrl: string;
  readonly org: string;
  readonly envelope: EnvelopeOptions;
  readonly settings: TriggerSettings;
  readonly now?: () => number;
  readonly log?: (message: string, attributes: Record<string, unknown>) => void;
  /** The detectors' `last-event` (state table), read when a silence ended; absent: the alarm's estimate. */
  readonly lastEvent?: () => Promise<LastEvent | undefined>;
}

export interface BackfillReport {
  readonly trigger: Trigger['kind'];
  readonly since: string;
  readonly until: string;
  readonly fetched: number;
  readonly sent: number;
  /** After a silence: what the window's start came from. */
  readonly reach?: 'last-event' | 'alarm' | 'max-reach';
}

/** One SendMessageBatch (at most 10 entries and 256 KB); throws when any entry failed, so the trigger is retried. */
async function sendBatch(deps: BackfillDeps, entries: readonly { id: string; body: string }[]): Promise<void> {
  const out = await deps.sqs.send(new SendMessageBatchCommand({ QueueUrl: deps.queueUrl, Entries: entries.map((e) => ({ Id: e.id, MessageBody: e.body })) }));
  if ((out.Failed ?? []).length > 0) {
    throw new Error(`SQS refused ${(out.Failed ?? []).length} backfilled event(s): ${(out.Failed ?? []).map((f) => f.Code).join(', ')}`);
  }
}

export async function runBackfill(event: unknown, deps: BackfillDeps): Promise<BackfillReport> {
  const now = (deps.now ?? Date.now)();
  let trigger = triggerOf(event, deps.settings, now);
  let reach: BackfillReport['reach'];
  if (trigger.kind === 'silence-ended') {
    const found = silenceWindow(trigger, await deps.lastEvent?.(), deps.settings);
    trigger = { ...trigger, window: found.window };
    reach = found.reach;
  }
  let org: OrgRef;
  try {
    org = (await fetchOrganization(deps.buildkite, deps.org)).org;
  } catch (error) {
    throw new Error(describeApiFailure(error, deps.org), { cause: error });
  }
  let fetched = 0;
  let sent = 0;
  let batch: { id: string; body: string }[] = [];
  let bytes = 0;
  try {
    for await (const { item } of fetchAuditEvents(deps.buildkite, deps.org, trigger.window)) {
      fetched++;
      const body = JSON.stringify(restItemToEnvelope(item, org, deps.envelope));
      const size = Buffer.byteLength(body, 'utf8');
      if (batch.length === 10 || (batch.length > 0 && bytes + size > 256 * 1024)) {
        await sendBatch(deps, batch);
        sent += batch.length;
        batch = [];
        bytes = 0;
      }
      batch.push({ id: String(batch.length), body });
      bytes += size;
    }
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('SQS refused')) throw error;
    throw new Error(describeApiFailure(error, deps.org), { cause: error });
  }
  if (batch.length > 0) {
    await sendBatch(deps, batch);
    sent += batch.length;
  }
  const report: BackfillReport = {
    trigger: trigger.kind,
    since: new Date(trigger.window.since).toISOString(),
    until: new Date(trigger.window.until).toISOString(),
    fetched,
    sent,
    ...(reach !== undefined ? { reach } : {}),
  };
  deps.log?.('backfill done', { ...report });
  return report;
}
