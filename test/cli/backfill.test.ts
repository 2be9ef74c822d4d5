/**
 * `kitewatch backfill` end to end: the real CLI in a child process against a local server that
 * plays Buildkite's documented REST audit-events API (two pages, a 429 with RateLimit-Reset, a 403).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { restItemToEnvelope } from '../../lib/backfill/audit-events.ts';
import { parseTime } from '../../lib/cli/backfill.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import { FakeAuditApi, restAuditItem } from '../support/fake-audit-api.ts';
import { ndjson, runCli, summary, tempDir } from '../support/cli.ts';
import { sample } from '../support/fixtures.ts';
import { expectValidOcsf } from '../support/ocsf-assertions.ts';

const TOKEN = 'bkua_backfill_test_token_0123456789abcdef';
const ORG = { slug: 'acme-inc', uuid: 'ae85860c-94f9-4275-91cb-3986590f45b5', graphqlId: 'T3JnYW5pemF0aW9uLS0t' };
const T0 = Date.parse('2026-03-03T12:00:00Z');
const iso = (ms: number): string => new Date(ms).toISOString();
const uuidN = (n: number): string => `01931fa7-b1c0-7abc-8abc-${n.toString(16).padStart(12, '0')}`;

/** `count` items a minute apart, newest first; item 3 disables the EventBridge notification service. */
function items(count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) =>
    i === 3
      ? restAuditItem({
          uuid: uuidN(i),
          occurredAt: iso(T0 - i * 60_000),
          type: 'NotificationServiceDisabledEvent',
          subject: { type: 'NotificationService', uuid: uuidN(9999), name: 'Amazon EventBridge' },
        })
      : restAuditItem({ uuid: uuidN(i), occurredAt: iso(T0 - i * 60_000), type: i % 2 === 0 ? 'OrganizationUpdatedEvent' : 'PipelineUpdatedEvent' }),
  );
}

let api: FakeAuditApi | undefined;
afterEach(async () => {
  await api?.stop();
  api = undefined;
});

function backfill(dir: string, args: string[], env: Record<string, string> = { BUILDKITE_API_TOKEN: TOKEN }) {
  return runCli(['backfill', ...args, '--out', 'out.ndjson', '--quarantine', 'q.ndjson', '--state', 'state.db', '--containment', 'off'], {
    cwd: dir,
    env: { BUILDKITE_API_TOKEN: '', ...env },
  });
}

