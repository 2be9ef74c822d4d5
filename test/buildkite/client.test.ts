import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BuildkiteApi } from '../../lib/buildkite/api.ts';
import { BuildkiteClient, apiPath, nextLink, rateLimitResetSeconds } from '../../lib/buildkite/client.ts';
import { BuildkiteApiError, BuildkiteGraphqlError, BuildkiteRequestError, MissingBuildkiteTokenError } from '../../lib/buildkite/errors.ts';
import { FIND_AGENT_TOKEN } from '../../lib/buildkite/graphql-documents.ts';
import { envTokenProvider } from '../../lib/buildkite/token.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';

let bk: FakeBuildkite;
const logs: string[] = [];
const waits: number[] = [];

function client(overrides: Partial<ConstructorParameters<typeof BuildkiteClient>[0]> = {}): BuildkiteClient {
  return new BuildkiteClient({
    apiUrl: bk.url,
    graphqlUrl: bk.graphqlUrl,
    token: envTokenProvider({ BUILDKITE_API_TOKEN: bk.token }),
    sleep: async (ms) => void waits.push(ms),
    random: () => 0.5,
    log: (line) => void logs.push(line),
    ...overrides,
  });
}

beforeAll(async () => {
  bk = await FakeBuildkite.start();
});
afterAll(async () => {
  await bk.close();
});
afterEach(() => {
  // No log line, error or report may carry the token.
  for (const line of logs) expect(line).not.toContain(bk.token);
  bk.clearCalls();
  bk.clearFailures();
  logs.length = 0;
  waits.length = 0;
});

