/**
 * token-spike: one token used far above its own baseline. Counted per entity:
 * - agent token: agent registrations (Agent Connected);
 * - actor and API token: audit events.
 *
 * Counts go into fixed windows (`windowMinutes`); the current rate is the sliding estimate
 * `current + previous * (1 - elapsed fraction)`, so a burst straddling a window edge still
 * counts whole. The baseline is an EWMA of past windows' counts, updated only by windows with
 * activity (a quiet night does not make a busy morning look like a spike) and clamped to the
 * threshold (a spike does not teach the baseline that spikes are normal). A spike is
 * `estimate >= max(minimum, factor * baseline)`, unless it is the token's routine: a burst
 * seen at about the same time of day (within 1 h), about as big (the current one at most 2x),
 * on at least 3 earlier days of the last 14 (a fleet that autoscales every morning).
 */
import type { EntityType, FindingResource } from '../findings/contract.ts';
import type { OcsfEvent } from '../ocsf/types.ts';
import type { TokenSpikeConfig } from './config.ts';
import { actorOf, agentOf, apiTokenOf, evidenceOf, isAuditEvent, res } from './entities.ts';
import type { DetectContext, Detector, EvidenceRef, FindingDraft } from './types.ts';
import { seenKey, type Seen } from './unusual-ip.ts';
import { agentShapeOf, differences, establishedFleet, learnShape, type AgentShape, type FleetProfile } from './fleet-shape.ts';

type Kind = 'agentToken' | 'apiToken' | 'actor';
const TYPE: Record<Kind, EntityType> = { agentToken: 'AgentToken', apiToken: 'ApiToken', actor: 'Actor' };
const UNIT: Record<Kind, string> = { agentToken: 'agent registrations', apiToken: 'API calls in the audit log', actor: 'audit events' };
/** Audit events remembered per actor / API token to cite as evidence. */
const EVIDENCE_CAP = 10;

interface Spike {
  /** Current window index (floor(event seconds / window)). */
  w: number;
  /** Count in the current window and in the previous one (0 when not adjacent); neither is in the baseline yet. */
  c: number;
  p: number;
  /** EWMA baseline of active windows, and how many windows it has seen. */
  b: number;
  n: number;
  /** Window index when a finding was last drafted (-1: never). */
  a: number;
  /** Past bursts over the threshold, one per day: [event seconds of the day's peak, peak estimate]. */
  h?: Array<[number, number]>;
}

const DAY = 86_400;
/** Recurring bursts: seen on at least this many earlier days of the last ROUTINE_DAYS... */
const ROUTINE_MIN_DAYS = 3;
const ROUTINE_DAYS = 14;
/** ...within this much of the same time of day... */
const ROUTINE_SLACK = 3600;
/** ...and a burst up to this many times the routine one's size is still routine. */
const ROUTINE_GROWTH = 2;

/** Seconds between two times of day, the short way round midnight. */
function timeOfDayGap(a: number, b: number): number {
  const d = Math.abs((a % DAY) - (b % DAY));
  return Math.min(d, DAY - d);
}

/**
 * A scheduled burst: the token burst at about this time of day, at least this big (half the
 * size or more), on ROUTINE_MIN_DAYS earlier days of the last ROUTINE_DAYS. A burst at another
 * time, or more than ROUTINE_GROWTH times the routine one, is not routine.
 */
function isRoutine(history: readonly [number, number][] | undefined, now: number, estimate: number): boolean {
  let days = 0;
  for (const [t, size] of history ?? []) {
    if (now - t >= DAY / 2 && now - t <= ROUTINE_DAYS * DAY && timeOfDayGap(now, t) <= ROUTINE_SLACK && estimate <= ROUTINE_GROWTH * size) days++;
  }
  return days >= ROUTINE_MIN_DAYS;
}

/** Keeps the day's peak (one entry per day, the last ROUTINE_DAYS days). */
function recordBurst(s: Spike, now: number, estimate: number): void {
  const h = (s.h ?? []).filter(([t]) => now - t <= ROUTINE_DAYS * DAY);
  const today = h.find(([t]) => now - t < DAY / 2);
  if (today === undefined) h.push([now, estimate]);
  else if (estimate > today[1]) today[1] = estimate;
  s.h = h;
}

