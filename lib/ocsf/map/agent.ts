import type { AgentBlockedDetail, AgentDetail, ClusterTokenRegistrationBlockedDetail } from '../../contracts/buildkite.ts';
import { header, type OcsfEndpoint, type OcsfEvent, type OcsfUser } from '../types.ts';
import { compact, leftover, nonEmpty, Observables, ocsfIp } from '../common.ts';
import { cloudOf, entityLeftover, envelopeUnmapped, metadata, type MapContext, type Org } from './shared.ts';

type Agent = AgentDetail['agent'];

const LOGOFF: Record<string, string> = {
  'Agent Disconnected': 'disconnected',
  'Agent Lost': 'lost',
  'Agent Stopped': 'stopped',
  'Agent Stopping': 'stopping',
};

function instanceId(agent: Agent): string | undefined {
  for (const m of agent.meta_data ?? []) {
    if (m.startsWith('aws:instance-id=')) return nonEmpty(m.slice('aws:instance-id='.length));
  }
  return undefined;
}

/** The agent authenticates with its token: the agent is the `user`, the token its credential. */
function agentUser(agent: Agent | undefined, org: Org, credential: string | undefined): OcsfUser {
  return compact({
    uid: agent?.uuid,
    name: agent ? (nonEmpty(agent.name) ?? agent.uuid) : 'unregistered agent',
    // An agent is a machine identity acting on the org's behalf: a service account.
    type_id: 4,
    type: 'Service',
    credential_uid: credential,
    org: { uid: org.uuid, name: org.slug },
  });
}

/** `ip` as ocsfIp() gave it: derived once per event by the mapper. */
/** `ip` as ocsfIp() gave it: derived once per event by the mapper. Undefined when nothing is known. */
function endpoint(ip: string | undefined, agent: Agent | undefined): OcsfEndpoint | undefined {
  const e: OcsfEndpoint = compact({
    ip,
    hostname: agent ? nonEmpty(agent.hostname) : undefined,
    instance_uid: agent ? instanceId(agent) : undefined,
  });
  return Object.keys(e).length === 0 ? undefined : e;
}

function observables(agent: Agent | undefined, ip: string | undefined, token: string | undefined) {
  return new Observables()
    .add('src_endpoint.ip', 'ip', ip)
    .add('src_endpoint.hostname', 'hostname', agent?.hostname)
    .add('user.uid', 'userUid', agent?.uuid)
    .add('user.credential_uid', 'credentialUid', token)
    .list();
}

/** What the agent object says beyond its OCSF fields; times and states that repeat the event's own are dropped. */
function agentUnmapped(agent: Agent, envelopeTime: string, state: string | undefined): Record<string, unknown> | undefined {
  const rest = entityLeftover(agent, ['uuid', 'name', 'hostname', 'ip_address']);
  if (rest === undefined) return undefined;
  // The event's time in Buildkite's notation (2026-03-10T10:00:00Z -> 2026-03-10 10:00:00 UTC).
  const same = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(envelopeTime) ? `${envelopeTime.slice(0, 10)} ${envelopeTime.slice(11, 19)} UTC` : undefined;
  if (rest['connected_at'] === same) delete rest['connected_at'];
  if (rest['disconnected_at'] === same) delete rest['disconnected_at'];
  if (rest['lost_at'] === same) delete rest['lost_at'];
  if (rest['connection_state'] === state) delete rest['connection_state'];
  return Object.keys(rest).length > 0 ? rest : undefined;
}

