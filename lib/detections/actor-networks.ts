/**
 * The networks each actor acts from, learned from every audit event that names an actor and an
 * address: the "from a network new to this actor" escalation of privilege-grant,
 * third-party-access, interactive-session and account-takeover. Those events are rare, so the
 * memory has to come from all of the actor's audit traffic, not from theirs alone.
 *
 * What counts as a known network is unusual-ip's definition (one source of truth): its
 * `allowedCidrs`, `learningPeriodHours` and `networkMemoryDays`; a network is an ASN plus a
 * country. The current event is judged against the history before it, then learned.
 */
import { CidrSet } from '../enrich/cidr.ts';
import type { IpEnricher, IpInfo } from '../enrich/ip.ts';
import type { OcsfEvent } from '../ocsf/types.ts';
import type { StatePort } from '../state/port.ts';
import type { UnusualIpConfig } from './config.ts';
import { actorOf, isAuditEvent, perConfig } from './entities.ts';

const DAY = 86_400;

/** Per actor: first seen, last seen (event seconds) per ASN and per country. */
interface Seen {
  f: number;
  n: Record<string, number>;
  c: Record<string, number>;
}

export interface NetworkNovelty {
  /** Past the actor's learning period, from an ASN or a country not used in the memory window. */
  readonly isNew: boolean;
  readonly ip: string;
  readonly info: IpInfo;
  readonly knownAsns: readonly string[];
}

type Settings = Pick<UnusualIpConfig, 'allowedCidrs' | 'learningPeriodHours' | 'networkMemoryDays'>;
const allowedOf = perConfig((c: Settings) => new CidrSet(c.allowedCidrs));

const key = (actorUid: string): string => `net:actor:${actorUid}`;
const asnKey = (info: IpInfo): string => (info.asn === undefined ? 'AS?' : `AS${info.asn}`);

interface Subject {
  readonly actorUid: string;
  readonly ip: string;
}

function subjectOf(event: OcsfEvent): Subject | undefined {
  if (!isAuditEvent(event)) return undefined;
  const actorUid = actorOf(event)?.uid;
  const ip = event.src_endpoint?.ip;
  if (actorUid === undefined || typeof ip !== 'string' || ip === '') return undefined;
  return { actorUid, ip };
}

export function isActorNetworkEvent(event: OcsfEvent): boolean {
  return subjectOf(event) !== undefined;
}

/** How the event's network compares with its actor's history; undefined when it cannot say. */
export async function judgeActorNetwork(event: OcsfEvent, state: StatePort, enrich: IpEnricher, settings: Settings, now: number): Promise<NetworkNovelty | undefined> {
  const s = subjectOf(event);
  if (s === undefined) return undefined;
  const info = enrich.lookup(s.ip);
  if (info === undefined) return undefined;
  const seen = (await state.get<Seen>(key(s.actorUid)))?.value;
  const memory = settings.networkMemoryDays * DAY;
  const fresh = (m: Record<string, number>, k: string): boolean => m[k] !== undefined && now - m[k] <= memory;
  const knownAsns =
    seen === undefined
      ? []
      : Object.keys(seen.n)
          .filter((k) => fresh(seen.n, k))
          .sort();
  const learning = seen === undefined || now - seen.f < settings.learningPeriodHours * 3600;
  const allowed = allowedOf(settings).has(s.ip);
  const known = seen !== undefined && fresh(seen.n, asnKey(info)) && fresh(seen.c, info.country ?? '??');
  return { isNew: !learning && !allowed && !known, ip: s.ip, info, knownAsns };
}

/** Learns the event's network for its actor (at most one write per actor and day per network). */
export async function trackActorNetwork(event: OcsfEvent, state: StatePort, enrich: IpEnricher, settings: Settings, now: number, expiresAt: (seconds: number) => number): Promise<void> {
  const s = subjectOf(event);
  if (s === undefined || allowedOf(settings).has(s.ip)) return;
  const info = enrich.lookup(s.ip);
  if (info === undefined) return;
  const k = key(s.actorUid);
  const memory = settings.networkMemoryDays * DAY;
  const retention = memory + settings.learningPeriodHours * 3600;
  const asn = asnKey(info);
  const cc = info.country ?? '??';
  const seen = (await state.get<Seen>(k))?.value;
  if (seen === undefined) {
    await state.put<Seen>(k, { f: now, n: { [asn]: now }, c: { [cc]: now } }, { expiresAt: expiresAt(retention) });
    return;
  }
  const stale = (m: Record<string, number>, x: string): boolean => (m[x] ?? -Infinity) < now - DAY;
  if (!stale(seen.n, asn) && !stale(seen.c, cc)) return;
  for (const m of [seen.n, seen.c]) for (const [x, t] of Object.entries(m)) if (now - t > memory) delete m[x];
  seen.n[asn] = Math.max(seen.n[asn] ?? 0, now);
  seen.c[cc] = Math.max(seen.c[cc] ?? 0, now);
  await state.put<Seen>(k, seen, { expiresAt: expiresAt(retention) });
}

/** "AS60729 Stiftung Erneuerbare Freiheit (DE), 185.220.101.34" */
export function networkText(n: Pick<NetworkNovelty, 'ip' | 'info'>): string {
  const as = n.info.asn === undefined ? 'no known AS' : `AS${n.info.asn}${n.info.asOrg ? ` ${n.info.asOrg}` : ''}`;
  return `${as}${n.info.country ? ` (${n.info.country})` : ''}, ${n.ip}`;
}
