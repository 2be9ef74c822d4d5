/**
 * A local HTTP server playing Buildkite's REST API (as documented in
 * ../shared/buildkite/api-notes.md) and GraphQL API (executed against the real schema in
 * data/buildkite/schema.graphql, so an invalid document fails here as it would there).
 *
 * It keeps a small organization (clusters, cluster tokens, legacy tokens, agents, queues,
 * pipelines, builds), answers with `RateLimit-*` headers, can be told to fail the next matching
 * requests (429 with reset headers, 5xx, delays), and records every call so tests assert the
 * exact calls made and not made.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema, graphql, type GraphQLSchema } from 'graphql';

export interface RecordedCall {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: string;
  readonly body: unknown;
  /** The Authorization header carried the fake's token. */
  readonly authorized: boolean;
  /** GraphQL operation name, for POST /graphql. */
  readonly operation?: string;
  readonly status: number;
}

export interface FakeFailure {
  readonly method?: string;
  /** Matches the path (string: exact; RegExp: test). Absent: any. */
  readonly path?: string | RegExp;
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  /** How many matching requests fail (default 1). */
  readonly times?: number;
  /** Wait this long before answering (timeouts). */
  readonly delayMs?: number;
}

export interface FakeClusterToken {
  id: string;
  graphql_id: string;
  description: string;
  allowed_ip_addresses: string | null;
  expires_at: string | null;
  created_at: string;
  /** The value, as only the create response shows it. */
  token: string;
}

export interface FakeLegacyToken {
  id: string;
  uuid: string;
  description: string;
  revokedAt: string | null;
  revokedReason: string | null;
}

export interface FakeAgent {
  id: string;
  name: string;
  connected: boolean;
  /** Where Buildkite placed it (GraphQL `agent { clusterQueue { uuid key cluster { uuid } } }`). */
  queue?: FakeQueue;
  stopped?: { force: boolean };
}

export interface FakeQueue {
  id: string;
  key: string;
  clusterId: string;
  dispatch_paused: boolean;
  dispatch_paused_note: string | null;
}

export interface FakeMember {
  id: string;
  uuid: string;
  role: 'ADMIN' | 'MEMBER';
  user: { uuid: string; name: string };
}

export interface FakeInvitation {
  id: string;
  uuid: string;
  email: string;
  role: 'ADMIN' | 'MEMBER';
  state: 'PENDING' | 'ACCEPTED' | 'EXPIRED' | 'REVOKED';
}

export interface FakeJob {
  id: string;
  uuid: string;
  /** JobStates; command jobs only unless `type` says otherwise. */
  state: string;
  type: 'JobTypeCommand' | 'JobTypeWait';
}

export interface FakeBuild {
  pipeline: string;
  number: number;
  state: string;
}

const SCHEMA_FILE = new URL('../../data/buildkite/schema.graphql', import.meta.url);
let schema: GraphQLSchema | undefined;

function buildkiteSchema(): GraphQLSchema {
  schema ??= buildSchema(readFileSync(SCHEMA_FILE, 'utf8'));
  return schema;
}

