import type { z } from 'zod';
import {
  BUILDKITE_SOURCE_PREFIX,
  DETAIL_GUARDS,
  DETAIL_SCHEMAS,
  ENVELOPE_GUARD,
  UNKNOWN_DETAIL_GUARD,
  EVENTBRIDGE_MAX_EVENT_BYTES,
  EventBridgeEnvelope,
  UnknownDetail,
  isKnownDetailType,
  type AgentBlockedDetail,
  type AgentDetail,
  type AuditEventLoggedDetail,
  type BuildDetail,
  type ClusterTokenRegistrationBlockedDetail,
  type JobDetail,
} from '../contracts/buildkite.ts';
import { canonicalAudit, type DriftKind } from '../contracts/audit-drift.ts';
import { MAX_JSON_DEPTH, nestedDeeperThan, tooDeepReason } from '../contracts/limits.ts';
import type { OcsfEvent } from './types.ts';
import { deterministicUid } from './common.ts';
import { redactSecrets } from './redact.ts';
import type { MapContext } from './map/shared.ts';
import { mapBuild, mapJob } from './map/pipeline.ts';
import { mapAgent, mapBlocked } from './map/agent.ts';
import { mapAudit } from './map/audit.ts';
import { mapGeneric } from './map/generic.ts';

export type NormalizeResult =
  /** drift: how the input differed from the EventBridge shape and was repaired (absent when it did not). */
  { readonly ok: true; readonly event: OcsfEvent; readonly drift?: readonly DriftKind[] } | { readonly ok: false; readonly reason: string };

export interface NormalizeOptions {
  /** Size of the raw input in bytes when the caller knows it (saves re-serializing). */
  readonly sizeBytes?: number | undefined;
  /**
   * The configured partner event source (`aws.partner/buildkite.com/<org-slug>/<id>`, the partner
   * bus's name). When set, an event from any other source is quarantined: another organization's,
   * or one put on the bus by anyone who may call PutEvents. The local replay and the normalize
   * Lambda both pass it here, so the check is one.
   */
  readonly expectedSource?: string | undefined;
}

const MAX_ISSUES = 5;

