import { BatchImportFindingsCommand, GetFindingsCommand, SecurityHubClient, type AwsSecurityFinding } from '@aws-sdk/client-securityhub';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { asffId, toAsff } from '../../lib/forward/asff.ts';
import { importFindings } from '../../lib/forward/securityhub.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { createSecurityHubForwarder } from '../../lambdas/securityhub/process.ts';
import { parseSecurityHubEnv } from '../../lambdas/securityhub/env.ts';
import { awsClientConfig, uniqueName } from '../support/moto.ts';
import { finding, normalizedEvents, recordingLogger, recordingMetrics } from './helpers.ts';

const CTX = { accountId: '123456789012', region: 'us-east-1' };
const client = new SecurityHubClient(awsClientConfig());
afterAll(() => client.destroy());

/** A real client that counts BatchImportFindings calls and their sizes. */
function counting(): { client: Pick<SecurityHubClient, 'send'>; sizes: number[] } {
  const sizes: number[] = [];
  return {
    sizes,
    client: {
      send: ((command: BatchImportFindingsCommand) => {
        sizes.push(command.input.Findings?.length ?? 0);
        return client.send(command);
      }) as SecurityHubClient['send'],
    },
  };
}

function findingWith(uid: string, activity: 1 | 2 | 3 = 1, time = 1724044697000): OcsfEvent {
  const f = finding();
  const names = { 1: 'Create', 2: 'Update', 3: 'Close' } as const;
  Object.assign(f, { activity_id: activity, activity_name: names[activity], type_uid: 200400 + activity, type_name: `Detection Finding: ${names[activity]}`, time });
  (f['finding_info'] as { uid: string }).uid = uid;
  f.metadata.uid = `${uid}-${activity}`;
  return f;
}

async function storedFindings(ids: readonly string[]): Promise<AwsSecurityFinding[]> {
  const out: AwsSecurityFinding[] = [];
  let token: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const res = await client.send(new GetFindingsCommand({ MaxResults: 100, NextToken: token }));
    out.push(...(res.Findings ?? []).filter((f) => ids.includes(f.Id ?? '')));
    token = res.NextToken;
    if (token === undefined || token === '') break;
  }
  return out;
}

function sqsRecord(body: unknown, messageId: string): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1724044697000', SenderId: 'x', ApproximateFirstReceiveTimestamp: '1724044697000' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:kitewatch-securityhub',
    awsRegion: 'us-east-1',
  };
}

const quiet = recordingLogger().logger;
const noMetrics = recordingMetrics().metrics;

describe('BatchImportFindings against moto', () => {
  it('imports 250 findings in calls of at most 100', async () => {
    const base = uniqueName('bulk');
    const findings = Array.from({ length: 250 }, (_, i) => toAsff(findingWith(`${base}-${i}`), CTX));
    const c = counting();
    const result = await importFindings(
      c.client,
      findings.map((finding, i) => ({ key: i, finding })),
    );
    expect(c.sizes).toEqual([100, 100, 50]);
    expect(result.failed).toEqual([]);
    expect(result.imported).toHaveLength(250);
    expect(await storedFindings(findings.map((f) => f.Id as string))).toHaveLength(250);
  });

  it('create, update and close land on one finding, archived at the end', async () => {
    const uid = uniqueName('lifecycle');
    for (const [activity, time] of [
      [1, 1724044697000],
      [2, 1724048297000],
      [3, 1724051897000],
    ] as const) {
      const result = await importFindings(client, [{ key: activity, finding: toAsff(findingWith(uid, activity, time), CTX) }]);
      expect(result.failed).toEqual([]);
    }
    const stored = await storedFindings([asffId(uid)]);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ RecordState: 'ARCHIVED', UpdatedAt: '2024-08-19T07:18:17.000Z', CreatedAt: '2024-08-19T05:18:17.000Z' });
  });

  it('several states of one finding in a batch: one import, the newest wins, every message succeeds', async () => {
    const uid = uniqueName('same-batch');
    const c = counting();
    const result = await importFindings(c.client, [
      { key: 'close', finding: toAsff(findingWith(uid, 3, 1724051897000), CTX) },
      { key: 'create', finding: toAsff(findingWith(uid, 1), CTX) },
    ]);
    expect(c.sizes).toEqual([1]);
    expect(result.imported).toEqual(['close', 'create']);
    expect((await storedFindings([asffId(uid)]))[0]?.RecordState).toBe('ARCHIVED');
  });
});