/**
 * Recent audit events of an actor / API token, to cite when it spikes: a string under its own
 * key (records split by \n, fields `uid \t ms \t ip \t type_uid \t code`), kept only while
 * activity is elevated (a quarter of the threshold), so ordinary actors cost no extra write and
 * the hot record stays small. Agent tokens keep none: the burst's agents come from the roster
 * (lib/detections/roster.ts) the stage keeps anyway.
 */
const hitsKey = (kind: Kind, uid: string): string => `spike-hits:${kind}:${uid}`;

function pushHit(hits: string, event: OcsfEvent, keepFrom: number): string {
  const clean = (v: string): string => v.replace(/[\t\n]/g, ' ');
  const record = [event.metadata.uid, String(event.time), clean(event.src_endpoint?.ip ?? ''), String(event.type_uid), clean(event.metadata.event_code ?? '')].join('\t');
  // Scanned in place, not split: this runs on every event of an elevated actor or token.
  let out = record;
  let kept = 1;
  for (let pos = 0; pos < hits.length && kept < EVIDENCE_CAP;) {
    let nl = hits.indexOf('\n', pos);
    if (nl < 0) nl = hits.length;
    const t1 = hits.indexOf('\t', pos);
    if (t1 >= 0 && t1 < nl) {
      let t2 = hits.indexOf('\t', t1 + 1);
      if (t2 < 0 || t2 > nl) t2 = nl;
      if (Number(hits.slice(t1 + 1, t2)) >= keepFrom) {
        out += `\n${hits.slice(pos, nl)}`;
        kept++;
      }
    }
    pos = nl + 1;
  }
  return out;
}

function readHits(hits: string): EvidenceRef[] {
  const out: EvidenceRef[] = [];
  for (const line of hits === '' ? [] : hits.split('\n')) {
    const [uid, time, ip, typeUid, code] = line.split('\t');
    if (uid === undefined || uid === '') continue;
    out.push({ uid, time: Number(time), typeUid: Number(typeUid), ...(code ? { code } : {}), ...(ip ? { ip } : {}) });
  }
  return out;
}

function threshold(config: TokenSpikeConfig, kind: Kind, baseline: number): number {
  const min = kind === 'agentToken' ? config.minAgentRegistrations : config.minAuditEvents;
  return Math.max(min, config.factor * baseline);
}

interface Subject {
  readonly kind: Kind;
  readonly uid: string;
  readonly name: string | undefined;
}

/** The shape of each agent token's fleet (lib/detections/fleet-shape.ts), a JSON string: read on every registration, written when it changes. */
const fleetKey = (tokenUid: string): string => `fleet:${tokenUid}`;
const FLEET_RETENTION_SECONDS = 30 * 86_400;

async function learnFleet(ctx: DetectContext<TokenSpikeConfig>, tokenUid: string, shape: AgentShape, name: string | undefined): Promise<void> {
  const k = fleetKey(tokenUid);
  const profile = readProfile((await ctx.state.get<string>(k))?.value);
  if (learnShape(profile, shape, name, ctx.now)) await ctx.state.put<string>(k, JSON.stringify(profile), { expiresAt: ctx.expiresAt(FLEET_RETENTION_SECONDS) });
}

function readProfile(value: unknown): FleetProfile {
  if (typeof value !== 'string') return {};
  try {
    const p: unknown = JSON.parse(value);
    return typeof p === 'object' && p !== null && !Array.isArray(p) ? (p as FleetProfile) : {};
  } catch {
    return {};
  }
}

/** Lines of evidence kept per implicated agent. */
const EVIDENCE_LINES = 4;

/**
 * The burst's agents, judged by evidence, each on its own. An agent is implicated (and the
 * default policy stops it) when it registers from a network (ASN) the token never used
 * (unusual-ip's learned networks for it), or reports itself unlike the token's fleet before the
 * burst: another agent version, hostname or name pattern, or meta-data tags (the queue among
 * them) the fleet never had. Without learned networks for the token there is nothing to vouch
 * for the network, and every burst agent is implicated.
 *
 * An agent that looks like the fleet may be a scale-out as well as an attacker who copied the
 * fleet (they choose all these fields): it is listed as `related` with `like_fleet: true`, and
 * containment asks a responder before stopping it, never stops it on its own.
 */
