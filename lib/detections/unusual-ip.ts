/**
 * unusual-ip: an actor, API token or agent token acting from a network it has not used before.
 *
 * A network is an autonomous system, the country where the address is used (geofeeds) and, for
 * AWS, GCP and Azure addresses, the cloud region (lib/enrich/ip.ts). Agents in autoscaling
 * groups connect from ever-new IPs inside their cloud's ASN and region, so a new IP there, or in
 * `allowedCidrs`, is normal. Per entity, the first `learningPeriodHours` after it is first seen
 * are learned silently; after that:
 * - agent token: a new ASN, a new country or a new cloud region is a finding (an eu-west-1
 *   fleet's token used from AWS Singapore is in the same ASN);
 * - actor / API token: a new ASN or a new country is a finding.
 * A network that raised a finding is NOT learned until it is acknowledged: in config
 * (`acknowledged`), or in state by `kitewatch detections ack` (lib/detections/ack.ts). Until
 * then it raises one finding per entity and network per incident (lib/detections/incident.ts),
 * updated while it is used, so an attacker's network never becomes "known" by being used.
 * Agent Blocked and Cluster Token Registration Blocked are findings at once.
 */
import type { EntityType, FindingResource } from '../findings/contract.ts';
import type { IpInfo } from '../enrich/ip.ts';
import { CidrSet } from '../enrich/cidr.ts';
import type { OcsfEvent, SeverityId } from '../ocsf/types.ts';
import type { UnusualIpConfig } from './config.ts';
import { actorOf, agentOf, apiTokenOf, auditAgentOf, blockedOf, evidenceOf, IdentitySet, isAuditEvent, perConfig, res } from './entities.ts';
import type { DetectContext, Detector, FindingDraft } from './types.ts';

const DAY = 86_400;
/** How stale a network's last-seen may get before it is refreshed (a write); bounds writes. */
const REFRESH_SECONDS = DAY;

type Kind = 'agentToken' | 'apiToken' | 'actor';
const TYPE: Record<Kind, EntityType> = { agentToken: 'AgentToken', apiToken: 'ApiToken', actor: 'Actor' };
const LABEL: Record<Kind, string> = { agentToken: 'Agent token', apiToken: 'API token', actor: 'Actor' };

/** Per entity: first seen, and last seen (event seconds) per ASN, per country and per cloud region. */
export interface Seen {
  f: number;
  n: Record<string, number>;
  c: Record<string, number>;
  r?: Record<string, number>;
}

/** The state key of an entity's networks (also written by `kitewatch detections ack`). */
export const seenKey = (kind: Kind, uid: string): string => `uip:${kind}:${uid}`;
export type UnusualIpKind = Kind;
export const KIND_OF_TYPE: Readonly<Partial<Record<EntityType, Kind>>> = { AgentToken: 'agentToken', ApiToken: 'apiToken', Actor: 'actor' };

/** `aws:eu-west-1` */
export function regionKey(info: IpInfo): string | undefined {
  return info.cloud === undefined ? undefined : `${info.cloud.provider}:${info.cloud.region}`;
}

const settings = perConfig((c: UnusualIpConfig) => ({
  allowed: new CidrSet(c.allowedCidrs),
  ignore: new IdentitySet(c.ignoreActors),
  kinds: new Set<Kind>(c.entities),
  // Per entity uuid: the acknowledged network keys (AS1234, a country code, aws:eu-west-1).
  acked: c.acknowledged.reduce((m, a) => m.set(a.entity.toLowerCase(), new Set([...(m.get(a.entity.toLowerCase()) ?? []), ...a.networks])), new Map<string, Set<string>>()),
}));

const BLOCKED = new Set(['Agent Blocked', 'Cluster Token Registration Blocked']);

function asnKey(info: IpInfo): string {
  return info.asn === undefined ? 'AS?' : `AS${info.asn}`;
}

function networkText(ip: string, info: IpInfo): string {
  const as = info.asn === undefined ? 'no known AS' : `AS${info.asn}${info.asOrg ? ` ${info.asOrg}` : ''}`;
  const where = [info.country, info.cloud === undefined ? undefined : `${info.cloud.provider.toUpperCase()} ${info.cloud.region}`].filter((x) => x !== undefined).join(', ');
  return `${as}${where ? ` (${where})` : ''}, ${ip}`;
}