function graphqlId(kind: string, uuid: string): string {
  return Buffer.from(`${kind}---${uuid}`).toString('base64');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export class FakeBuildkite {
  readonly org: string;
  readonly token: string;
  readonly calls: RecordedCall[] = [];
  readonly clusters = new Map<string, { id: string; name: string; tokens: Map<string, FakeClusterToken> }>();
  readonly legacyTokens = new Map<string, FakeLegacyToken>();
  readonly agents = new Map<string, FakeAgent>();
  readonly queues = new Map<string, FakeQueue>();
  readonly pipelines = new Map<string, { slug: string; uuid: string; archived: boolean }>();
  readonly builds: FakeBuild[] = [];
  readonly members = new Map<string, FakeMember>();
  readonly invitations = new Map<string, FakeInvitation>();
  readonly jobs = new Map<string, FakeJob>();
  /** Page size of list endpoints (Buildkite's default is 30). */
  perPage = 30;
  #failures: (FakeFailure & { remaining: number })[] = [];
  #server: Server | undefined;
  #url = '';

  constructor(options: { org?: string; token?: string } = {}) {
    this.org = options.org ?? 'acme';
    // Shaped like a real API token so log scans would also catch a leak by pattern.
    this.token = options.token ?? `bkua_${randomBytes(20).toString('hex')}`;
  }

  static async start(options: { org?: string; token?: string } = {}): Promise<FakeBuildkite> {
    const fake = new FakeBuildkite(options);
    await fake.listen();
    return fake;
  }

  /** REST base URL (pass as --buildkite-api-url). */
  get url(): string {
    return this.#url;
  }

  /** GraphQL endpoint (pass as --buildkite-graphql-url). */
  get graphqlUrl(): string {
    return `${this.#url}/graphql`;
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#server = server;
    this.#url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- fixtures ----

  addCluster(name = 'Default', id: string = randomUUID()): string {
    this.clusters.set(id, { id, name, tokens: new Map() });
    return id;
  }

  addClusterToken(clusterId: string, init: { id?: string; description?: string; allowed_ip_addresses?: string | null } = {}): FakeClusterToken {
    const cluster = this.clusters.get(clusterId);
    if (cluster === undefined) throw new Error(`no cluster ${clusterId}`);
    const id = init.id ?? randomUUID();
    const token: FakeClusterToken = {
      id,
      graphql_id: graphqlId('ClusterToken', id),
      description: init.description ?? 'agents',
      allowed_ip_addresses: init.allowed_ip_addresses ?? null,
      expires_at: null,
      created_at: new Date().toISOString(),
      token: `bkct_${randomBytes(16).toString('hex')}`,
    };
    cluster.tokens.set(id, token);
    return token;
  }

  addLegacyToken(init: { uuid?: string; description?: string; revokedAt?: string | null } = {}): FakeLegacyToken {
    const uuid = init.uuid ?? randomUUID();
    const token: FakeLegacyToken = { id: graphqlId('AgentToken', uuid), uuid, description: init.description ?? 'legacy agents', revokedAt: init.revokedAt ?? null, revokedReason: null };
    this.legacyTokens.set(uuid, token);
    return token;
  }

  addAgent(init: { id?: string; name?: string; connected?: boolean; queue?: FakeQueue } = {}): FakeAgent {
    const id = init.id ?? randomUUID();
    const agent: FakeAgent = { id, name: init.name ?? `agent-${id.slice(0, 8)}`, connected: init.connected ?? true, ...(init.queue !== undefined ? { queue: init.queue } : {}) };
    this.agents.set(id, agent);
    return agent;
  }

  addQueue(clusterId: string, key = 'default', id: string = randomUUID()): FakeQueue {
    const q: FakeQueue = { id, key, clusterId, dispatch_paused: false, dispatch_paused_note: null };
    this.queues.set(id, q);
    return q;
  }

  /** A pipeline by slug; its uuid (random unless given) is what findings name. */
  addPipeline(slug: string, uuid: string = randomUUID()): string {
    this.pipelines.set(slug, { slug, uuid, archived: false });
    return uuid;
  }

  addBuild(pipeline: string, number: number, state = 'running'): FakeBuild {
    const b = { pipeline, number, state };
    this.builds.push(b);
    return b;
  }

  addMember(init: { uuid?: string; userUuid?: string; name?: string; role?: 'ADMIN' | 'MEMBER' } = {}): FakeMember {
    const uuid = init.uuid ?? randomUUID();
    const m: FakeMember = { id: graphqlId('OrganizationMember', uuid), uuid, role: init.role ?? 'MEMBER', user: { uuid: init.userUuid ?? randomUUID(), name: init.name ?? 'someone' } };
    this.members.set(uuid, m);
    return m;
  }

  addInvitation(init: { uuid?: string; email?: string; role?: 'ADMIN' | 'MEMBER'; state?: FakeInvitation['state'] } = {}): FakeInvitation {
    const uuid = init.uuid ?? randomUUID();
    const inv: FakeInvitation = { id: graphqlId('OrganizationInvitation', uuid), uuid, email: init.email ?? 'someone@example.com', role: init.role ?? 'MEMBER', state: init.state ?? 'PENDING' };
    this.invitations.set(uuid, inv);
    return inv;
  }

  addJob(init: { uuid?: string; state?: string; type?: FakeJob['type'] } = {}): FakeJob {
    const uuid = init.uuid ?? randomUUID();
    const type = init.type ?? 'JobTypeCommand';
    const job: FakeJob = { id: graphqlId(type, uuid), uuid, state: init.state ?? 'RUNNING', type };
    this.jobs.set(uuid, job);
    return job;
  }

  /** Makes the next matching request(s) fail as described. */
  failNext(failure: FakeFailure): void {
    this.#failures.push({ ...failure, remaining: failure.times ?? 1 });
  }

  /** `METHOD path` of every call, in order (GraphQL as `POST /graphql Operation`). */
  callLines(): string[] {
    return this.calls.map((c) => `${c.method} ${c.path}${c.operation !== undefined ? ` ${c.operation}` : ''}`);
  }

  /** Calls that change something (anything but GET and GraphQL queries). */
  mutatingCalls(): RecordedCall[] {
    return this.calls.filter((c) => c.method !== 'GET' && !(c.path === '/graphql' && c.operation !== undefined && !/Revoke|Create|Update|Delete|Stop|Pause|Cancel|Archive/.test(c.operation)));
  }

  clearCalls(): void {
    this.calls.length = 0;
  }

  /** Forgets failures not yet consumed. */
  clearFailures(): void {
    this.#failures = [];
  }

  // ---- server ----

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const text = await readBody(req);
    let body: unknown = undefined;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    const authorized = req.headers.authorization === `Bearer ${this.token}`;
    const operation = url.pathname === '/graphql' ? operationName(body) : undefined;
    const record = (status: number): void => {
      this.calls.push({ method, path: url.pathname, query: url.search, body, authorized, status, ...(operation !== undefined ? { operation } : {}) });
    };
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}, defaults = true): void => {
      record(status);
      const h: Record<string, string> = !defaults
        ? { ...headers }
        : {
            'RateLimit-Scope': 'rest',
            'RateLimit-Remaining': '150',
            'RateLimit-Limit': '200',
            'RateLimit-Reset': '42',
            'RateLimit-User-Scope': 'rest_user',
            'RateLimit-User-Remaining': '45',
            'RateLimit-User-Limit': '50',
            'RateLimit-User-Reset': '42',
            ...headers,
          };
      if (payload === undefined) {
        res.writeHead(status, h).end();
      } else {
        res.writeHead(status, { 'Content-Type': 'application/json', ...h }).end(JSON.stringify(payload));
      }
    };

    const failure = this.#failures.find((f) => f.remaining > 0 && (f.method === undefined || f.method === method) && matches(f.path, url.pathname));
    if (failure !== undefined) {
      failure.remaining--;
      if (failure.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, failure.delayMs));
      if (res.destroyed) {
        record(0);
        return;
      }
      // Only the headers the test gives: a failure is exactly what the test describes.
      send(failure.status, failure.body ?? defaultFailureBody(failure.status), { ...(failure.headers ?? {}) }, false);
      return;
    }
    if (!authorized) {
      send(401, { message: 'Authentication required. Please supply a valid API Access Token: https://buildkite.com/docs/apis/rest-api#authentication' });
      return;
    }
    if (url.pathname === '/graphql' && method === 'POST') {
      await this.#graphql(body, send);
      return;
    }
    this.#rest(method, url, body, send);
  }

  async #graphql(body: unknown, send: (status: number, payload?: unknown) => void): Promise<void> {
    const request = body as { query?: unknown; variables?: Record<string, unknown> } | undefined;
    if (typeof request?.query !== 'string') {
      send(400, { errors: [{ message: 'No query string was present' }] });
      return;
    }
    const root = {
      agentToken: ({ slug }: { slug: string }) => {
        const [org, uuid] = slug.split('/');
        if (org !== this.org || uuid === undefined) return null;
        return this.legacyTokens.get(uuid) ?? null;
      },
      pipeline: ({ uuid, slug }: { uuid?: string; slug?: string }) => {
        const p = [...this.pipelines.values()].find((x) => (uuid !== undefined ? x.uuid === uuid : `${this.org}/${x.slug}` === slug));
        return p === undefined ? null : { uuid: p.uuid, slug: p.slug, archived: p.archived, organization: { slug: this.org } };
      },
      agent: ({ slug }: { slug: string }) => {
        const [org, uuid] = slug.split('/');
        const a = org === this.org && uuid !== undefined ? this.agents.get(uuid) : undefined;
        if (a === undefined) return null;
        const q = a.queue;
        return { uuid: a.id, clusterQueue: q === undefined ? null : { uuid: q.id, key: q.key, cluster: { uuid: q.clusterId } } };
      },
      organizationMember: ({ slug }: { slug: string }) => {
        const [org, uuid] = slug.split('/');
        return org === this.org && uuid !== undefined ? (this.members.get(uuid) ?? null) : null;
      },
      organization: ({ slug }: { slug: string }) => {
        if (slug !== this.org) return null;
        return {
          members: ({ first, after }: { first?: number; after?: string }) => {
            const all = [...this.members.values()];
            const start = after === undefined || after === null ? 0 : Number(after);
            const size = Math.min(first ?? 100, this.perPage);
            const page = all.slice(start, start + size);
            const end = start + page.length;
            return { count: all.length, edges: page.map((node) => ({ node })), pageInfo: { hasNextPage: end < all.length, hasPreviousPage: start > 0, endCursor: String(end) } };
          },
        };
      },
      organizationMemberUpdate: ({ input }: { input: { id: string; role?: 'ADMIN' | 'MEMBER' } }) => {
        const m = [...this.members.values()].find((x) => x.id === input.id);
        if (m === undefined) throw new Error('No organization member found');
        if (input.role !== undefined) m.role = input.role;
        return { organizationMember: m };
      },
      organizationMemberDelete: ({ input }: { input: { id: string } }) => {
        const m = [...this.members.values()].find((x) => x.id === input.id);
        if (m === undefined) throw new Error('No organization member found');
        this.members.delete(m.uuid);
        return { deletedOrganizationMemberID: m.id };
      },
      organizationInvitation: ({ slug }: { slug: string }) => {
        const [org, uuid] = slug.split('/');
        return org === this.org && uuid !== undefined ? (this.invitations.get(uuid) ?? null) : null;
      },
      organizationInvitationRevoke: ({ input }: { input: { id: string } }) => {
        const inv = [...this.invitations.values()].find((x) => x.id === input.id);
        if (inv === undefined) throw new Error('No invitation found');
        if (inv.state !== 'PENDING') throw new Error(`This invitation is ${inv.state.toLowerCase()}`);
        inv.state = 'REVOKED';
        return { organizationInvitation: inv };
      },
      job: ({ uuid }: { uuid: string }) => {
        const job = this.jobs.get(uuid);
        return job === undefined ? null : { __typename: job.type, ...job };
      },
      jobTypeCommandCancel: ({ input }: { input: { id: string } }) => {
        const job = [...this.jobs.values()].find((x) => x.id === input.id && x.type === 'JobTypeCommand');
        if (job === undefined) throw new Error('No job found');
        if (job.state !== 'RUNNING' && job.state !== 'SCHEDULED' && job.state !== 'ASSIGNED' && job.state !== 'ACCEPTED') throw new Error(`Job can't be canceled in state ${job.state}`);
        job.state = 'CANCELING';
        return { jobTypeCommand: job };
      },
      agentTokenRevoke: ({ input }: { input: { id: string; reason: string } }) => {
        const token = [...this.legacyTokens.values()].find((t) => t.id === input.id);
        if (token === undefined) throw new Error('No agent token found');
        if (token.revokedAt !== null) throw new Error('This agent token has already been revoked');
        token.revokedAt = new Date().toISOString();
        token.revokedReason = input.reason;
        return { agentToken: token };
      },
    };
    const result = await graphql({ schema: buildkiteSchema(), source: request.query, variableValues: request.variables ?? {}, rootValue: root });
    send(200, { ...(result.data !== undefined ? { data: result.data } : {}), ...(result.errors ? { errors: result.errors.map((e) => ({ message: e.message })) } : {}) });
  }

  #rest(method: string, url: URL, body: unknown, send: (status: number, payload?: unknown, headers?: Record<string, string>) => void): void {
    const parts = url.pathname
      .split('/')
      .filter((p) => p !== '')
      .map(decodeURIComponent);
    const notFound = (): void => send(404, { message: 'Not Found' });
    if (parts[0] !== 'v2' || parts[1] !== 'organizations') return notFound();
    if (parts[2] !== this.org) return send(404, { message: 'No organization found' });
    const rest = parts.slice(3);
    const route = `${method} ${rest.map((p, i) => (i % 2 === 1 ? ':' : p)).join('/')}`;
    const paged = <T>(items: T[]): void => {
      const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? this.perPage));
      const page = Math.max(1, Number(url.searchParams.get('page') ?? 1));
      const slice = items.slice((page - 1) * perPage, page * perPage);
      const headers: Record<string, string> = {};
      if (page * perPage < items.length) {
        const next = new URL(url.toString().replace('http://fake', this.#url));
        next.searchParams.set('page', String(page + 1));
        next.searchParams.set('per_page', String(perPage));
        headers['Link'] = `<${next.toString()}>; rel="next"`;
      }
      send(200, slice, headers);
    };
    const clusterJson = (c: { id: string; name: string }) => ({ id: c.id, graphql_id: graphqlId('Cluster', c.id), name: c.name, url: `${this.#url}/v2/organizations/${this.org}/clusters/${c.id}` });
    const tokenJson = (t: FakeClusterToken, clusterId: string) => ({
      id: t.id,
      graphql_id: t.graphql_id,
      description: t.description,
      allowed_ip_addresses: t.allowed_ip_addresses,
      expires_at: t.expires_at,
      url: `${this.#url}/v2/organizations/${this.org}/clusters/${clusterId}/tokens/${t.id}`,
      cluster_url: `${this.#url}/v2/organizations/${this.org}/clusters/${clusterId}`,
      created_at: t.created_at,
    });
    const cluster = rest[0] === 'clusters' && rest[1] !== undefined ? this.clusters.get(rest[1]) : undefined;

    switch (route) {
      case 'GET clusters':
        return paged([...this.clusters.values()].map(clusterJson));
      case 'GET clusters/:/tokens':
        if (cluster === undefined) return notFound();
        return paged([...cluster.tokens.values()].map((t) => tokenJson(t, cluster.id)));
      case 'GET clusters/:/tokens/:': {
        const t = cluster?.tokens.get(rest[3] ?? '');
        return t === undefined || cluster === undefined ? notFound() : send(200, tokenJson(t, cluster.id));
      }
      case 'POST clusters/:/tokens': {
        if (cluster === undefined) return notFound();
        const b = (body ?? {}) as { description?: unknown; allowed_ip_addresses?: unknown };
        if (typeof b.description !== 'string' || b.description === '') return send(422, { message: "Validation failed: Description can't be blank" });
        const t = this.addClusterToken(cluster.id, { description: b.description, allowed_ip_addresses: typeof b.allowed_ip_addresses === 'string' ? b.allowed_ip_addresses : null });
        return send(201, { ...tokenJson(t, cluster.id), token: t.token });
      }
      case 'DELETE clusters/:/tokens/:': {
        if (cluster === undefined || !cluster.tokens.delete(rest[3] ?? '')) return notFound();
        return send(204);
      }
      case 'PUT agents/:/stop': {
        const agent = this.agents.get(rest[1] ?? '');
        if (agent === undefined) return send(404, { message: 'No agent found' });
        const force = (body as { force?: unknown } | undefined)?.force;
        if (!agent.connected) return send(400, { message: 'Can only stop connected agents' });
        agent.connected = false;
        agent.stopped = { force: force !== false };
        return send(204);
      }
      case 'POST clusters/:/queues/:/pause_dispatch': {
        const q = this.queues.get(rest[3] ?? '');
        if (cluster === undefined || q === undefined || q.clusterId !== cluster.id) return notFound();
        if (q.dispatch_paused) return send(422, { message: 'Queue dispatch is already paused' });
        q.dispatch_paused = true;
        const note = (body as { dispatch_paused_note?: unknown } | undefined)?.dispatch_paused_note;
        q.dispatch_paused_note = typeof note === 'string' ? note : '';
        return send(200, { id: q.id, key: q.key, dispatch_paused: true, dispatch_paused_note: q.dispatch_paused_note });
      }
      case 'PUT pipelines/:/builds/:/cancel': {
        const b = this.builds.find((x) => x.pipeline === rest[1] && String(x.number) === rest[3]);
        if (b === undefined) return notFound();
        if (!['scheduled', 'running', 'failing'].includes(b.state)) return send(422, { message: `Build can't be canceled because it's ${b.state}` });
        b.state = 'canceled';
        return send(200, { number: b.number, state: 'canceled' });
      }
      case 'POST pipelines/:/archive': {
        const p = this.pipelines.get(rest[1] ?? '');
        if (p === undefined) return notFound();
        p.archived = true;
        return send(200, { slug: p.slug, archived_at: new Date().toISOString() });
      }
      default:
        return notFound();
    }
  }
}

function matches(pattern: string | RegExp | undefined, path: string): boolean {
  if (pattern === undefined) return true;
  return typeof pattern === 'string' ? pattern === path : pattern.test(path);
}

function operationName(body: unknown): string | undefined {
  const query = (body as { query?: unknown } | undefined)?.query;
  if (typeof query !== 'string') return undefined;
  return /(?:query|mutation)\s+(\w+)/.exec(query)?.[1];
}

function defaultFailureBody(status: number): unknown {
  if (status === 429) return { message: 'You have exceeded your API rate limit. Please wait 1 seconds before making more requests.', scope: 'rest', limit: 200, current: 201, reset: 1 };
  if (status >= 500) return { message: 'Internal Server Error' };
  return { message: `HTTP ${status}` };
}