async function burstAgents(
  event: OcsfEvent,
  ctx: DetectContext<TokenSpikeConfig>,
  tokenUid: string,
  since: number,
): Promise<{ resources: FindingResource[]; evidences: EvidenceRef[]; first: number; earlier: number; likeFleet: string[] }> {
  const current = agentOf(event);
  const roster = await ctx.connectedAgents(tokenUid);
  const learned = (await ctx.state.get<Seen>(seenKey('agentToken', tokenUid)))?.value;
  const knownNets = new Set(Object.keys(learned?.n ?? {}));
  const fleet = establishedFleet(readProfile((await ctx.state.get<string>(fleetKey(tokenUid)))?.value), Math.floor(since / 1000));
  const asnOf = (ip: string | undefined): string | undefined => {
    const asn = ip === undefined ? undefined : ctx.enrich.lookup(ip)?.asn;
    return asn === undefined ? undefined : `AS${asn}`;
  };
  const evidenceAgainst = (name: string | undefined, ip: string | undefined, shape: AgentShape | undefined): string[] => {
    const why: string[] = [];
    const asn = asnOf(ip);
    if (learned === undefined) why.push('no network of this token is known yet');
    else if (asn === undefined || !knownNets.has(asn)) why.push(asn === undefined ? `address ${ip ?? '(none)'} in no known network` : `network ${asn} never used by this token`);
    return [...why, ...differences(shape, name, fleet)];
  };
  const resources: FindingResource[] = [];
  const evidences: EvidenceRef[] = [evidenceOf(event)];
  const likeFleet: string[] = [];
  let first = event.time;
  let implicated = 0;
  let earlier = 0;
  const judge = (uid: string, name: string | undefined, ip: string | undefined, seen: number, shape: AgentShape | undefined): void => {
    const why = evidenceAgainst(name, ip, shape);
    if (why.length === 0) {
      // Listed up to the same cap: each one is an approval request an attacker could multiply.
      if (likeFleet.length < ctx.config.maxImplicatedAgents) resources.push(res('Agent', uid, 'related', name, { ip, connected_time: seen, like_fleet: true }));
      likeFleet.push(uid);
    } else if (implicated < ctx.config.maxImplicatedAgents) {
      resources.push(res('Agent', uid, 'implicated', name, { ip, connected_time: seen, evidence: why.slice(0, EVIDENCE_LINES) }));
      implicated++;
    }
  };
  if (current.uid !== undefined && ctx.config.maxImplicatedAgents > 0) judge(current.uid, current.name, current.ip, event.time, agentShapeOf(event));
  for (const a of roster) {
    if (a.uid === current.uid) continue;
    if (a.seen >= since) {
      judge(a.uid, a.name, a.ip, a.seen, a.shape);
      first = Math.min(first, a.seen);
      if (a.event !== undefined && evidences.length < EVIDENCE_CAP) {
        evidences.push({
          uid: a.event,
          time: a.seen,
          typeUid: 300201,
          code: 'Agent Connected',
          ...(a.ip ? { ip: a.ip } : {}),
          user: { uid: a.uid, ...(a.name ? { name: a.name } : {}), credential_uid: tokenUid },
        });
      }
    } else {
      // Connected before the burst: counted, not listed (a token may have dozens of such agents).
      earlier++;
    }
  }
  return { resources, evidences, first, earlier, likeFleet };
}