/** The date of the provider's ranges the region came from, when the enricher knows it. */
function cloudAsOf(ctx: DetectContext<UnusualIpConfig>, info: IpInfo): string | undefined {
  const asOf = (ctx.enrich as { cloudRegions?: { asOf: Readonly<Record<string, string>> } }).cloudRegions?.asOf;
  return info.cloud === undefined ? undefined : asOf?.[info.cloud.provider];
}

function fresh(map: Record<string, number>, k: string, now: number, maxAge: number): boolean {
  const t = map[k];
  return t !== undefined && now - t <= maxAge;
}

interface Subject {
  readonly kind: Kind;
  readonly uid: string;
  readonly name: string | undefined;
}

async function checkEntity(
  event: OcsfEvent,
  ctx: DetectContext<UnusualIpConfig>,
  subject: Subject,
  ip: string,
  info: IpInfo,
  related: () => Promise<FindingResource[]>,
): Promise<FindingDraft | undefined> {
  const { config, state, now } = ctx;
  const memory = config.networkMemoryDays * DAY;
  const k = seenKey(subject.kind, subject.uid);
  const item = await state.get<Seen>(k);
  const asn = asnKey(info);
  const cc = info.country ?? '??';
  const region = regionKey(info);
  const retention = memory + config.learningPeriodHours * 3600;
  if (item === undefined) {
    await state.put<Seen>(k, { f: now, n: { [asn]: now }, c: { [cc]: now }, r: region === undefined ? {} : { [region]: now } }, { expiresAt: ctx.expiresAt(retention) });
    return undefined;
  }
  const seen = item.value;
  seen.r ??= {};
  const acked = settings(config).acked.get(subject.uid.toLowerCase());
  const knownAsn = fresh(seen.n, asn, now, memory) || acked?.has(asn) === true;
  const knownCc = fresh(seen.c, cc, now, memory) || acked?.has(cc) === true;
  // Only agent tokens are judged by region: people and API clients move between clouds' regions with their tools.
  const knownRegion = region === undefined || subject.kind !== 'agentToken' || fresh(seen.r, region, now, memory) || acked?.has(region) === true;
  const unusual = !knownAsn || !knownCc || !knownRegion;
  const learning = now - seen.f < config.learningPeriodHours * 3600;
  if (!unusual || learning) {
    const stale = (m: Record<string, number>, key: string | undefined): boolean => key !== undefined && (m[key] ?? -Infinity) < now - REFRESH_SECONDS;
    if (stale(seen.n, asn) || stale(seen.c, cc) || stale(seen.r, region)) {
      const prune = (m: Record<string, number>): void => {
        for (const [key, t] of Object.entries(m)) if (now - t > memory) delete m[key];
      };
      prune(seen.n);
      prune(seen.c);
      prune(seen.r);
      seen.n[asn] = Math.max(seen.n[asn] ?? 0, now);
      seen.c[cc] = Math.max(seen.c[cc] ?? 0, now);
      if (region !== undefined) seen.r[region] = Math.max(seen.r[region] ?? 0, now);
      await state.put<Seen>(k, seen, { expiresAt: ctx.expiresAt(retention) });
    }
    return undefined;
  }
  const knownNets = Object.keys(seen.n)
    .filter((n) => fresh(seen.n, n, now, memory))
    .sort();
  const knownCcs = Object.keys(seen.c)
    .filter((c) => fresh(seen.c, c, now, memory))
    .sort();
  const newCountry = !knownCc;
  const severity: SeverityId = subject.kind === 'actor' && !newCountry ? 3 : 4;
  const what = subject.name !== undefined && subject.name !== subject.uid ? `${LABEL[subject.kind]} "${subject.name}"` : `${LABEL[subject.kind]} ${subject.uid}`;
  const novelty = !knownAsn && newCountry ? 'a new network and country' : !knownAsn ? 'a new network' : newCountry ? 'a new country' : 'a new cloud region';
  const knownRegions = Object.keys(seen.r)
    .filter((r) => fresh(seen.r ?? {}, r, now, memory))
    .sort();
  const resources: FindingResource[] = [res(TYPE[subject.kind], subject.uid, 'target', subject.name), ...(await related())];
  return {
    // One finding per entity and network per incident.
    dedupKey: `${subject.kind}:${subject.uid}:${asn}:${cc}${subject.kind === 'agentToken' && region !== undefined ? `:${region}` : ''}`,
    title: `${what} used from ${novelty}: ${networkText(ip, info)}`,
    desc:
      `${what} acted from ${networkText(ip, info)}, a network it has not used in the last ${config.networkMemoryDays} days. ` +
      `Known networks: ${knownNets.join(', ') || 'none'}; known countries: ${knownCcs.join(', ') || 'none'}. ` +
      (subject.kind === 'agentToken' && knownRegions.length > 0 ? `Known cloud regions: ${knownRegions.join(', ')}. ` : '') +
      "A leaked credential used from the attacker's infrastructure looks like this; so does a new office, VPN or cloud region: once confirmed, acknowledge it (kitewatch detections ack, or detectors.unusual-ip.acknowledged) and it is learned.",
    severity,
    confidence: subject.kind === 'agentToken' ? 3 : 2,
    resources,
    evidences: [evidenceOf(event, info)],
    firstSeen: event.time,
    lastSeen: event.time,
    type: 'Unusual Network',
    data: {
      ip,
      asn: info.asn,
      as_org: info.asOrg,
      country: info.country,
      new_asn: !knownAsn,
      new_country: newCountry,
      known_asns: knownNets,
      known_countries: knownCcs,
      cloud_region: region,
      new_cloud_region: !knownRegion,
      known_cloud_regions: subject.kind === 'agentToken' ? knownRegions : undefined,
      cloud_ranges_as_of: region === undefined ? undefined : cloudAsOf(ctx, info),
      entity_first_seen: seen.f * 1000,
    },
  };
}

