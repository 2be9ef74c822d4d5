/**
 * The detect stage: every enabled detector on every event, over one BatchStateCache, with
 * dedup and finding construction. The same object runs in `kitewatch replay` (flushed every
 * batch of inputs) and in the detector Lambda (flushed once per SQS batch).
 *
 * Time: detectors see event time only. The state store's TTL is garbage collection, not logic:
 * items expire at `max(event time, store clock) + retention`, so they outlive their logical
 * lifetime whichever clock the store runs on (wall clock in Lambda, wall or event clock in a
 * replay); detectors keep event times inside values and judge freshness themselves.
 */
import type { KitewatchConfig } from '../config/schema.ts';
import type { DetectStage } from '../engine/stages.ts';
import { defaultIpEnricher, type IpEnricher } from '../enrich/ip.ts';
import type { OcsfEvent } from '../ocsf/types.ts';
import { BatchStateCache, type FlushResult } from '../state/batch-cache.ts';
import { deepFreeze, STATE_PARTITIONS, type PutOptions, type StateItem, type StatePort } from '../state/port.ts';
import type { DetectorId } from './config.ts';
import { orgOf } from './entities.ts';
import { buildFinding, errorFinding, findingUid } from './finding.ts';
import { isOpen, mergeIncident, openIncident, type Incident } from './incident.ts';
import { DETECTORS } from './index.ts';
import { connectedAgents, isRosterEvent, trackAgent } from './roster.ts';
import { isActorNetworkEvent, judgeActorNetwork, trackActorNetwork, type NetworkNovelty } from './actor-networks.ts';
import type { AnyDetector, DetectContext, FindingDraft } from './types.ts';
import { resentMemoryDays, SeenSet, type ResentMemorySettings } from './seen.ts';

/** A state call failed: infrastructure, not detection logic. The Lambda retries the batch on it. */
export class StateUnavailableError extends Error {
  override readonly name = 'StateUnavailableError';
}

export interface DetectStageOptions {
  /** The inner store's clock, epoch seconds (default: wall clock, like the adapters' default). */
  readonly storeClock?: () => number;
  /** IP enrichment (default: the ip-location-db tables, loaded on first use). */
  readonly enrich?: IpEnricher;
  /** Run only these detectors (test cases); default: the registry, minus disabled ones. */
  readonly detectors?: readonly AnyDetector[];
  /**
   * `finding` (default, the DetectStage contract): a failing state call inside a detector is
   * reported as that detector's error finding, like any throw. `throw`: it is rethrown as
   * StateUnavailableError, so the Lambda fails the batch and SQS redelivers it.
   */
  readonly stateErrors?: 'finding' | 'throw';
}

export interface KitewatchDetectStage extends DetectStage {
  readonly cache: BatchStateCache;
  readonly detectors: readonly AnyDetector[];
  /** The last flush's result (writes issued). */
  readonly lastFlush: FlushResult | undefined;
  /** Drafts merged into an open incident without raising anything so far. */
  readonly suppressed: number;
  /** Updates raised for open incidents so far (findings with activity Update). */
  readonly updates: number;
  /** Events skipped because the detectors had already counted them (re-sent: backfill re-run, redelivery). */
  readonly resent: number;
  /** Drops the batch's pending state (the Lambda does this when it cannot publish). */
  discard(): void;
  /**
   * The Updates of open incidents this batch gathered, one per incident (the latest, holding
   * everything merged): call before flush and publish them with the batch's findings.
   */
  drain(): Promise<OcsfEvent[]>;
}

const wallClock = (): number => Math.floor(Date.now() / 1000);

const NONE: readonly OcsfEvent[] = Object.freeze([]);

interface Dedup {
  /** Event seconds the finding was raised at. */
  t: number;
  u: string;
}

/** Every detections key lives under this prefix in the shared state table (containment uses `containment:`). */
export const STATE_PREFIX = STATE_PARTITIONS.detect;

/**
 * The port detectors see: keys namespaced under STATE_PREFIX, and every failure tagged as
 * StateUnavailableError so the stage can tell it from a detector bug.
 */
function guarded(state: StatePort): StatePort {
  const k = (key: string): string => STATE_PREFIX + key;
  const wrap = <T>(p: Promise<T>): Promise<T> =>
    p.catch((cause: unknown) => {
      throw new StateUnavailableError(`state store failed: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`, { cause });
    });
  return {
    get: <T>(key: string): Promise<StateItem<T> | undefined> => wrap(state.get<T>(k(key))),
    getMany: async <T>(keys: readonly string[]): Promise<Map<string, StateItem<T>>> => {
      const found = await wrap(state.getMany<T>(keys.map(k)));
      return new Map([...found].map(([key, item]) => [key.slice(STATE_PREFIX.length), item]));
    },
    put: <T>(key: string, value: T, options: PutOptions): Promise<boolean> => wrap(state.put<T>(k(key), value, options)),
    increment: (key, delta, expiresAt) => wrap(state.increment(k(key), delta, expiresAt)),
    delete: (key) => wrap(state.delete(k(key))),
    get writeCount() {
      return state.writeCount;
    },
    close: () => state.close(),
  };
}

