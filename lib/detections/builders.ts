/**
 * Builders of Buildkite EventBridge envelopes shaped like the docs' examples
 * (test/fixtures/buildkite/eventbridge), for detector test cases and the scenario fixtures.
 * Deterministic: the same arguments always give the same envelope, ids included.
 *
 * Secret audit events (SECRET_READ, SECRET_QUERIED, SECRET_*) are not documented beyond their
 * type. Assumed here, and parsed defensively by the detectors: subject_type "Secret",
 * subject_uuid the secret's uuid, subject_name its key, and `data` possibly naming the
 * pipeline / build / job / cluster the read was made for.
 */
import { deterministicUid } from '../ocsf/common.ts';

export type Envelope = Record<string, unknown>;

export interface OrgRef {
  readonly uuid: string;
  readonly slug: string;
}

export const DEFAULT_ORG: OrgRef = { uuid: 'a98961b7-adc1-41aa-8726-cfb2c46e42e0', slug: 'acme-inc' };

/** A uuid-shaped id derived from a name, for readable fixtures (`uid('agent', 'ci-1')`). */
export function uid(...parts: readonly string[]): string {
  return deterministicUid('kitewatch-fixture', ...parts);
}

/** Epoch ms from an ISO string or a number. */
export function ms(at: string | number): number {
  const t = typeof at === 'number' ? at : Date.parse(at);
  if (!Number.isFinite(t)) throw new Error(`not a time: ${String(at)}`);
  return t;
}