async function blocked(event: OcsfEvent, ctx: DetectContext<UnusualIpConfig>): Promise<FindingDraft[]> {
  const agent = agentOf(event);
  const { blockedIp, allowed } = blockedOf(event);
  if (agent.tokenUid === undefined) return [];
  const info = blockedIp === undefined ? undefined : ctx.enrich.lookup(blockedIp);
  const where = blockedIp === undefined ? 'an unknown address' : info === undefined ? blockedIp : networkText(blockedIp, info);
  const token = agent.tokenName !== undefined ? `Cluster token "${agent.tokenName}"` : `Cluster token ${agent.tokenUid}`;
  const resources: FindingResource[] = [res('ClusterToken', agent.tokenUid, 'target', agent.tokenName, { allowed_ip_addresses: allowed })];
  if (agent.uid !== undefined) resources.push(res('Agent', agent.uid, 'implicated', agent.name, { ip: agent.ip }));
  return [
    {
      dedupKey: `blocked:${agent.tokenUid}:${blockedIp ?? ''}`,
      title: `${token} used from ${where}, outside its allowed IP addresses (${allowed ?? 'none'})`,
      desc:
        `Buildkite blocked a registration with ${token.toLowerCase()} from ${blockedIp ?? 'an unknown address'}, which is outside the token's allowed IP ranges (${allowed ?? 'none'}). ` +
        'The token value is known to someone outside your network: treat it as leaked.',
      severity: 4,
      confidence: 3,
      resources,
      evidences: [evidenceOf(event, info)],
      firstSeen: event.time,
      lastSeen: event.time,
      type: 'Blocked Registration',
      data: { ip: blockedIp, allowed_ip_addresses: allowed, asn: info?.asn, as_org: info?.asOrg, country: info?.country },
    },
  ];
}

