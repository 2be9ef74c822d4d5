/**
 * The backfill Lambda's logic (lambdas/backfill/process.ts) in process: the local server playing
 * Buildkite's REST audit-events API, and the ingest queue on moto. What lands on the queue is
 * what the normalizer reads, so each message is normalized here as the normalizer would.
 */
import { CreateQueueCommand, DeleteQueueCommand, ReceiveMessageCommand, DeleteMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BackfillInputError, runBackfill, triggerOf, type BackfillDeps } from '../../lambdas/backfill/process.ts';
import { BuildkiteClient } from '../../lib/buildkite/client.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import { FakeAuditApi, restAuditItem } from '../support/fake-audit-api.ts';
import { awsClientConfig, uniqueName } from '../support/moto.ts';

const TOKEN = 'bkua_backfill_lambda_token_0123456789';
const ORG = { slug: 'acme-inc', uuid: 'ae85860c-94f9-4275-91cb-3986590f45b5', graphqlId: 'T3Jn' };
const NOW = Date.parse('2026-03-03T12:00:00Z');
const settings = { seedDays: 2, silenceMinutes: 60, silenceAlarmName: 'Kitewatch-Pipeline-SilenceAlarm' };
const uuidN = (n: number): string => `01931fa7-b1c0-7abc-8abc-${n.toString(16).padStart(12, '0')}`;
// 30 items an hour apart, newest first: 2026-03-03T12:00Z back to 2026-03-02T07:00Z.
const items = Array.from({ length: 30 }, (_, i) => restAuditItem({ uuid: uuidN(i), occurredAt: new Date(NOW - i * 3_600_000).toISOString(), type: 'PipelineUpdatedEvent' }));

const sqs = new SQSClient(awsClientConfig());
let queueUrl: string;
let api: FakeAuditApi;
beforeAll(async () => {
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('backfill-ingest') }))).QueueUrl as string;
});
afterAll(async () => {
  await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
});
afterEach(async () => {
  await api.stop();
  await drain();
});

async function drain(): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    const msgs = out.Messages ?? [];
    if (msgs.length === 0) return bodies;
    bodies.push(...msgs.map((m) => m.Body as string));
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })) }));
  }
}

async function deps(opts: { orgForbidden?: boolean } = {}): Promise<BackfillDeps> {
  api = await new FakeAuditApi({ token: TOKEN, org: ORG, items, pageSize: 7, ...opts }).start();
  return {
    buildkite: new BuildkiteClient({ apiUrl: api.url, token: { source: 'test', token: async () => TOKEN }, sleep: async () => undefined }),
    sqs,
    queueUrl,
    org: ORG.slug,
    envelope: { source: 'aws.partner/buildkite.com/acme-inc/0106-187c' },
    settings,
    now: () => NOW,
  };
}

const finding = (overrides: Record<string, unknown> = {}) => ({
  version: '0',
  id: 'f-1',
  'detail-type': 'OCSF Detection Finding',
  source: 'kitewatch',
  time: '2026-03-03T09:30:00Z',
  detail: { metadata: { product: { name: 'Kitewatch' } }, finding_info: { uid: 'fi-1', analytic: { uid: 'monitoring-disabled' }, first_seen_time: Date.parse('2026-03-03T09:30:00Z') } },
  ...overrides,
});