async function count(event: OcsfEvent, ctx: DetectContext<TokenSpikeConfig>, subject: Subject): Promise<FindingDraft | undefined> {
  const { config, state, now } = ctx;
  const windowSeconds = config.windowMinutes * 60;
  const wi = Math.floor(now / windowSeconds);
  const k = `spike:${subject.kind}:${subject.uid}`;
  const item = await state.get<Spike>(k);
  const s: Spike = item?.value ?? { w: wi, c: 0, p: 0, b: 0, n: 0, a: -1 };
  if (wi > s.w) {
    // A window joins the baseline only once it has left the sliding estimate (two windows
    // back), so the first half of a burst never raises the bar for its second half.
    const fold = (n: number): void => {
      if (n === 0) return;
      const clamped = Math.min(n, threshold(config, subject.kind, s.b));
      s.b = s.n === 0 ? clamped : config.alpha * clamped + (1 - config.alpha) * s.b;
      s.n++;
    };
    fold(s.p);
    if (wi === s.w + 1) {
      s.p = s.c;
    } else {
      fold(s.c);
      s.p = 0;
    }
    s.c = 0;
    s.w = wi;
  }
  if (wi === s.w) s.c++;
  else if (wi === s.w - 1) s.p++;
  else return undefined; // older than the previous window: too late to count

  const elapsed = (now - s.w * windowSeconds) / windowSeconds;
  const estimate = s.c + s.p * Math.max(0, 1 - elapsed);
  const limit = threshold(config, subject.kind, s.b);
  let spiking = false;
  if (estimate >= limit) {
    // Judged on every event of the burst: a routine-sized start that grows far past the routine still fires.
    spiking = s.a < s.w - 1 && !isRoutine(s.h, now, estimate);
    recordBurst(s, now, estimate);
  }
  if (spiking) s.a = s.w;
  await state.put<Spike>(k, s, { expiresAt: ctx.expiresAt(Math.max(30 * 86_400, windowSeconds * 4)) });
  let hits = '';
  if (subject.kind !== 'agentToken' && estimate >= limit / 4) {
    const hk = hitsKey(subject.kind, subject.uid);
    const stored = await state.get<string>(hk);
    hits = pushHit(typeof stored?.value === 'string' ? stored.value : '', event, (s.w - 1) * windowSeconds * 1000);
    await state.put<string>(hk, hits, { expiresAt: ctx.expiresAt(windowSeconds * 2) });
  }
  if (!spiking) return undefined;

  const total = Math.round(estimate);
  const label = subject.kind === 'agentToken' ? 'Agent token' : subject.kind === 'apiToken' ? 'API token' : 'Actor';
  const what = subject.name !== undefined ? `${label} "${subject.name}"` : `${label} ${subject.uid}`;
  const baselineText = s.n === 0 ? 'no baseline yet' : `baseline ${s.b.toFixed(1)} per ${config.windowMinutes} min over ${s.n} active windows`;
  const resources: FindingResource[] = [res(TYPE[subject.kind], subject.uid, 'target', subject.name)];
  let evidences: EvidenceRef[];
  let first: number;
  let earlierAgents: number | undefined;
  let likeFleet: string[] | undefined;
  if (subject.kind === 'agentToken') {
    const burst = await burstAgents(event, ctx, subject.uid, (s.w - 1) * windowSeconds * 1000);
    resources.push(...burst.resources);
    evidences = burst.evidences;
    first = burst.first;
    earlierAgents = burst.earlier;
    likeFleet = burst.likeFleet;
  } else {
    evidences = readHits(hits).map((h) => (h.uid === event.metadata.uid ? evidenceOf(event) : subject.kind === 'actor' ? { ...h, actor: { uid: subject.uid } } : h));
    first = Math.min(...evidences.map((e) => e.time), event.time);
    const actor = actorOf(event);
    if (subject.kind === 'apiToken' && actor?.uid !== undefined) resources.push(res('Actor', actor.uid, 'related', actor.name));
  }
  return {
    dedupKey: `${subject.kind}:${subject.uid}`,
    title: `${what}: ${total} ${UNIT[subject.kind]} in ${config.windowMinutes} minutes, ${s.n === 0 ? 'with no baseline' : `${(total / Math.max(s.b, 1)).toFixed(0)}x its baseline`}`,
    desc:
      `${what} produced about ${total} ${UNIT[subject.kind]} in the last ${config.windowMinutes} minutes; the alert threshold was ${limit.toFixed(0)} (${baselineText}, factor ${config.factor}). ` +
      (subject.kind === 'agentToken'
        ? 'A leaked agent token registering many agents to grab jobs and their secrets looks like this; so does a deliberate large scale-out.'
        : 'Automation running with a stolen token, or a person sweeping the API, looks like this; so does a large planned change.'),
    severity: 4,
    confidence: s.n === 0 ? 2 : 3,
    resources,
    evidences,
    eventCount: total,
    firstSeen: first,
    lastSeen: event.time,
    type: 'Usage Spike',
    data: {
      count: total,
      threshold: limit,
      baseline: s.n === 0 ? null : Number(s.b.toFixed(2)),
      baseline_windows: s.n,
      window_minutes: config.windowMinutes,
      ...(earlierAgents !== undefined ? { agents_connected_before_burst: earlierAgents } : {}),
      // Reported, not implicated: burst agents that look like the token's fleet (containment asks before stopping them).
      ...(likeFleet !== undefined && likeFleet.length > 0 ? { burst_agents_like_fleet: likeFleet.length, burst_agents_like_fleet_uids: likeFleet.slice(0, 20) } : {}),
    },
  };
}

