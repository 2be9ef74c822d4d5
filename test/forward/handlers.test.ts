import { GetFindingsCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import type { Context, FirehoseTransformationEvent, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asffId } from '../../lib/forward/asff.ts';
import { awsClientConfig, motoEndpoint, uniqueName } from '../support/moto.ts';
import { finding } from './helpers.ts';

/** The real handlers, in process: the env the construct sets, the middy chain, real SDK clients against moto. */
const context = {
  functionName: 'kitewatch-test',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:kitewatch-test',
  memoryLimitInMB: '256',
  awsRequestId: 'req-1',
  logGroupName: '/aws/lambda/kitewatch-test',
  logStreamName: 's',
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} as Context;

const saved = { ...process.env };
beforeAll(() => {
  Object.assign(process.env, {
    KITEWATCH_FORWARD_ROUTES: JSON.stringify({ 'kw-fwd-splunk': { format: 'splunk-hec', index: 'buildkite' } }),
    KITEWATCH_SECURITYHUB_ACCOUNT_ID: '123456789012',
    KITEWATCH_SECURITYHUB_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_SECURITYHUB: motoEndpoint(),
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    POWERTOOLS_SERVICE_NAME: 'forward-test',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
});
afterAll(() => {
  process.env = saved;
});

describe('Lambda handlers', () => {
  it('Firehose transform: the middy handler answers Firehose with HEC records', async () => {
    const { handler } = await import('../../lambdas/forward/handler.ts');
    const event: FirehoseTransformationEvent = {
      invocationId: 'i',
      deliveryStreamArn: 'arn:aws:firehose:us-east-1:123456789012:deliverystream/kw-fwd-splunk',
      region: 'us-east-1',
      records: [{ recordId: 'r1', approximateArrivalTimestamp: 0, data: Buffer.from(JSON.stringify(finding())).toString('base64') }],
    };
    const out = await handler(event, context);
    expect(out.records[0]?.result).toBe('Ok');
    expect(JSON.parse(Buffer.from(out.records[0]?.data ?? '', 'base64').toString('utf8'))).toMatchObject({ index: 'buildkite', sourcetype: 'ocsf:detection_finding' });
  });

  it('Security Hub forwarder: the middy handler imports into Security Hub (moto)', async () => {
    const { handler } = await import('../../lambdas/securityhub/handler.ts');
    const uid = uniqueName('handler');
    const f = finding();
    (f['finding_info'] as { uid: string }).uid = uid;
    const event: SQSEvent = {
      Records: [
        {
          messageId: 'm1',
          receiptHandle: 'r',
          body: JSON.stringify({ 'detail-type': 'OCSF Detection Finding', source: 'kitewatch', detail: f }),
          attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 's', ApproximateFirstReceiveTimestamp: '0' },
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:q',
          awsRegion: 'us-east-1',
        },
      ],
    };
    const out = await handler(event, context);
    expect(out.batchItemFailures).toEqual([]);
    const client = new SecurityHubClient(awsClientConfig());
    const all = await client.send(new GetFindingsCommand({ MaxResults: 100 }));
    client.destroy();
    let found = (all.Findings ?? []).some((x) => x.Id === asffId(uid));
    for (let token = all.NextToken, page = 0; !found && token !== undefined && token !== '' && page < 100; page++) {
      const c = new SecurityHubClient(awsClientConfig());
      const next = await c.send(new GetFindingsCommand({ MaxResults: 100, NextToken: token }));
      c.destroy();
      found = (next.Findings ?? []).some((x) => x.Id === asffId(uid));
      token = next.NextToken;
    }
    expect(found).toBe(true);
  });
});
