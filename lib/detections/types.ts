/**
 * What a detector is: metadata (the catalog in docs/detectors.md, the finding's analytic and ATT&CK
 * blocks) plus a pure function over one normalized OCSF event and an injected context
 * (state port, event-time clock, IP enrichment). Detectors return finding drafts; the stage
 * applies dedup and builds the OCSF 2004 Detection Finding (lib/detections/finding.ts).
 */
import type { AgentShape } from './fleet-shape.ts';
import type { EntityType, FindingResource } from '../findings/contract.ts';
import type { IpEnricher } from '../enrich/ip.ts';
import type { OcsfEvent, SeverityId } from '../ocsf/types.ts';
import type { StatePort } from '../state/port.ts';
import type { NetworkNovelty } from './actor-networks.ts';
import type { DetectorId } from './config.ts';
import type { Envelope } from './builders.ts';

export interface AttackRef {
  readonly tactic: { readonly uid: string; readonly name: string };
  readonly technique: { readonly uid: string; readonly name: string };
  readonly sub_technique?: { readonly uid: string; readonly name: string };
}

/** OCSF analytic type ids used here: 1 Rule, 2 Behavioral, 3 Statistical. */
export type AnalyticType = 1 | 2 | 3;

export interface DetectorMeta {
  readonly id: DetectorId;
  readonly title: string;
  readonly description: string;
  /** The usual severity; a detector may raise some findings higher or lower (documented in `severityNotes`). */
  readonly severity: SeverityId;
  readonly severityNotes?: string;
  readonly analyticType: AnalyticType;
  readonly attacks: readonly AttackRef[];
  /** Finding types (OCSF `finding_info.types`). */
  readonly types: readonly string[];
  /** Human summary of the default thresholds, for the catalog. */
  readonly defaultThresholds: string;
  /** What containment should do, in words and as actions on resource roles. */
  readonly recommendedContainment: string;
  readonly runbook: { readonly check: readonly string[]; readonly act: readonly string[] };
  /** Entities this detector puts in resources[] as target. */
  readonly targets: readonly EntityType[];
  /** Reads `ctx.actorNetwork()`: the stage then learns every audit actor's networks. */
  readonly usesActorNetworks?: boolean;
}

/** A triggering event as a finding cites it in evidences[] (kept small: detectors store some in state). */
export interface EvidenceRef {
  readonly uid: string;
  /** Epoch ms. */
  readonly time: number;
  readonly typeUid: number;
  readonly code?: string;
  readonly message?: string;
  readonly ip?: string;
  readonly asn?: number;
  readonly asOrg?: string;
  readonly country?: string;
  /** The authenticating agent (agent events). */
  readonly user?: { readonly uid?: string; readonly name?: string; readonly credential_uid?: string };
  /** The audit actor (audit events). */
  readonly actor?: { readonly uid?: string; readonly name?: string };
}

export interface FindingDraft {
  /** The entity (and sub-rule) the dedup window applies to, e.g. `agent-token:<uuid>:AS60729`. */
  readonly dedupKey: string;
  readonly title: string;
  readonly desc: string;
  readonly severity: SeverityId;
  /** OCSF confidence_id: 1 Low, 2 Medium, 3 High. */
  readonly confidence: 1 | 2 | 3;
  /** Without the organization (the stage adds it). The first `target` is what the finding is about. */
  readonly resources: readonly FindingResource[];
  /** Newest (the event that triggered the finding) first. */
  readonly evidences: readonly EvidenceRef[];
  /** How many events the finding stands for (evidences may be capped). */
  readonly eventCount?: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** Why, in numbers: baseline, threshold, new network... (finding `unmapped.kitewatch`). */
  readonly data?: Readonly<Record<string, unknown>>;
  /** Sub-type of the finding (`finding_info.types` gets it after the detector's types). */
  readonly type?: string;
}

/** Other currently connected agents of an agent token, from Agent events (lib/detections/roster.ts). */
export interface RosterAgent {
  readonly uid: string;
  readonly name?: string;
  readonly ip?: string;
  /** Last connect, epoch ms. */
  readonly seen: number;
  /** metadata.uid of that Agent Connected event. */
  readonly event?: string;
  /** What it reported about itself (lib/detections/fleet-shape.ts); absent in records older than shapes. */
  readonly shape?: AgentShape;
}

export interface DetectContext<C> {
  readonly config: C;
  /** The batch's state cache: read and write freely, everything is written once per batch. */
  readonly state: StatePort;
  /** Event time of the current event, epoch seconds. Never wall-clock time. */
  readonly now: number;
  /** expiresAt for an item that must live `seconds`, counted from the later of event time and the store's clock (lib/detections/stage.ts), so a replayed old event's item does not expire as it is written. */
  expiresAt(seconds: number): number;
  readonly enrich: IpEnricher;
  /** Agents currently connected with an agent token (most recent first, capped). */
  connectedAgents(tokenUid: string): Promise<readonly RosterAgent[]>;
  /**
   * The current audit event's network against its actor's history before it (lib/detections/actor-networks.ts);
   * undefined without an actor, an address, or a detector that declared `usesActorNetworks`.
   */
  actorNetwork(): Promise<NetworkNovelty | undefined>;
}

export interface Detector<C = unknown> {
  readonly meta: DetectorMeta;
  /** Cheap pre-filter on class/event code, so most events skip the detector entirely. */
  accepts(event: OcsfEvent): boolean;
  detect(event: OcsfEvent, ctx: DetectContext<C>): Promise<readonly FindingDraft[]>;
}

/** A detector with its config type erased, as the registry holds it (the stage passes each its own block). */
export type AnyDetector = Detector<unknown>;

export interface ExpectedFinding {
  /** 0-based index of the input event whose processing raises the finding. */
  readonly at: number;
  readonly severity: SeverityId;
  /** Substring of finding_info.title. */
  readonly title: string;
  readonly target: { readonly type: EntityType; readonly uid: string };
  /** Uids of the implicated resources, exactly (default: none). */
  readonly implicated?: readonly string[];
  /** Uids of related resources that must be present (besides the organization). */
  readonly related?: readonly string[];
  /** Indexes of input events that must be cited in evidences[] by their metadata.uid. */
  readonly evidence?: readonly number[];
  /**
   * An Update of the open incident's finding (activity 2, the same finding_info.uid as the
   * earlier finding of that incident) rather than a new finding (default false).
   */
  readonly update?: boolean;
}

/**
 * One test case, as data: Buildkite EventBridge envelopes in, findings out (exactly). The
 * runner normalizes the envelopes with the real normalizer, so a case tests what production sees.
 */
export interface DetectorCase {
  readonly name: string;
  readonly kind: 'positive' | 'negative';
  /** Overrides of this detector's config block (validated by its schema). */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly events: readonly Envelope[];
  readonly expect: readonly ExpectedFinding[];
}