export const unusualIp: Detector<UnusualIpConfig> = {
  meta: {
    id: 'unusual-ip',
    title: 'Unusual network',
    description: 'An actor, API token or agent token acting from a network (ASN or country) it has not used before, or a token blocked by its IP allow-list.',
    severity: 4,
    severityNotes: 'High; Medium for an actor in a new ASN of a known country.',
    analyticType: 2,
    attacks: [
      {
        tactic: { uid: 'TA0005', name: 'Defense Evasion' },
        technique: { uid: 'T1550', name: 'Use Alternate Authentication Material' },
        sub_technique: { uid: 'T1550.001', name: 'Application Access Token' },
      },
      {
        tactic: { uid: 'TA0001', name: 'Initial Access' },
        technique: { uid: 'T1078', name: 'Valid Accounts' },
        sub_technique: { uid: 'T1078.004', name: 'Cloud Accounts' },
      },
    ],
    types: ['Anomalous Credential Use'],
    defaultThresholds:
      'learning 24 h per entity; networks (ASN, country, cloud region for agent tokens) remembered 90 days; one finding per entity and network per incident, closed after 7 days unused or when acknowledged; blocked registrations at once',
    recommendedContainment:
      'Agent token: revoke the token (target) and stop the agents that connected from the new network (implicated). API token: remove its organization access. Actor: none automatic; confirm with the person.',
    runbook: {
      check: [
        'Is the network expected: a new office, VPN egress, CI runner pool or cloud region? Look up the ASN and country in the finding.',
        'For an agent token: which agents connected from the new network (implicated), which hostnames and queues, and what jobs did they take?',
        'For an actor: does the person confirm the session? Check the user agent and time in the evidence.',
        'For a blocked registration: the token value is known outside its allowed ranges: find where it leaked (repos, logs, images).',
      ],
      act: [
        'Unexpected: revoke the agent token (cluster tokens: Clusters > Agent tokens) and stop the implicated agents; revoking alone does not disconnect them.',
        'Rotate secrets the implicated agents could read (cluster secrets, pipeline env).',
        'Expected: acknowledge it (`kitewatch detections ack FINDING.json`, or an entry in detectors.unusual-ip.acknowledged) so the network is learned for that entity; for an office or VPN range used by everyone, add it to detectors.unusual-ip.allowedCidrs.',
      ],
    },
    targets: ['AgentToken', 'ClusterToken', 'ApiToken', 'Actor'],
  },

  accepts(event) {
    if (event.class_uid === 3002) {
      const code = event.metadata.event_code;
      return code === 'Agent Connected' || BLOCKED.has(code ?? '');
    }
    return isAuditEvent(event);
  },

  async detect(event, ctx) {
    const code = event.metadata.event_code ?? '';
    if (BLOCKED.has(code)) return ctx.config.blockedRegistrations ? blocked(event, ctx) : [];
    const ip = event.src_endpoint?.ip;
    if (typeof ip !== 'string' || ip === '') return [];
    const s = settings(ctx.config);
    if (s.allowed.has(ip)) return [];
    const info = ctx.enrich.lookup(ip);
    if (info === undefined) return [];
    const out: FindingDraft[] = [];

    if (event.class_uid === 3002) {
      if (!s.kinds.has('agentToken') || event.status_id !== 1) return [];
      const agent = agentOf(event);
      if (agent.tokenUid === undefined) return [];
      const draft = await checkEntity(event, ctx, { kind: 'agentToken', uid: agent.tokenUid, name: agent.tokenName }, ip, info, async () => {
        // Only the agent that connected from the new network: the token's other agents (often
        // dozens, all harmless) are left out.
        const out: FindingResource[] = [];
        if (agent.uid !== undefined) out.push(res('Agent', agent.uid, 'implicated', agent.name, { ip, connected_time: event.time }));
        return out;
      });
      if (draft !== undefined) out.push(draft);
      return out;
    }

    const actor = actorOf(event);
    if (s.ignore.has(actor)) return [];
    const apiToken = apiTokenOf(event);
    // An audit event made through the agent API names the agent that made it from the network.
    const auditAgent = auditAgentOf(event);
    const agentRes = auditAgent !== undefined ? [res('Agent', auditAgent, 'implicated', undefined, { ip })] : [];
    if (apiToken !== undefined && s.kinds.has('apiToken')) {
      const draft = await checkEntity(event, ctx, { kind: 'apiToken', uid: apiToken, name: undefined }, ip, info, async () =>
        actor?.uid !== undefined ? [res('Actor', actor.uid, 'related', actor.name), ...agentRes] : agentRes,
      );
      if (draft !== undefined) out.push(draft);
    }
    if (actor?.uid !== undefined && s.kinds.has('actor')) {
      const draft = await checkEntity(event, ctx, { kind: 'actor', uid: actor.uid, name: actor.name }, ip, info, async () =>
        apiToken !== undefined ? [res('ApiToken', apiToken, 'related'), ...agentRes] : agentRes,
      );
      if (draft !== undefined) out.push(draft);
    }
    return out;
  },
};