/** EventBridge's `time`: 2026-03-10T10:00:00Z */
export function isoSeconds(at: string | number): string {
  return new Date(ms(at)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Buildkite's detail timestamps: 2026-03-10 10:00:00 UTC */
export function buildkiteTime(at: string | number): string {
  return isoSeconds(at).replace('T', ' ').replace('Z', ' UTC');
}

function orgDetail(org: OrgRef): Record<string, unknown> {
  return {
    uuid: org.uuid,
    graphql_id: Buffer.from(`Organization---${org.uuid}`).toString('base64'),
    slug: org.slug,
  };
}

function envelope(detailType: string, at: string | number, org: OrgRef, key: string, detail: Record<string, unknown>): Envelope {
  const time = isoSeconds(at);
  return {
    version: '0',
    id: deterministicUid('kitewatch-fixture-envelope', detailType, time, key),
    'detail-type': detailType,
    source: `aws.partner/buildkite.com/${org.slug}/0106-187c-12cd4fe`,
    account: '123123123123',
    time,
    region: 'us-east-1',
    resources: [],
    detail: { version: 1, ...detail },
  };
}

export interface AgentRef {
  readonly uuid: string;
  readonly name: string;
  readonly ip: string;
  readonly hostname?: string;
  readonly instanceId?: string;
  readonly queue?: string;
  /** @default 3.97.1 */
  readonly version?: string;
  /** More meta-data tags, after `aws:instance-id=` and `queue=`. */
  readonly tags?: readonly string[];
}

export interface TokenRef {
  readonly uuid: string;
  readonly description: string;
}

export type AgentEventType = 'Agent Connected' | 'Agent Disconnected' | 'Agent Lost' | 'Agent Stopped' | 'Agent Stopping';

const STATE: Record<AgentEventType, string> = {
  'Agent Connected': 'connected',
  'Agent Disconnected': 'disconnected',
  'Agent Lost': 'lost',
  'Agent Stopped': 'stopped',
  'Agent Stopping': 'stopping',
};

export function agentEvent(type: AgentEventType, p: { at: string | number; agent: AgentRef; token: TokenRef; org?: OrgRef; connectedAt?: string | number }): Envelope {
  const org = p.org ?? DEFAULT_ORG;
  const connected = type === 'Agent Connected';
  const metaData = [`queue=${p.agent.queue ?? 'default'}`, ...(p.agent.tags ?? [])];
  if (p.agent.instanceId !== undefined) metaData.unshift(`aws:instance-id=${p.agent.instanceId}`);
  return envelope(type, p.at, org, p.agent.uuid, {
    agent: {
      uuid: p.agent.uuid,
      graphql_id: Buffer.from(`Agent---${p.agent.uuid}`).toString('base64'),
      connection_state: STATE[type],
      name: p.agent.name,
      version: p.agent.version ?? '3.97.1',
      ip_address: p.agent.ip,
      hostname: p.agent.hostname ?? p.agent.name,
      pid: String(1000 + (parseInt(p.agent.uuid.slice(0, 4), 16) % 60000)),
      priority: 0,
      meta_data: metaData,
      connected_at: buildkiteTime(p.connectedAt ?? p.at),
      disconnected_at: connected ? null : buildkiteTime(p.at),
      lost_at: type === 'Agent Lost' ? buildkiteTime(p.at) : null,
    },
    organization: orgDetail(org),
    token: { uuid: p.token.uuid, created_at: '2025-06-01 09:00:00 UTC', description: p.token.description },
  });
}

export function agentConnected(p: { at: string | number; agent: AgentRef; token: TokenRef; org?: OrgRef }): Envelope {
  return agentEvent('Agent Connected', p);
}

export interface ClusterTokenRef {
  readonly uuid: string;
  readonly description: string;
  readonly allowedIps: string;
}

/** Agent Blocked (with the agent) or Cluster Token Registration Blocked (without). */
export function registrationBlocked(p: { at: string | number; blockedIp: string; clusterToken: ClusterTokenRef; agent?: AgentRef; org?: OrgRef }): Envelope {
  const org = p.org ?? DEFAULT_ORG;
  const detail: Record<string, unknown> = {
    blocked_ip: p.blockedIp,
    cluster_token: { uuid: p.clusterToken.uuid, description: p.clusterToken.description, allowed_ip_addresses: p.clusterToken.allowedIps },
  };
  if (p.agent !== undefined) {
    detail['agent'] = {
      uuid: p.agent.uuid,
      graphql_id: Buffer.from(`Agent---${p.agent.uuid}`).toString('base64'),
      connection_state: 'disconnected',
      name: p.agent.name,
      version: '3.97.1',
      token: null,
      ip_address: p.agent.ip,
      hostname: p.agent.hostname ?? p.agent.name,
      pid: '26089',
      priority: 0,
      meta_data: [`queue=${p.agent.queue ?? 'default'}`],
      connected_at: buildkiteTime(p.at),
      disconnected_at: buildkiteTime(p.at),
      lost_at: null,
    };
  }
  detail['organization'] = orgDetail(org);
  const type = p.agent !== undefined ? 'Agent Blocked' : 'Cluster Token Registration Blocked';
  return envelope(type, p.at, org, `${p.clusterToken.uuid}/${p.blockedIp}/${p.agent?.uuid ?? ''}`, detail);
}

export interface ActorRef {
  readonly uuid: string;
  readonly name: string;
  readonly type?: string | null;
}

export interface SubjectRef {
  readonly type: string;
  readonly uuid?: string;
  readonly name?: string;
}

/** Audit Event Logged, with `context` JSON-encoded as Buildkite sends it on EventBridge. */
export function audit(p: {
  at: string | number;
  type: string;
  actor?: ActorRef | null;
  subject?: SubjectRef;
  data?: Record<string, unknown> | null;
  ip?: string;
  userAgent?: string;
  org?: OrgRef;
  /** Extra context keys (e.g. an API token's uuid), merged into the context JSON. */
  context?: Record<string, string>;
  /**
   * A context shaped like GraphQL's AuditAPIContext (an API access token) or AuditAgentAPIContext
   * (an agent) in snake_case, instead of the web session context EventBridge samples show.
   */
  via?: { readonly apiToken: string } | { readonly agent: string };
  /** Disambiguates otherwise identical events. */
  seq?: number;
}): Envelope {
  const org = p.org ?? DEFAULT_ORG;
  const occurred = buildkiteTime(p.at);
  const eventUuid = uid('audit', p.type, occurred, p.actor?.uuid ?? '', p.subject?.uuid ?? p.subject?.name ?? '', String(p.seq ?? 0));
  const sessionUser = p.actor?.uuid ?? '';
  const ua = p.userAgent ?? 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
  const ipAddress = p.ip ?? '203.0.113.10';
  const context: Record<string, string> =
    p.via !== undefined
      ? 'apiToken' in p.via
        ? { request_api_access_token_uuid: p.via.apiToken, request_ip_address: ipAddress, request_user_agent: p.userAgent ?? 'terraform-provider-buildkite/1.17.2', ...p.context }
        : {
            agent_uuid: p.via.agent,
            authentication_type: 'access_token',
            connection_state: 'connected',
            organization_uuid: org.uuid,
            request_ip_address: ipAddress,
            session_ip_address: ipAddress,
            ...p.context,
          }
      : {
          request_id: eventUuid.replaceAll('-', '').slice(0, 24),
          request_ip: p.ip ?? '203.0.113.10',
          session_key: uid('session', sessionUser).replaceAll('-', '').slice(0, 24),
          session_user_uuid: sessionUser,
          request_user_agent: ua,
          session_created_at: new Date(ms(p.at) - 3_600_000).toISOString(),
          ...p.context,
        };
  const event: Record<string, unknown> = {
    uuid: eventUuid,
    occurred_at: occurred,
    type: p.type,
    data: p.data ?? null,
    subject_type: p.subject?.type ?? null,
    subject_uuid: p.subject?.uuid ?? null,
    subject_name: p.subject?.name ?? null,
    context: JSON.stringify(context),
  };
  const detail: Record<string, unknown> = { organization: orgDetail(org), event };
  detail['actor'] = p.actor === null || p.actor === undefined ? null : { name: p.actor.name, type: p.actor.type ?? 'User', uuid: p.actor.uuid };
  return envelope('Audit Event Logged', p.at, org, eventUuid, detail);
}

export interface PipelineRef {
  readonly uuid: string;
  readonly slug: string;
  readonly repo?: string;
}

/** Build Created / Started / Finished. */
export function buildEvent(
  type: 'Build Created' | 'Build Started' | 'Build Finished',
  p: { at: string | number; pipeline: PipelineRef; number: number; branch?: string; commit?: string; org?: OrgRef; passed?: boolean },
): Envelope {
  const org = p.org ?? DEFAULT_ORG;
  const buildUuid = uid('build', p.pipeline.uuid, String(p.number));
  const state = type === 'Build Created' ? 'scheduled' : type === 'Build Started' ? 'started' : p.passed === false ? 'failed' : 'passed';
  return envelope(type, p.at, org, buildUuid, {
    build: {
      uuid: buildUuid,
      graphql_id: Buffer.from(`Build---${buildUuid}`).toString('base64'),
      number: p.number,
      commit: p.commit ?? buildUuid.replaceAll('-', '').padEnd(40, '0').slice(0, 40),
      message: 'Routine change',
      branch: p.branch ?? 'main',
      state,
      blocked_state: null,
      source: 'webhook',
      started_at: type === 'Build Created' ? null : buildkiteTime(p.at),
      finished_at: type === 'Build Finished' ? buildkiteTime(p.at) : null,
    },
    pipeline: {
      uuid: p.pipeline.uuid,
      graphql_id: Buffer.from(`Pipeline---${p.pipeline.uuid}`).toString('base64'),
      slug: p.pipeline.slug,
      repo: p.pipeline.repo ?? `git@github.com:${org.slug}/${p.pipeline.slug}.git`,
    },
    organization: orgDetail(org),
  });
}

/** Job Started / Finished on an agent. */
export function jobEvent(
  type: 'Job Started' | 'Job Finished',
  p: { at: string | number; pipeline: PipelineRef; number: number; label: string; agentUuid?: string; org?: OrgRef; passed?: boolean },
): Envelope {
  const org = p.org ?? DEFAULT_ORG;
  const buildUuid = uid('build', p.pipeline.uuid, String(p.number));
  const jobUuid = uid('job', buildUuid, p.label);
  const finished = type === 'Job Finished';
  return envelope(type, p.at, org, jobUuid, {
    job: {
      uuid: jobUuid,
      graphql_id: Buffer.from(`JobTypeCommand---${jobUuid}`).toString('base64'),
      type: 'script',
      label: p.label,
      step_key: null,
      command: `./ci/${p.label.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.sh`,
      agent_query_rules: ['queue=default'],
      exit_status: finished ? (p.passed === false ? 1 : 0) : null,
      passed: finished ? p.passed !== false : false,
      soft_failed: false,
      state: finished ? 'finished' : 'running',
      runnable_at: buildkiteTime(ms(p.at) - 5_000),
      started_at: buildkiteTime(finished ? ms(p.at) - 60_000 : p.at),
      finished_at: finished ? buildkiteTime(p.at) : null,
      unblocked_by: null,
    },
    build: {
      uuid: buildUuid,
      graphql_id: Buffer.from(`Build---${buildUuid}`).toString('base64'),
      number: p.number,
      commit: buildUuid.replaceAll('-', '').padEnd(40, '0').slice(0, 40),
      message: 'Routine change',
      branch: 'main',
      state: 'started',
      source: 'webhook',
    },
    pipeline: {
      uuid: p.pipeline.uuid,
      graphql_id: Buffer.from(`Pipeline---${p.pipeline.uuid}`).toString('base64'),
      slug: p.pipeline.slug,
      repo: p.pipeline.repo ?? `git@github.com:${org.slug}/${p.pipeline.slug}.git`,
    },
    organization: orgDetail(org),
    ...(finished && p.agentUuid !== undefined ? { agent: { uuid: p.agentUuid } } : {}),
  });
}

/** A secret read as Buildkite is assumed to log it (see the file comment). */
export function secretRead(p: {
  at: string | number;
  secret: { uuid: string; key: string };
  actor?: ActorRef | null;
  pipeline?: PipelineRef;
  clusterUuid?: string;
  ip?: string;
  type?: 'SECRET_READ' | 'SECRET_QUERIED';
  seq?: number;
  org?: OrgRef;
}): Envelope {
  const data: Record<string, unknown> = {};
  if (p.pipeline !== undefined) {
    data['pipeline_uuid'] = p.pipeline.uuid;
    data['pipeline_slug'] = p.pipeline.slug;
  }
  if (p.clusterUuid !== undefined) data['cluster_uuid'] = p.clusterUuid;
  return audit({
    at: p.at,
    type: p.type ?? 'SECRET_READ',
    actor: p.actor ?? null,
    subject: { type: 'Secret', uuid: p.secret.uuid, name: p.secret.key },
    data: Object.keys(data).length > 0 ? data : null,
    ...(p.ip !== undefined ? { ip: p.ip } : {}),
    ...(p.org !== undefined ? { org: p.org } : {}),
    ...(p.seq !== undefined ? { seq: p.seq } : {}),
  });
}

/** A small deterministic PRNG (mulberry32) for fixtures: no Math.random. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
