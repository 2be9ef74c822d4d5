/**
 * The backfill Lambda's logic (lambdas/backfill/process.ts) in process: the local server playing
 * Buildkite's REST audit-events API, and the ingest queue on moto. What lands on the queue is
 * what the normalizer reads, so each message is normalized here as the normalizer would.
 */
import { CreateQueueCommand, DeleteQueueCommand, ReceiveMessageCommand, DeleteMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { lastEventReader } from '../../lambdas/backfill/compose.ts';
import { BackfillInputError, lastEventBeforeSilence, maxReachMs, runBackfill, silenceWindow, triggerOf, type BackfillDeps } from '../../lambdas/backfill/process.ts';
import { createLogger } from '../../lambdas/shared/logger.ts';
import { parseConfig } from '../../lib/config/load.ts';
import { agentConnected, uid } from '../../lib/detections/builders.ts';
import { createDetectStage } from '../../lib/detections/stage.ts';
import { DynamoDbState } from '../../lib/state/dynamodb.ts';
import { BuildkiteClient } from '../../lib/buildkite/client.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import { FakeAuditApi, restAuditItem } from '../support/fake-audit-api.ts';
import { awsClientConfig, createStateTable, uniqueName } from '../support/moto.ts';

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

  describe('after a silence: back to the last event the detectors saw before it', () => {
    const okNote = {
      Records: [
        {
          EventSource: 'aws:sns',
          Sns: { Message: JSON.stringify({ AlarmName: settings.silenceAlarmName, NewStateValue: 'OK', OldStateValue: 'ALARM', StateChangeTime: '2026-03-03T11:10:00.000+0000' }) },
        },
      ],
    };
    const at = (iso: string) => Date.parse(iso);

    it('while no event after the silence was detected yet: from the latest event, less a margin; the same window when run again', async () => {
      const d = { ...(await deps()), lastEvent: async () => ({ t: at('2026-03-03T04:20:00Z'), gaps: [] }) };
      const report = await runBackfill(okNote, d);
      expect(report).toEqual({ trigger: 'silence-ended', since: '2026-03-03T04:05:00.000Z', until: '2026-03-03T11:10:00.000Z', fetched: 7, sent: 7, reach: 'last-event' });
      const first = await drain();
      expect(await runBackfill(okNote, d)).toEqual(report);
      expect([...(await drain())].sort()).toEqual([...first].sort());
    });

    it('once events flow again: from the start of the pause that ended at the OK (short pauses are not the silence)', async () => {
      const gaps = [
        [at('2026-03-02T20:00:00Z'), at('2026-03-02T20:10:00Z')],
        [at('2026-03-03T02:40:00Z'), at('2026-03-03T11:00:00Z')],
        [at('2026-03-03T11:01:00Z'), at('2026-03-03T11:06:00Z')],
      ] as const;
      const report = await runBackfill(okNote, { ...(await deps()), lastEvent: async () => ({ t: at('2026-03-03T11:06:00Z'), gaps }) });
      expect(report).toMatchObject({ since: '2026-03-03T02:25:00.000Z', fetched: 9, reach: 'last-event' });
    });

    it('without a last event, or one beyond the reach: as far as allowed (maxReachDays, and no more than the seed days)', async () => {
      expect(await runBackfill(okNote, { ...(await deps()), lastEvent: async () => undefined })).toMatchObject({ since: '2026-03-01T11:10:00.000Z', fetched: 29, reach: 'max-reach' });
      await drain();
      await api.stop();
      const oneDay = { ...(await deps()), settings: { ...settings, maxReachDays: 1 }, lastEvent: async () => ({ t: at('2026-02-20T00:00:00Z'), gaps: [] }) };
      expect(await runBackfill(okNote, oneDay)).toMatchObject({ since: '2026-03-02T11:10:00.000Z', fetched: 24, reach: 'max-reach' });
      expect(maxReachMs({ ...settings, seedDays: 0, maxReachDays: 5 })).toBe(5 * 86_400_000);
    });

    it('the alarm state change: the earlier of the alarm’s estimate and the last event', () => {
      const trigger = triggerOf(
        {
          source: 'aws.cloudwatch',
          'detail-type': 'CloudWatch Alarm State Change',
          detail: { alarmName: settings.silenceAlarmName, state: { value: 'OK', timestamp: '2026-03-03T11:10:00.000Z' }, previousState: { value: 'ALARM', timestamp: '2026-03-03T08:10:00.000Z' } },
        },
        settings,
        NOW,
      );
      expect(silenceWindow(trigger, undefined, settings)).toEqual({ window: { since: at('2026-03-03T07:10:00Z'), until: at('2026-03-03T11:10:00Z') }, reach: 'alarm' });
      expect(silenceWindow(trigger, { t: at('2026-03-03T06:00:00Z'), gaps: [] }, settings).window.since).toBe(at('2026-03-03T05:45:00Z'));
      expect(silenceWindow(trigger, { t: at('2026-03-03T07:50:00Z'), gaps: [] }, settings)).toMatchObject({ reach: 'alarm' });
      expect(lastEventBeforeSilence({ t: at('2026-03-03T11:05:00Z'), gaps: [] }, at('2026-03-03T11:10:00Z'), 60)).toBeUndefined();
    });

    it('reads what the detect stage wrote to the state table (DynamoDB on moto)', async () => {
      const db = new DynamoDBClient(awsClientConfig());
      const table = await createStateTable(db, uniqueName('kw-backfill-state'));
      const stage = createDetectStage(parseConfig({}, 'defaults'), new DynamoDbState({ client: db, tableName: table }));
      const token = { uuid: uid('token', 'backfill'), description: 'ci' };
      for (const [i, when] of ['2026-03-03T04:20:00Z', '2026-03-03T11:05:00Z'].entries()) {
        const r = normalizeEnvelope(agentConnected({ at: when, agent: { uuid: uid('agent', String(i)), name: `a${i}`, ip: '3.80.0.1' }, token }));
        if (!r.ok) throw new Error(r.reason);
        await stage.detect(r.event);
        await stage.flush();
      }
      const report = await runBackfill(okNote, { ...(await deps()), lastEvent: lastEventReader(new DynamoDbState({ client: db, tableName: table }), createLogger()) });
      expect(report).toMatchObject({ since: '2026-03-03T04:05:00.000Z', reach: 'last-event' });
      await db.send(new DeleteTableCommand({ TableName: table }));
      db.destroy();
    });
  });

  it('seeds on the stack CREATE_COMPLETE CloudFormation reports at first deploy, and not on updates', () => {
    const stack = (status: string) => ({ source: 'aws.cloudformation', 'detail-type': 'CloudFormation Stack Status Change', detail: { 'status-details': { status } } });
    expect(triggerOf(stack('CREATE_COMPLETE'), settings, NOW)).toEqual({ kind: 'seed', window: { since: NOW - 2 * 86_400_000, until: NOW } });
    expect(() => triggerOf(stack('UPDATE_COMPLETE'), settings, NOW)).toThrow(BackfillInputError);
  });

  it('takes the silence alarm OK notification from the alarm topic (SNS), reaching back as far as allowed until state narrows it', () => {
    const note = (m: Record<string, unknown>) => ({ Records: [{ EventSource: 'aws:sns', Sns: { Message: JSON.stringify(m) } }] });
    const t = triggerOf(note({ AlarmName: settings.silenceAlarmName, NewStateValue: 'OK', OldStateValue: 'ALARM', StateChangeTime: '2026-03-03T11:10:00.000+0000' }), settings, NOW);
    // Seeding is on with 2 days: no further back than that.
    expect(t).toEqual({ kind: 'silence-ended', window: { since: Date.parse('2026-03-01T11:10:00Z'), until: Date.parse('2026-03-03T11:10:00Z') }, alarm: settings.silenceAlarmName, estimated: false });
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