/** `detail.agent.uuid: expected string, received undefined` (at most a few, the rest counted). */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix: string): string {
  const parts = issues.slice(0, MAX_ISSUES).map((i) => {
    const path = [prefix, ...i.path.map(String)].filter((p) => p !== '').join('.');
    return `${path || '(root)'}: ${i.message}`;
  });
  if (issues.length > MAX_ISSUES) parts.push(`and ${issues.length - MAX_ISSUES} more`);
  return parts.join('; ');
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** The uuid of the main entity of a non-audit event, part of its deterministic id. */
function primaryUuid(detail: Record<string, unknown>): string {
  for (const key of ['job', 'agent', 'build', 'cluster_token', 'pipeline']) {
    const v = detail[key];
    if (typeof v === 'object' && v !== null && typeof (v as { uuid?: unknown }).uuid === 'string') {
      return (v as { uuid: string }).uuid;
    }
  }
  return '';
}

/**
 * One EventBridge envelope in, one OCSF 1.8.0 event or a quarantine reason out. Never throws:
 * anything unexpected becomes a reason, so the caller can always account for the input.
 */
export function normalizeEnvelope(input: unknown, options: NormalizeOptions = {}): NormalizeResult {
  try {
    const result = normalizeUnsafe(input, options);
    if (!result.ok) return result;
    // The one place secrets are taken out of what is emitted (lib/ocsf/redact.ts).
    const event = redactSecrets(result.event);
    return result.drift === undefined ? { ok: true, event } : { ok: true, event, drift: result.drift };
  } catch (error) {
    return { ok: false, reason: `internal error while normalizing: ${(error as Error).message ?? String(error)}` };
  }
}

function normalizeUnsafe(input: unknown, options: NormalizeOptions): NormalizeResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, reason: `not an EventBridge envelope: expected a JSON object, got ${describeType(input)}` };
  }
  // Before anything that recurses (serializing, schema checks, mapping): a hostile depth would
  // overflow the stack there, and everything output later (sinks, quarantine) serializes it.
  if (nestedDeeperThan(input, MAX_JSON_DEPTH)) return { ok: false, reason: tooDeepReason(MAX_JSON_DEPTH) };
  const size = options.sizeBytes ?? Buffer.byteLength(JSON.stringify(input), 'utf8');
  if (size > EVENTBRIDGE_MAX_EVENT_BYTES) {
    return { ok: false, reason: `event is ${size} bytes, over EventBridge's 256 KB (262144 bytes) limit` };
  }
  if (!ENVELOPE_GUARD(input)) {
    const env = EventBridgeEnvelope.safeParse(input);
    if (!env.success) return { ok: false, reason: `not an EventBridge envelope: ${formatIssues(env.error.issues, '')}` };
  }
  // Validated, but mapped from the input itself: the schemas strip unknown keys (zod's fast
  // path), and unknown keys must survive into `unmapped`.
  const envelope = input as EventBridgeEnvelope;
  if (!envelope.source.startsWith(BUILDKITE_SOURCE_PREFIX)) {
    return {
      ok: false,
      reason: `source "${envelope.source}" is not a Buildkite partner event source (expected ${BUILDKITE_SOURCE_PREFIX}<org>/<id>)`,
    };
  }
  if (options.expectedSource !== undefined && envelope.source !== options.expectedSource) {
    return { ok: false, reason: `source ${JSON.stringify(envelope.source)} is not the configured partner event source ${JSON.stringify(options.expectedSource)}` };
  }
  const detailType = envelope['detail-type'];
  const known = isKnownDetailType(detailType);
  if (!(known ? DETAIL_GUARDS[detailType] : UNKNOWN_DETAIL_GUARD)(envelope.detail)) {
    const parsed = (known ? DETAIL_SCHEMAS[detailType] : UnknownDetail).safeParse(envelope.detail);
    if (!parsed.success) {
      return { ok: false, reason: `Buildkite "${detailType}" event ${envelope.id}: ${formatIssues(parsed.error.issues, 'detail')}` };
    }
  }
  const detail = envelope.detail;

  if (detailType === 'Audit Event Logged') {
    // Drifted shapes (ISO time, object context, class-style types, ...) back to EventBridge's.
    const { detail: d, time, drift } = canonicalAudit(detail as AuditEventLoggedDetail);
    // Keyed on the audit uuid alone: the EventBridge delivery and the REST backfill of one
    // audit event get the same OCSF uid, so the SIEM can de-duplicate them.
    const ctx: MapContext = { envelope, detailType, uid: deterministicUid('buildkite-audit', d.event.uuid), time };
    const event = mapAudit(ctx, d);
    return drift.length === 0 ? { ok: true, event } : { ok: true, event, drift };
  }

  const time = Date.parse(envelope.time);
  const ctx: MapContext = {
    envelope,
    detailType,
    uid: deterministicUid('buildkite', detailType, envelope.id, envelope.time, primaryUuid(detail)),
    time,
    envelopeTime: time,
  };
  switch (detailType) {
    case 'Build Created':
    case 'Build Started':
    case 'Build Blocked':
    case 'Build Failing':
    case 'Build Finished':
      return { ok: true, event: mapBuild(ctx, detail as BuildDetail) };
    case 'Job Scheduled':
    case 'Job Started':
    case 'Job Finished':
    case 'Job Activated':
    case 'Job Promised Exit Status':
      return { ok: true, event: mapJob(ctx, detail as JobDetail) };
    case 'Agent Connected':
    case 'Agent Disconnected':
    case 'Agent Lost':
    case 'Agent Stopped':
    case 'Agent Stopping':
      return { ok: true, event: mapAgent(ctx, detail as AgentDetail) };
    case 'Agent Blocked':
    case 'Cluster Token Registration Blocked':
      return { ok: true, event: mapBlocked(ctx, detail as AgentBlockedDetail | ClusterTokenRegistrationBlockedDetail) };
    default:
      return { ok: true, event: mapGeneric(ctx, detail) };
  }
}
