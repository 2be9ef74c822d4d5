/**
 * A local HTTP server playing Buildkite's REST audit-events API as documented
 * (pages/apis/rest_api/organizations/audit_events.md, test/fixtures/buildkite/audit): items newest
 * first, `per_page` up to 100, cursor pages via `links.next` in a `{items, links}` body (the docs'
 * current form) or a bare array with a `Link: <...>; rel="next"` header (the older form), the
 * organization endpoint, 403 for a plan or scope problem, 429 with RateLimit-* headers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AuditCall {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly authorized: boolean;
  readonly status: number;
}

export interface AuditFailure {
  readonly path: RegExp;
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  /** Only on the request for this cursor (`after`); absent: any. */
  readonly after?: string;
  times?: number;
}

export interface FakeAuditApiOptions {
  readonly token: string;
  readonly org: { readonly slug: string; readonly uuid: string; readonly graphqlId: string };
  /** Newest first, as the API returns them. */
  readonly items: readonly Record<string, unknown>[];
  readonly pageSize?: number;
  readonly style?: 'links' | 'link-header';
  /** The token has no read_organizations scope: the organization endpoint answers 403. */
  readonly orgForbidden?: boolean;
}

export class FakeAuditApi {
  readonly calls: AuditCall[] = [];
  readonly failures: AuditFailure[] = [];
  #server: Server | undefined;
  #url = '';
  readonly #opts: FakeAuditApiOptions;

  constructor(opts: FakeAuditApiOptions) {
    this.#opts = opts;
  }

  get url(): string {
    return this.#url;
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  fail(failure: AuditFailure): void {
    this.failures.push({ times: 1, ...failure });
  }

  #send(res: ServerResponse, call: Omit<AuditCall, 'status'>, status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.calls.push({ ...call, status });
    res.writeHead(status, { 'Content-Type': 'application/json', 'RateLimit-Limit': '200', 'RateLimit-Remaining': '199', 'RateLimit-Reset': '30', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.#url);
    const call = { path: url.pathname, query: url.searchParams, authorized: req.headers.authorization === `Bearer ${this.#opts.token}` };
    if (req.method !== 'GET') return this.#send(res, call, 405, { message: 'Method not allowed' });
    if (!call.authorized) return this.#send(res, call, 401, { message: 'Authentication required. Please supply a valid API Access Token' });
    const failure = this.failures.find((f) => (f.times ?? 0) > 0 && f.path.test(url.pathname) && (f.after === undefined || url.searchParams.get('after') === f.after));
    if (failure !== undefined) {
      failure.times = (failure.times ?? 1) - 1;
      return this.#send(res, call, failure.status, failure.body ?? { message: `HTTP ${failure.status}` }, { ...failure.headers });
    }
    const { org } = this.#opts;
    if (url.pathname === `/v2/organizations/${org.slug}`) {
      if (this.#opts.orgForbidden === true) return this.#send(res, call, 403, { message: 'Forbidden' });
      return this.#send(res, call, 200, { id: org.uuid, graphql_id: org.graphqlId, slug: org.slug, name: 'Acme Inc' });
    }
    if (url.pathname === `/v2/organizations/${org.slug}/audit_events`) {
      const perPage = Number(url.searchParams.get('per_page') ?? '30');
      if (!Number.isInteger(perPage) || perPage < 1 || perPage > 100) return this.#send(res, call, 400, { message: 'per_page must be between 1 and 100' });
      const size = Math.min(perPage, this.#opts.pageSize ?? perPage);
      const after = url.searchParams.get('after');
      const start = after === null ? 0 : Number(Buffer.from(after, 'base64url').toString('utf8'));
      if (!Number.isInteger(start) || start < 0) return this.#send(res, call, 400, { message: 'Invalid cursor' });
      const items = this.#opts.items.slice(start, start + size);
      const more = start + size < this.#opts.items.length;
      const next = new URL(url.pathname, this.#url);
      next.searchParams.set('per_page', String(perPage));
      next.searchParams.set('after', Buffer.from(String(start + size), 'utf8').toString('base64url'));
      if (this.#opts.style === 'link-header') {
        return this.#send(res, call, 200, items, more ? { Link: `<${next.href}>; rel="next"` } : {});
      }
      const self = new URL(url.href);
      return this.#send(res, call, 200, { items, links: more ? { self: self.href, next: next.href } : { self: self.href } });
    }
    return this.#send(res, call, 404, { message: 'Not Found' });
  }
}

/** A REST audit item shaped as the docs' example, with the given fields. */
export function restAuditItem(p: {
  uuid: string;
  occurredAt: string;
  type: string;
  subject?: { type: string; uuid: string; name: string };
  actor?: { uuid: string; name: string };
  ip?: string;
}): Record<string, unknown> {
  return {
    uuid: p.uuid,
    graphql_id: Buffer.from(`AuditEvent---${p.uuid}`).toString('base64'),
    type: p.type,
    occurred_at: p.occurredAt,
    actor: { type: 'User', uuid: p.actor?.uuid ?? '01234567-89ab-4cde-8f01-23456789abcd', name: p.actor?.name ?? 'Example User' },
    subject: p.subject ?? { type: 'Organization', uuid: '12345678-9abc-4def-8012-3456789abcde', name: 'acme-inc' },
    context: { type: 'WebContext', request_ip: p.ip ?? '192.0.2.1', request_user_agent: 'Mozilla/5.0' },
    data: {},
    url: `https://api.buildkite.com/v2/organizations/acme-inc/audit_events/${p.uuid}`,
  };
}
