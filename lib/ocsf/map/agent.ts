import type { AgentBlockedDetail, AgentDetail, ClusterTokenRegistrationBlockedDetail } from '../../contracts/buildkite.ts';
import { header, type OcsfEndpoint, type OcsfEvent, type OcsfUser } from '../types.ts';
import { compact, leftover, nonEmpty, Observables, ocsfIp } from '../common.ts';
import { envelopeUnmapped, metadata, orgObservables, type MapContext, type Org } from './shared.ts';

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
    name: agent ? nonEmpty(agent.name) ?? agent.uuid : 'unregistered agent',
    type_id: 99,
    type: 'Buildkite Agent',
    credential_uid: credential,
    org: { uid: org.uuid, name: org.slug },
  });
}

/** `ip` as ocsfIp() gave it: derived once per event by the mapper. */
function endpoint(ip: string | undefined, agent: Agent | undefined): OcsfEndpoint {
  const e: OcsfEndpoint = compact({
    ip,
    hostname: agent ? nonEmpty(agent.hostname) : undefined,
    instance_uid: agent ? instanceId(agent) : undefined,
  });
  if (Object.keys(e).length === 0) e.name = 'unknown';
  return e;
}

function observables(org: Org, agent: Agent | undefined, ip: string | undefined, token: string | undefined) {
  const obs = new Observables()
    .add('src_endpoint.ip', 'ip', ip)
    .add('src_endpoint.hostname', 'hostname', agent?.hostname)
    .add('user.uid', 'resourceUid', agent?.uuid)
    .add('user.credential_uid', 'credentialUid', token);
  orgObservables(obs, org);
  return obs.list();
}

function agentUnmapped(agent: Agent): Record<string, unknown> | undefined {
  return leftover(agent, ['uuid', 'name', 'hostname', 'ip_address']);
}

/** Agent Connected / Disconnected / Lost / Stopped / Stopping -> Authentication (3002) logon/logoff. */
export function mapAgent(ctx: MapContext, d: AgentDetail): OcsfEvent {
  const logoff = LOGOFF[ctx.detailType];
  const token = d.token?.uuid;
  const ip = d.agent.ip_address;
  const verb = logoff ?? 'connected';
  // Built in place, in the order the emitted JSON has (insertion order); only defined values.
  const e = header(3002, logoff === undefined ? 1 : 2, 1, 1, logoff ?? d.agent.connection_state ?? 'connected');
  e.time = ctx.time;
  const ipOut = ocsfIp(ip);
  e.message = `Agent ${d.agent.name ?? d.agent.uuid} ${verb}${ipOut !== undefined ? ` from ${ipOut}` : ''}${d.token ? ` with agent token "${d.token.description ?? d.token.uuid}"` : ''}`;
  e.metadata = metadata(ctx, { eventCode: ctx.detailType, originalUid: ctx.envelope.id, logName: 'buildkite-agents', org: d.organization });
  e.user = agentUser(d.agent, d.organization, token);
  e['service'] = { name: 'Buildkite Agent API' };
  e.src_endpoint = endpoint(ipOut, d.agent);
  e['is_remote'] = true;
  const obs = observables(d.organization, d.agent, ipOut, token);
  if (obs !== undefined) e.observables = obs;
  e.unmapped = {
      buildkite: compact({
        ...envelopeUnmapped(ctx.envelope),
        ...leftover(d, ['agent', 'organization', 'token']),
        agent: agentUnmapped(d.agent),
        token: d.token ? compact({ uuid: d.token.uuid, description: d.token.description, created_at: d.token.created_at, ...leftover(d.token, ['uuid', 'description', 'created_at']) }) : undefined,
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
  e.user = agentUser(agent, d.organization, ct.uuid);
  e['service'] = { name: 'Buildkite Agent API' };
  const ipOut = ocsfIp(d.blocked_ip);
  e.src_endpoint = endpoint(ipOut, agent);
  e['is_remote'] = true;
  const obs = observables(d.organization, agent, ipOut, ct.uuid);
  if (obs !== undefined) e.observables = obs;
  e.unmapped = {
      buildkite: compact({
        ...envelopeUnmapped(ctx.envelope),
        ...leftover(d, ['agent', 'organization', 'cluster_token', 'blocked_ip']),
        blocked_ip: d.blocked_ip,
        cluster_token: compact({ uuid: ct.uuid, description: ct.description, allowed_ip_addresses: ct.allowed_ip_addresses, ...leftover(ct, ['uuid', 'description', 'allowed_ip_addresses']) }),
        agent: agent ? compact({ ...agentUnmapped(agent), ip_address: agent.ip_address }) : undefined,
      }),
  };
  return e;
}