/** Only `detectors` (and how long re-sent events are recognised) is read, so the Lambda can pass just that (and bundle less). */
export type DetectConfig = Pick<KitewatchConfig, 'detectors'> & { readonly aws?: { readonly blindness?: ResentMemorySettings } };

export function createDetectStage(config: DetectConfig, state: StatePort, options: DetectStageOptions = {}): KitewatchDetectStage {
  const storeClock = options.storeClock ?? wallClock;
  const cache = state instanceof BatchStateCache ? state : new BatchStateCache(state, { nowSeconds: storeClock });
  const port = guarded(cache);
  const enrich = options.enrich ?? defaultIpEnricher();
  const throwStateErrors = options.stateErrors === 'throw';
  const active = (options.detectors ?? DETECTORS).filter((d) => config.detectors[d.meta.id].enabled);
  const detectorConfig = new Map<DetectorId, unknown>(active.map((d) => [d.meta.id, config.detectors[d.meta.id]]));
  // The roster feeds the agent-token detectors only; without them it is not kept.
  const rosterOwner = active.find((d) => d.meta.id === 'token-spike' || d.meta.id === 'unusual-ip');
  // Actor networks are learned only for the detectors that read them.
  const networkOwner = active.find((d) => d.meta.usesActorNetworks === true);
  const networkSettings = config.detectors['unusual-ip'];
  let lastFlush: FlushResult | undefined;
  let suppressed = 0;
  let updates = 0;
  let resent = 0;
  // Straight on the store, not the batch cache: marks are written after the detectors' state.
  const seen = new SeenSet(guarded(cache.inner), {
    retentionSeconds: resentMemoryDays(config.aws?.blindness) * 86_400,
    storeClock,
  });
  /** Per incident (its finding uid): the Update to raise at the end of the batch, and its state key. */
  const pending = new Map<string, { k: string; d: AnyDetector; draft: FindingDraft; trigger: OcsfEvent; org: ReturnType<typeof orgOf>; created: number; version: number }>();

  /** `uid` is computed only for a finding that is raised: most drafts are suppressed, and it is a hash. */
  async function isDuplicate(id: DetectorId, key: string, uid: () => string, now: number, base: number): Promise<boolean> {
    const windowSeconds = config.detectors[id].dedupWindowMinutes * 60;
    const k = `dd:${id}:${key}`;
    const prior = await port.get<Dedup>(k);
    if (prior !== undefined && Math.abs(now - prior.value.t) < windowSeconds) return true;
    await port.put<Dedup>(k, { t: now, u: uid() }, { expiresAt: base + windowSeconds });
    return false;
  }

  /**
   * One finding per incident (lib/detections/incident.ts): the first draft for a key raises a
   * finding; later ones inside the open incident raise an Update when they name something new
   * to act on, and otherwise only extend the incident.
   */
  async function raise(d: AnyDetector, draft: FindingDraft, event: OcsfEvent, now: number, base: number, org: () => ReturnType<typeof orgOf>): Promise<OcsfEvent | undefined> {
    const windowSeconds = config.detectors[d.meta.id].dedupWindowMinutes * 60;
    const k = `inc:${d.meta.id}:${draft.dedupKey}`;
    const prior = (await port.get<Incident>(k))?.value;
    const expiresAt = base + windowSeconds + 60;
    if (!isOpen(prior, now, windowSeconds)) {
      const uid = findingUid(d.meta.id, draft.dedupKey, event.metadata.uid);
      await port.put<Incident>(k, deepFreeze(openIncident(uid, draft, event.time, now)), { expiresAt, frozen: true });
      return buildFinding({ meta: d.meta, draft, trigger: event, org: org() });
    }
    const { incident, update } = mergeIncident(prior, draft, now);
    // Frozen: an incident (up to MAX_EVIDENCES evidences) is read and rewritten on every draft,
    // and the cache then keeps it without a JSON copy each way. mergeIncident never mutates.
    await port.put<Incident>(k, deepFreeze(incident), { expiresAt, frozen: true });
    if (update === undefined) suppressed++;
    else pending.set(incident.u, { k, d, draft: update, trigger: event, org: org(), created: incident.c, version: incident.v + 1 });
    return undefined;
  }

  async function drain(): Promise<OcsfEvent[]> {
    const out: OcsfEvent[] = [];
    for (const [uid, p] of pending) {
      const item = await port.get<Incident>(p.k);
      // The incident may have closed and another opened under the same key in this batch.
      if (item !== undefined && item.value.u === uid && item.value.v < p.version) {
        await port.put<Incident>(p.k, deepFreeze({ ...item.value, v: p.version }), { expiresAt: item.expiresAt, frozen: true });
      }
      out.push(buildFinding({ meta: p.d.meta, draft: p.draft, trigger: p.trigger, org: p.org, update: { uid, created: p.created } }));
      updates++;
    }
    pending.clear();
    return out;
  }

  /**
   * Most events interest no detector: those get their (empty) answer synchronously, before the
   * clock read, the closures and the promise that detecting costs.
   */
  function detect(event: OcsfEvent): readonly OcsfEvent[] | Promise<readonly OcsfEvent[]> {
    const now = Math.floor(event.time / 1000);
    if (!Number.isFinite(now)) return NONE;
    seen.noteTime(event.time);
    let first = 0;
    while (first < active.length && !(active[first] as AnyDetector).accepts(event)) first++;
    const roster = rosterOwner !== undefined && isRosterEvent(event);
    const networks = networkOwner !== undefined && isActorNetworkEvent(event);
    if (first === active.length && !roster && !networks) return NONE;
    return detectFrom(event, now, first, roster, networks);
  }

  /** False when the event was counted before; marks it otherwise. A store failure counts it (double, never blind). */
  async function isNew(event: OcsfEvent): Promise<boolean> {
    const uid = event.metadata?.uid;
    // Without an id there is nothing to recognise it by: count it.
    if (typeof uid !== 'string' || uid === '') return true;
    try {
      return await seen.markIfNew(uid, event.time);
    } catch (error) {
      if (throwStateErrors && error instanceof StateUnavailableError) throw error;
      return true;
    }
  }

  async function detectFrom(event: OcsfEvent, now: number, first: number, roster: boolean, networks: boolean): Promise<readonly OcsfEvent[]> {
    if (!(await isNew(event))) {
      resent++;
      return NONE;
    }
    const base = Math.max(now, storeClock());
    const tokenAgents = (tokenUid: string) => connectedAgents(port, tokenUid, event.time);
    // Judged once, before this event is learned, whichever detector asks first.
    let novelty: Promise<NetworkNovelty | undefined> | undefined;
    const actorNetwork = (): Promise<NetworkNovelty | undefined> => (networks ? (novelty ??= judgeActorNetwork(event, port, enrich, networkSettings, now)) : Promise.resolve(undefined));
    let org: ReturnType<typeof orgOf> | null = null;
    const orgOnce = () => (org ??= orgOf(event));
    let out: OcsfEvent[] | undefined;

    const fail = async (d: AnyDetector, error: unknown): Promise<void> => {
      if (throwStateErrors && error instanceof StateUnavailableError) throw error;
      const finding = errorFinding(d.meta, error, event, orgOnce());
      let duplicate = false;
      try {
        duplicate = await isDuplicate(d.meta.id, `error:${(error as Error)?.name}:${(error as Error)?.message}`, () => findingUid(d.meta.id, 'error', event.metadata.uid), now, base);
      } catch {
        // The state store is what failed: report every time rather than not at all.
      }
      if (duplicate) suppressed++;
      else (out ??= []).push(finding);
    };

    for (let i = first; i < active.length; i++) {
      const d = active[i] as AnyDetector;
      if (i !== first && !d.accepts(event)) continue;
      const ctx: DetectContext<unknown> = {
        config: detectorConfig.get(d.meta.id),
        state: port,
        now,
        expiresAt: (seconds) => base + Math.ceil(seconds),
        enrich,
        connectedAgents: tokenAgents,
        actorNetwork,
      };
      try {
        const drafts = await d.detect(event, ctx);
        for (const draft of drafts) {
          const finding = await raise(d, draft, event, now, base, orgOnce);
          if (finding !== undefined) (out ??= []).push(finding);
        }
      } catch (error) {
        await fail(d, error);
      }
    }
    if (networks && networkOwner !== undefined) {
      try {
        await trackActorNetwork(event, port, enrich, networkSettings, now, (seconds) => base + seconds);
      } catch (error) {
        await fail(networkOwner, error);
      }
    }
    if (roster && rosterOwner !== undefined) {
      try {
        await trackAgent(event, port, (seconds) => base + seconds);
      } catch (error) {
        await fail(rosterOwner, error);
      }
    }
    return out ?? [];
  }

  return {
    cache,
    detectors: active,
    get lastFlush() {
      return lastFlush;
    },
    get suppressed() {
      return suppressed;
    },
    get updates() {
      return updates;
    },
    get resent() {
      return resent;
    },
    detect,
    async flush() {
      const result = await cache.flush();
      // Only once the detectors' state is written: a failed flush leaves the events unmarked.
      const marks = await seen.commit();
      lastFlush = { ...result, writes: result.writes + marks };
    },
    discard() {
      pending.clear();
      cache.discard();
      seen.discard();
    },
    drain,
  };
}