describe('Security Hub forwarder (SQS batch -> BatchImportFindings)', () => {
  it('imports findings, skips other events, and fails exactly the messages it cannot import', async () => {
    const uid = uniqueName('sqs');
    const envelope = {
      version: '0',
      id: 'e1',
      'detail-type': 'OCSF Detection Finding',
      source: 'kitewatch',
      account: '123456789012',
      time: '2024-08-19T05:18:17Z',
      region: 'us-east-1',
      resources: [],
      detail: findingWith(uid),
    };
    const noUid = finding();
    delete (noUid['finding_info'] as { uid?: string }).uid;
    const forwarder = createSecurityHubForwarder({ client, context: CTX, logger: quiet, metrics: noMetrics });
    const event: SQSEvent = {
      Records: [
        sqsRecord(envelope, 'm-finding'),
        sqsRecord(findingWith(`${uid}-bare`), 'm-bare-finding'),
        sqsRecord(normalizedEvents()[0], 'm-not-a-finding'),
        sqsRecord('{not json', 'm-garbage'),
        sqsRecord({ ...noUid, metadata: { ...noUid.metadata, uid: 'x' } }, 'm-no-uid'),
      ],
    };
    const res = await forwarder.processBatch(event);
    expect(res.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['m-garbage', 'm-no-uid']);
    expect(await storedFindings([asffId(uid), asffId(`${uid}-bare`)])).toHaveLength(2);
  });

  it('findings Security Hub lists in FailedFindings, or a failed call, are redelivered', async () => {
    const uid = uniqueName('refused');
    const refuseOne: Pick<SecurityHubClient, 'send'> = {
      send: async (command: BatchImportFindingsCommand) => ({
        $metadata: {},
        SuccessCount: (command.input.Findings?.length ?? 1) - 1,
        FailedCount: 1,
        FailedFindings: [{ Id: asffId(`${uid}-b`), ErrorCode: 'InvalidInput', ErrorMessage: 'nope' }],
      }),
    };
    const records = [sqsRecord(findingWith(`${uid}-a`), 'a'), sqsRecord(findingWith(`${uid}-b`), 'b')];
    const one = await createSecurityHubForwarder({ client: refuseOne, context: CTX, logger: quiet, metrics: noMetrics }).processBatch({ Records: records });
    expect(one.batchItemFailures).toEqual([{ itemIdentifier: 'b' }]);
    const down: Pick<SecurityHubClient, 'send'> = {
      send: async () => {
        throw Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
      },
    };
    const all = await createSecurityHubForwarder({ client: down, context: CTX, logger: quiet, metrics: noMetrics }).processBatch({ Records: records });
    expect(all.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['a', 'b']);
  });

  it('environment: account required, region from AWS_REGION by default', () => {
    expect(parseSecurityHubEnv({ KITEWATCH_SECURITYHUB_ACCOUNT_ID: '123456789012', AWS_REGION: 'eu-west-1' })).toEqual({ accountId: '123456789012', region: 'eu-west-1', partition: 'aws' });
    expect(parseSecurityHubEnv({ KITEWATCH_SECURITYHUB_ACCOUNT_ID: '123456789012', KITEWATCH_SECURITYHUB_REGION: 'us-east-1', AWS_REGION: 'eu-west-1' }).region).toBe('us-east-1');
    expect(() => parseSecurityHubEnv({ AWS_REGION: 'eu-west-1' })).toThrow(/KITEWATCH_SECURITYHUB_ACCOUNT_ID/);
  });
});