export const tokenSpike: Detector<TokenSpikeConfig> = {
  meta: {
    id: 'token-spike',
    title: 'Token usage spike',
    description: 'One agent token, API token or actor used far above its own rolling baseline (EWMA of counts per window).',
    severity: 4,
    analyticType: 3,
    attacks: [
      {
        tactic: { uid: 'TA0005', name: 'Defense Evasion' },
        technique: { uid: 'T1550', name: 'Use Alternate Authentication Material' },
        sub_technique: { uid: 'T1550.001', name: 'Application Access Token' },
      },
      { tactic: { uid: 'TA0040', name: 'Impact' }, technique: { uid: 'T1496', name: 'Resource Hijacking' } },
    ],
    types: ['Anomalous Credential Use'],
    defaultThresholds:
      '10-min windows; spike when count >= max(50 registrations or 100 audit events, 4x EWMA baseline, alpha 0.3), except a recurring burst (same time of day within 1 h, at most 2x its size, seen on 3 of the last 14 days); incident window 60 min',
    recommendedContainment:
      "Agent token: revoke the token (target) and stop the burst's agents that differ from the fleet (implicated, each with its evidence: a network the token never used, another agent version, hostname or name pattern, or tags); burst agents that look like the fleet are listed (related, like_fleet) and stopped only if a responder approves; the finding counts the token's other agents (agents_connected_before_burst) for review. API token: remove its organization access.",
    runbook: {
      check: [
        'Was a scale-out planned (autoscaling change, new queue, load test)? Ask the team that owns the token.',
        'Where did the burst agents connect from (IPs in the implicated resources), and how do they differ from the fleet (their `evidence`)? Inside your cloud network or not?',
        'The look-alikes (related, like_fleet) match the fleet on network, version, hostname and tags, which an attacker holding the token can copy: approve or deny stopping each one.',
        'Which jobs did the burst agents run, and which secrets could those jobs read?',
        'For an actor or API token: which operations dominate the burst (evidence event codes)?',
      ],
      act: [
        'Unplanned: revoke the token, stop the implicated agents, and create a new token for the legitimate fleet.',
        'Rotate secrets reachable from the affected queues and cluster.',
        'Planned: nothing. A burst that recurs at about the same time with about the same size is learned after 3 days (of the last 14); raising minAgentRegistrations would also hide a real spike.',
      ],
    },
    targets: ['AgentToken', 'ApiToken', 'Actor'],
  },

  accepts(event) {
    if (event.class_uid === 3002) return event.metadata.event_code === 'Agent Connected';
    return isAuditEvent(event);
  },

  async detect(event, ctx) {
    if (event.class_uid === 3002) {
      if (event.status_id !== 1) return [];
      const agent = agentOf(event);
      if (agent.tokenUid === undefined) return [];
      await learnFleet(ctx, agent.tokenUid, agentShapeOf(event), agent.name);
      const d = await count(event, ctx, { kind: 'agentToken', uid: agent.tokenUid, name: agent.tokenName });
      return d === undefined ? [] : [d];
    }
    const out: FindingDraft[] = [];
    const apiToken = apiTokenOf(event);
    if (apiToken !== undefined) {
      const d = await count(event, ctx, { kind: 'apiToken', uid: apiToken, name: undefined });
      if (d !== undefined) out.push(d);
    }
    const actor = actorOf(event);
    if (actor?.uid !== undefined) {
      const d = await count(event, ctx, { kind: 'actor', uid: actor.uid, name: actor.name });
      if (d !== undefined) out.push(d);
    }
    return out;
  },
};