describe('BuildkiteClient REST', () => {
  it('sends the bearer token and encodes path segments', async () => {
    const cluster = bk.addCluster('Main');
    const res = await client().rest<{ id: string }[]>('listClusterTokens', 'GET', apiPath`/v2/organizations/${bk.org}/clusters/${cluster}/tokens`);
    expect(res.status).toBe(200);
    expect(bk.calls).toHaveLength(1);
    expect(bk.calls[0]).toMatchObject({ method: 'GET', path: `/v2/organizations/acme/clusters/${cluster}/tokens`, authorized: true });
    expect(apiPath`/v2/organizations/${'a/b c'}/x`).toBe('/v2/organizations/a%2Fb%20c/x');
  });

  it('retries a 429, waiting RateLimit-Reset of the exhausted scope plus jitter', async () => {
    const cluster = bk.addCluster();
    bk.failNext({
      method: 'GET',
      path: /\/clusters$/,
      status: 429,
      headers: { 'RateLimit-Remaining': '0', 'RateLimit-Reset': '2', 'RateLimit-Warning': 'You have exceeded your API rate limit.', 'RateLimit-User-Remaining': '10', 'RateLimit-User-Reset': '30' },
    });
    const clusters = await new BuildkiteApi(client()).listClusters(bk.org);
    expect(clusters.map((c) => c.id)).toContain(cluster);
    expect(bk.calls.map((c) => c.status)).toEqual([429, 200]);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(2000);
    expect(waits[0]).toBeLessThan(3000);
  });

  it('waits for the per-user reset when the user limit is the one exceeded', () => {
    const h = new Headers({ 'RateLimit-Remaining': '80', 'RateLimit-Reset': '40', 'RateLimit-User-Remaining': '0', 'RateLimit-User-Reset': '5' });
    expect(rateLimitResetSeconds(h, '')).toBe(5);
    expect(rateLimitResetSeconds(new Headers(), '{"errors":[{"message":"Please try again in 187 seconds."}]}')).toBe(187);
    expect(rateLimitResetSeconds(new Headers(), '')).toBeUndefined();
  });

  it('fails at once, naming the call, when the reset is longer than it may wait', async () => {
    bk.failNext({ path: /\/stop$/, status: 429, headers: { 'RateLimit-Remaining': '0', 'RateLimit-Reset': '300' } });
    const agent = bk.addAgent();
    const error = await new BuildkiteApi(client({ maxWaitMs: 60_000 })).stopAgent(bk.org, agent.id, true).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildkiteApiError);
    expect(error).toMatchObject({ call: 'stopAgent', status: 429, retryAfterSeconds: 300 });
    expect((error as Error).message).toMatch(/stopAgent \(PUT \/v2\/organizations\/acme\/agents\/.+\/stop\) failed with HTTP 429/);
    expect(waits).toEqual([]);
    expect(agent.connected).toBe(true);
  });

  it('retries 5xx with exponential backoff on idempotent calls', async () => {
    const cluster = bk.addCluster();
    const token = bk.addClusterToken(cluster);
    bk.failNext({ method: 'DELETE', status: 502, times: 2 });
    const result = await new BuildkiteApi(client()).revokeClusterToken(bk.org, cluster, token.id);
    expect(result).toBe('revoked');
    expect(bk.calls.map((c) => c.status)).toEqual([502, 502, 204]);
    // base 250 ms, x2 per attempt, jitter factor 0.75 with random() = 0.5
    expect(waits).toEqual([187, 375]);
  });

  it('does not retry a non-idempotent create after a 5xx (it may have happened)', async () => {
    const cluster = bk.addCluster();
    bk.failNext({ method: 'POST', status: 500 });
    const error = await new BuildkiteApi(client()).createClusterToken(bk.org, cluster, { description: 'x' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'BuildkiteApiError', call: 'createClusterToken', status: 500 });
    expect(bk.calls).toHaveLength(1);
  });

  it('gives up after maxAttempts with the last status', async () => {
    bk.failNext({ method: 'GET', status: 503, times: 10 });
    const error = await new BuildkiteApi(client({ maxAttempts: 3 })).listClusters(bk.org).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'BuildkiteApiError', call: 'listClusters', status: 503 });
    expect((error as Error).message).toContain('after 3 attempts');
    expect(bk.calls).toHaveLength(3);
  });

  it('times out each attempt and reports a typed timeout', async () => {
    bk.failNext({ method: 'GET', path: /\/clusters$/, status: 200, body: [], delayMs: 400, times: 2 });
    const error = await new BuildkiteApi(client({ timeoutMs: 100, maxAttempts: 2 })).listClusters(bk.org).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildkiteRequestError);
    expect(error).toMatchObject({ call: 'listClusters', timedOut: true });
    expect((error as Error).message).toMatch(/timed out after 100 ms \(2 attempts\)/);
  });

  it('returns the API message of a 422 in a typed error', async () => {
    const cluster = bk.addCluster();
    const error = await new BuildkiteApi(client()).createClusterToken(bk.org, cluster, { description: '' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'BuildkiteApiError', status: 422, apiMessage: "Validation failed: Description can't be blank" });
  });

  it('follows Link rel=next across pages, and never to another origin', async () => {
    const fresh = await FakeBuildkite.start();
    try {
      fresh.perPage = 2;
      const ids = [1, 2, 3, 4, 5].map((i) => fresh.addCluster(`c${i}`));
      const c = new BuildkiteClient({ apiUrl: fresh.url, token: envTokenProvider({ BUILDKITE_API_TOKEN: fresh.token }) });
      const all = await c.restPaged<{ id: string }>('listClusters', `/v2/organizations/${fresh.org}/clusters?per_page=2`);
      expect(all.map((x) => x.id)).toEqual(ids);
      expect(fresh.calls.map((x) => x.query)).toEqual(['?per_page=2', '?per_page=2&page=2', '?per_page=2&page=3']);

      // A Link pointing elsewhere is ignored: the token only goes to the configured API.
      fresh.clearCalls();
      const evil: typeof fetch = async (input, init) => {
        const res = await fetch(input, init);
        const headers = new Headers(res.headers);
        headers.set('Link', '<https://evil.example/v2/steal?page=2>; rel="next"');
        return new Response(await res.text(), { status: res.status, headers });
      };
      const c2 = new BuildkiteClient({ apiUrl: fresh.url, token: envTokenProvider({ BUILDKITE_API_TOKEN: fresh.token }), fetch: evil });
      expect(await c2.restPaged('listClusters', `/v2/organizations/${fresh.org}/clusters`)).toHaveLength(5);
      expect(fresh.calls).toHaveLength(1);
    } finally {
      await fresh.close();
    }
    expect(nextLink(new Headers({ Link: '<https://a/x?page=2>; rel="next", <https://a/x?page=9>; rel="last"' }))).toBe('https://a/x?page=2');
  });

  it('without a token fails with MissingBuildkiteTokenError and sends nothing', async () => {
    const error = await new BuildkiteApi(client({ token: envTokenProvider({}) })).listClusters(bk.org).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingBuildkiteTokenError);
    expect((error as Error).message).toBe('missing Buildkite API token: BUILDKITE_API_TOKEN is not set');
    expect(bk.calls).toEqual([]);
  });

  it('a wrong token gets 401 and the error does not contain the token', async () => {
    // Planted, shaped like a real API token; assembled so that no token literal sits in the source.
    const wrong = ['bkua', '0123456789abcdef0123456789abcdef01234567'].join('_');
    const error = await new BuildkiteApi(client({ token: envTokenProvider({ BUILDKITE_API_TOKEN: wrong }) })).listClusters(bk.org).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'BuildkiteApiError', status: 401 });
    expect(JSON.stringify(error) + String(error) + (error as Error).stack).not.toContain(wrong);
    expect(logs.join('\n')).not.toContain(wrong);
  });
});

describe('BuildkiteClient GraphQL', () => {
  it('runs a document and returns data', async () => {
    const legacy = bk.addLegacyToken({ description: 'old agents' });
    const found = await new BuildkiteApi(client()).findLegacyAgentToken(bk.org, legacy.uuid);
    expect(found).toEqual({ id: legacy.id, uuid: legacy.uuid, description: 'old agents', revokedAt: null });
    expect(bk.calls[0]).toMatchObject({ method: 'POST', path: '/graphql', operation: 'KitewatchFindAgentToken', authorized: true });
    expect(bk.calls[0]?.body).toEqual({ query: FIND_AGENT_TOKEN, variables: { slug: `acme/${legacy.uuid}` } });
  });

  it('turns GraphQL errors into BuildkiteGraphqlError naming the call', async () => {
    const error = await client()
      .graphql('broken', 'query Broken { nope }', {})
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildkiteGraphqlError);
    expect(error).toMatchObject({ call: 'broken' });
    expect((error as Error).message).toContain('Cannot query field "nope"');
  });

  it('retries a GraphQL 429 using the seconds in its message', async () => {
    bk.failNext({ path: '/graphql', status: 429, body: { errors: [{ message: 'Your organization has exceeded the limit of 20000 complexity points. Please try again in 3 seconds.' }] } });
    const legacy = bk.addLegacyToken();
    await new BuildkiteApi(client()).findLegacyAgentToken(bk.org, legacy.uuid);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(3000);
    expect(waits[0]).toBeLessThan(4000);
  });
});