describe('kitewatch backfill', () => {
  it("reads two pages (waiting out a 429), runs every item through the pipeline and prints fetched=N with replay's summary", async () => {
    api = await new FakeAuditApi({ token: TOKEN, org: ORG, items: items(150) }).start();
    const page2 = Buffer.from('100').toString('base64url');
    api.fail({
      path: /audit_events$/,
      after: page2,
      status: 429,
      headers: { 'RateLimit-Remaining': '0', 'RateLimit-Reset': '1' },
      body: { message: 'Too many requests', scope: 'rest', limit: 200, current: 200, reset: 1 },
    });
    const dir = tempDir();
    const r = await backfill(dir, ['--org', 'acme-inc', '--since', '2026-03-01T00:00:00Z', '--until', '2026-03-04T00:00:00Z', '--buildkite-api-url', api.url, '--validate']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^fetched=150 events=150 normalized=150 quarantined=0 findings=\d+ actions=0$/m);
    expect(summary(r.stderr.replace('fetched=150 ', ''))).toMatchObject({ events: 150, normalized: 150, quarantined: 0 });
    // No drift: backfill sends exactly the EventBridge shape.
    expect(r.stderr).not.toContain('format drift');

    const listing = api.calls.filter((c) => c.path.endsWith('/audit_events'));
    expect(listing.map((c) => [c.status, c.query.get('per_page'), c.query.get('after')])).toEqual([
      [200, '100', null],
      [429, '100', page2],
      [200, '100', page2],
    ]);
    expect(api.calls.every((c) => c.authorized)).toBe(true);

    const out = ndjson(readFileSync(join(dir, 'out.ndjson'), 'utf8'));
    const events = out.filter((e) => e['class_uid'] !== 2004);
    expect(events).toHaveLength(150);
    for (const e of events.slice(0, 5)) expectValidOcsf(e as never);
    expect(events[3]).toMatchObject({ metadata: { event_code: 'NOTIFICATION_SERVICE_DISABLED', tenant_uid: ORG.uuid, original_event_uid: uuidN(3) } });
    const titles = out.filter((e) => e['class_uid'] === 2004).map((e) => (e['finding_info'] as { title: string }).title);
    expect(titles).toContainEqual(expect.stringMatching(/^EventBridge notification service "Amazon EventBridge" disabled by Example User/));
    expect(r.stderr + r.stdout).not.toContain(TOKEN);
  });

  it('stops paging at the first event older than --since, skips events after --until, and follows a Link header', async () => {
    api = await new FakeAuditApi({ token: TOKEN, org: ORG, items: items(40), pageSize: 10, style: 'link-header' }).start();
    const dir = tempDir();
    // Items 5..24: newer than item 24's time and no newer than item 5's.
    const r = await backfill(dir, ['--org', 'acme-inc', '--since', iso(T0 - 24 * 60_000), '--until', iso(T0 - 5 * 60_000), '--buildkite-api-url', api.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^fetched=20 events=20 normalized=20 /m);
    // Pages 1-3 hold items 0..29; item 25 is older than --since, so page 4 is never asked for.
    expect(api.calls.filter((c) => c.path.endsWith('/audit_events'))).toHaveLength(3);
  });

  it('gives a backfilled event the metadata.uid of the same audit event delivered through EventBridge', () => {
    const live = sample('audit-event-logged') as { detail: { event: Record<string, unknown> } };
    const ev = live.detail.event;
    const rest = {
      uuid: ev['uuid'],
      type: 'OrganizationUpdatedEvent',
      occurred_at: '2023-03-25T23:14:43.000Z',
      actor: { type: 'User', uuid: 'df75860c-94f9-4275-91cb-3986590f45b5', name: 'Buildkite member' },
      subject: { type: 'Organization', uuid: ev['subject_uuid'], name: ev['subject_name'] },
      context: JSON.parse(ev['context'] as string) as unknown,
      data: ev['data'],
    };
    const a = normalizeEnvelope(live);
    const b = normalizeEnvelope(restItemToEnvelope(rest, { uuid: 'ae85860c-94f9-4275-91cb-3986590f45b5', slug: 'buildkite' }));
    if (!a.ok || !b.ok) throw new Error('both normalize');
    expect(b.drift).toBeUndefined();
    expect(b.event.metadata.uid).toBe(a.event.metadata.uid);
    expect(b.event.time).toBe(a.event.time);
    expect(b.event.class_uid).toBe(a.event.class_uid);
    expect(b.event.src_endpoint).toEqual(a.event.src_endpoint);
    expect(b.event.actor?.user).toMatchObject({ uid: a.event.actor?.user?.uid, name: a.event.actor?.user?.name });
  });

  it('exits 1 on a 403 with the status and what to do, having processed nothing', async () => {
    api = await new FakeAuditApi({ token: TOKEN, org: ORG, items: items(5) }).start();
    api.fail({ path: /audit_events$/, status: 403, body: { message: 'Forbidden' } });
    const dir = tempDir();
    const r = await backfill(dir, ['--org', 'acme-inc', '--since', '7d', '--buildkite-api-url', api.url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('HTTP 403 (Forbidden)');
    expect(r.stderr).toContain('Enterprise plan');
    expect(r.stderr).toContain('read_audit_events');
    expect(r.stderr).toMatch(/^fetched=0 events=0 /m);
  });

  it('works without read_organizations (the slug stands in for the uuid, and it says so)', async () => {
    api = await new FakeAuditApi({ token: TOKEN, org: ORG, items: items(2), orgForbidden: true }).start();
    const dir = tempDir();
    const r = await backfill(dir, ['--org', 'acme-inc', '--since', '2026-03-01', '--until', '2026-03-04', '--buildkite-api-url', api.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('cannot read organization acme-inc (read_organizations)');
    expect(r.stderr).toMatch(/^fetched=2 events=2 normalized=2 /m);
  });

  it('exits 2 on usage errors, naming the problem', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'x.ndjson'), '');
    const cases: Array<[string[], Record<string, string>, string]> = [
      [['--since', '1d'], { BUILDKITE_API_TOKEN: TOKEN }, '--org SLUG is required'],
      [['--org', 'acme-inc'], { BUILDKITE_API_TOKEN: TOKEN }, '--since TIME is required'],
      [['--org', 'Acme Inc', '--since', '1d'], { BUILDKITE_API_TOKEN: TOKEN }, '--org must be an organization slug'],
      [['--org', 'acme-inc', '--since', 'last tuesday'], { BUILDKITE_API_TOKEN: TOKEN }, '--since must be ISO-8601'],
      [['--org', 'acme-inc', '--since', '1d', '--until', '2d'], { BUILDKITE_API_TOKEN: TOKEN }, 'is after --until'],
      [['--org', 'acme-inc', '--since', '1d'], {}, 'BUILDKITE_API_TOKEN is not set'],
      [['--org', 'acme-inc', '--since', '1d', 'x.ndjson'], { BUILDKITE_API_TOKEN: TOKEN }, 'backfill reads the Buildkite API, not files'],
    ];
    for (const [args, env, message] of cases) {
      const r = await backfill(dir, args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(message);
    }
  });

  it('parses --since/--until as ISO-8601, a date, or a duration before now', () => {
    const now = Date.parse('2026-03-03T12:00:00Z');
    expect(parseTime('24h', now)).toBe(now - 86_400_000);
    expect(parseTime('90m', now)).toBe(now - 5_400_000);
    expect(parseTime('7d', now)).toBe(now - 7 * 86_400_000);
    expect(parseTime('2026-03-01', now)).toBe(Date.parse('2026-03-01T00:00:00Z'));
    expect(parseTime('2026-03-01T10:00:00+02:00', now)).toBe(Date.parse('2026-03-01T08:00:00Z'));
    for (const bad of ['2026-02-30', '2026-03-01T10:00:00', 'yesterday', '-1d', '']) expect(parseTime(bad, now), bad).toBeUndefined();
  });
});