describe('backfill Lambda', () => {
  it('seeds at first deploy: the last seedDays days of audit events onto the ingest queue, as the envelopes live delivery sends', async () => {
    const report = await runBackfill({}, await deps());
    expect(report).toEqual({ trigger: 'seed', since: '2026-03-01T12:00:00.000Z', until: '2026-03-03T12:00:00.000Z', fetched: 30, sent: 30 });
    const bodies = await drain();
    expect(bodies).toHaveLength(30);
    for (const body of bodies) {
      const r = normalizeEnvelope(JSON.parse(body));
      expect(r.ok && r.drift === undefined, body.slice(0, 200)).toBe(true);
    }
    const listing = api.calls.filter((c) => c.path.endsWith('/audit_events'));
    expect(listing.every((c) => c.query.get('per_page') === '100' && c.authorized)).toBe(true);
  });

  it('is idempotent: the same trigger twice puts the same envelopes (same ids, same OCSF uids) on the queue', async () => {
    const d = await deps();
    await runBackfill({ since: '2026-03-03T05:00:00Z', until: '2026-03-03T08:00:00Z' }, d);
    const first = await drain();
    await runBackfill({ since: '2026-03-03T05:00:00Z', until: '2026-03-03T08:00:00Z' }, d);
    const second = await drain();
    expect(first).toHaveLength(4);
    expect([...second].sort()).toEqual([...first].sort());
  });

  it('fills the gap after a Kitewatch monitoring-disabled finding, from an hour before it', async () => {
    const report = await runBackfill(finding(), await deps());
    expect(report).toMatchObject({ trigger: 'monitoring-disabled', since: '2026-03-03T08:30:00.000Z', until: '2026-03-03T12:00:00.000Z', fetched: 4, sent: 4 });
  });

  it('fills the gap after the silence alarm goes back to OK', async () => {
    const alarm = {
      source: 'aws.cloudwatch',
      'detail-type': 'CloudWatch Alarm State Change',
      detail: { alarmName: settings.silenceAlarmName, state: { value: 'OK', timestamp: '2026-03-03T11:10:00.000Z' }, previousState: { value: 'ALARM', timestamp: '2026-03-03T08:10:00.000Z' } },
    };
    const report = await runBackfill(alarm, await deps());
    expect(report).toMatchObject({ trigger: 'silence-ended', since: '2026-03-03T07:10:00.000Z', until: '2026-03-03T11:10:00.000Z', fetched: 4 });
  });

  it('seeds on the stack CREATE_COMPLETE CloudFormation reports at first deploy, and not on updates', () => {
    const stack = (status: string) => ({ source: 'aws.cloudformation', 'detail-type': 'CloudFormation Stack Status Change', detail: { 'status-details': { status } } });
    expect(triggerOf(stack('CREATE_COMPLETE'), settings, NOW)).toEqual({ kind: 'seed', window: { since: NOW - 2 * 86_400_000, until: NOW } });
    expect(() => triggerOf(stack('UPDATE_COMPLETE'), settings, NOW)).toThrow(BackfillInputError);
  });

  it('takes the silence alarm OK notification from the alarm topic (SNS), reaching back a day', () => {
    const note = (m: Record<string, unknown>) => ({ Records: [{ EventSource: 'aws:sns', Sns: { Message: JSON.stringify(m) } }] });
    const t = triggerOf(note({ AlarmName: settings.silenceAlarmName, NewStateValue: 'OK', OldStateValue: 'ALARM', StateChangeTime: '2026-03-03T11:10:00.000+0000' }), settings, NOW);
    expect(t).toEqual({ kind: 'silence-ended', window: { since: Date.parse('2026-03-02T11:10:00Z'), until: Date.parse('2026-03-03T11:10:00Z') }, alarm: settings.silenceAlarmName });
    expect(() => triggerOf(note({ AlarmName: 'Kitewatch-DLQ', NewStateValue: 'OK', OldStateValue: 'ALARM' }), settings, NOW)).toThrow(BackfillInputError);
    expect(() => triggerOf(note({ AlarmName: settings.silenceAlarmName, NewStateValue: 'ALARM', OldStateValue: 'OK' }), settings, NOW)).toThrow(BackfillInputError);
  });

  it('acts only on findings Kitewatch produced, and on nothing it does not recognize', () => {
    expect(() => triggerOf(finding({ source: 'aws.partner/buildkite.com/acme-inc/x' }), settings, NOW)).toThrow(BackfillInputError);
    expect(() => triggerOf(finding({ detail: { metadata: { product: { name: 'Other' } }, finding_info: { analytic: { uid: 'monitoring-disabled' } } } }), settings, NOW)).toThrow(BackfillInputError);
    expect(() => triggerOf(finding({ detail: { metadata: { product: { name: 'Kitewatch' } }, finding_info: { analytic: { uid: 'token-spike' } } } }), settings, NOW)).toThrow(BackfillInputError);
    const otherAlarm = { source: 'aws.cloudwatch', 'detail-type': 'CloudWatch Alarm State Change', detail: { alarmName: 'other', state: { value: 'OK' }, previousState: { value: 'ALARM' } } };
    expect(() => triggerOf(otherAlarm, settings, NOW)).toThrow(BackfillInputError);
    expect(() => triggerOf({ since: 'yesterday' }, settings, NOW)).toThrow('since must be an ISO-8601 time');
    expect(() => triggerOf({ hello: 1 }, settings, NOW)).toThrow('unrecognized trigger');
    expect(() => triggerOf({}, { ...settings, seedDays: 0 }, NOW)).toThrow('seeding is off');
  });

  it('fails loudly with the status and what to do when the API refuses', async () => {
    const d = await deps();
    api.fail({ path: /audit_events$/, status: 403, body: { message: 'Forbidden' } });
    await expect(runBackfill({ since: '2026-03-03T05:00:00Z' }, d)).rejects.toThrow(/HTTP 403 \(Forbidden\).*read_audit_events/);
    expect(await drain()).toEqual([]);
  });
});