/** Agent Connected / Disconnected / Lost / Stopped / Stopping -> Authentication (3002) logon/logoff. */
export function mapAgent(ctx: MapContext, d: AgentDetail): OcsfEvent {
  const logoff = LOGOFF[ctx.detailType];
  const token = d.token?.uuid;
  const ip = d.agent.ip_address;
  const verb = logoff ?? 'connected';
  // Built in place, in the order the emitted JSON has (insertion order); only defined values.
  const state = logoff ?? d.agent.connection_state ?? 'connected';
  const e = header(3002, logoff === undefined ? 1 : 2, 1, 1, state);
  e.time = ctx.time;
  const ipOut = ocsfIp(ip);
  e.message = `Agent ${d.agent.name ?? d.agent.uuid} ${verb}${ipOut !== undefined ? ` from ${ipOut}` : ''}${d.token ? ` with agent token "${d.token.description ?? d.token.uuid}"` : ''}`;
  e.metadata = metadata(ctx, { eventCode: ctx.detailType, originalUid: ctx.envelope.id, logName: 'buildkite-agents', org: d.organization });
  e['cloud'] = cloudOf(ctx.envelope);
  e.user = agentUser(d.agent, d.organization, token);
  e['service'] = { name: 'Buildkite Agent API' };
  const src = endpoint(ipOut, d.agent);
  if (src !== undefined) e.src_endpoint = src;
  e['is_remote'] = true;
  const obs = observables(d.agent, ipOut, token);
  if (obs !== undefined) e.observables = obs;
  e.unmapped = {
    buildkite: compact({
      ...envelopeUnmapped(ctx.envelope),
      ...leftover(d, ['agent', 'organization', 'token']),
      agent: agentUnmapped(d.agent, ctx.envelope.time, state),
      // The token's uuid is user.credential_uid.
      token: d.token ? leftover(d.token, ['uuid']) : undefined,
      invalid_ip_address: ip && ipOut === undefined ? ip : undefined,
      ip_address_as_sent: ipOut !== undefined && ipOut !== ip ? ip : undefined,
    }),
  };
  return e;
}

/**
 * Agent Blocked / Cluster Token Registration Blocked -> failed Authentication (3002): a cluster
 * token was used from outside its allowed IP ranges.
 */
export function mapBlocked(ctx: MapContext, d: AgentBlockedDetail | ClusterTokenRegistrationBlockedDetail): OcsfEvent {
  const agent = 'agent' in d ? (d.agent as Agent) : undefined;
  const ct = d.cluster_token;
  const allowed = ct.allowed_ip_addresses ?? 'none';
  const e = header(3002, 1, 3, 2, `blocked: ${d.blocked_ip} is outside the cluster token's allowed IP addresses (${allowed})`);
  e.time = ctx.time;
  e.message = `${ctx.detailType}: ${agent ? `agent ${agent.name ?? agent.uuid}` : 'an agent'} tried to register from ${d.blocked_ip} with cluster token "${ct.description ?? ct.uuid}" (allowed: ${allowed})`;
  e.metadata = metadata(ctx, { eventCode: ctx.detailType, originalUid: ctx.envelope.id, logName: 'buildkite-agents', org: d.organization });
  e['cloud'] = cloudOf(ctx.envelope);
  e.user = agentUser(agent, d.organization, ct.uuid);
  e['service'] = { name: 'Buildkite Agent API' };
  const ipOut = ocsfIp(d.blocked_ip);
  const src = endpoint(ipOut, agent);
  if (src !== undefined) e.src_endpoint = src;
  e['is_remote'] = true;
  const obs = observables(agent, ipOut, ct.uuid);
  if (obs !== undefined) e.observables = obs;
  e.unmapped = {
    buildkite: compact({
      ...envelopeUnmapped(ctx.envelope),
      ...leftover(d, ['agent', 'organization', 'cluster_token', 'blocked_ip']),
      // src_endpoint.ip, unless it is not an address OCSF accepts.
      blocked_ip: ipOut === d.blocked_ip ? undefined : d.blocked_ip,
      cluster_token: leftover(ct, ['uuid']),
      agent: agent ? compact({ ...agentUnmapped(agent, ctx.envelope.time, undefined), ip_address: agent.ip_address }) : undefined,
    }),
  };
  return e;
}
