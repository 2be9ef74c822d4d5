import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SecurityLakeClient } from '@aws-sdk/client-securitylake';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLakeSources, physicalId, sendResponse, type LakeSources, type SourceProperties } from '../../lambdas/lake-sources/process.ts';
import { startFakeSecurityLake, type FakeSecurityLake } from '../support/fake-security-lake.ts';
import { recordingLogger } from './helpers.ts';

// moto (5.2.5) has no Security Lake backend: the handler runs against a local server that plays
// the documented REST API (test/support/fake-security-lake.ts), through the real SDK client.
const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const BUCKET = 'aws-security-data-lake-eu-west-1-abc';

const props = (over: Partial<SourceProperties> = {}): Record<string, unknown> => ({
  ServiceToken: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:kitewatch-lake-sources`,
  SourceName: 'kw-api',
  EventClasses: ['API_ACTIVITY'],
  CrawlerRoleArn: `arn:aws:iam::${ACCOUNT}:role/Kitewatch-Forwarding-LakeCrawlerRole`,
  ProviderPrincipal: ACCOUNT,
  ExternalId: 'kitewatch-lake',
  ...over,
});

const base = {
  ServiceToken: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:kitewatch-lake-sources`,
  ResponseURL: 'http://127.0.0.1:1/unused',
  StackId: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/Kitewatch-Forwarding/1`,
  RequestId: 'req-1',
  LogicalResourceId: 'SourceApi',
  ResourceType: 'Custom::KitewatchSecurityLakeSource',
};
const create = (p = props()): CloudFormationCustomResourceEvent => ({ ...base, RequestType: 'Create', ResourceProperties: p as never });
const update = (p: Record<string, unknown>, old: Record<string, unknown>, id: string): CloudFormationCustomResourceEvent => ({
  ...base,
  RequestType: 'Update',
  PhysicalResourceId: id,
  ResourceProperties: p as never,
  OldResourceProperties: old as never,
});
const del = (p: Record<string, unknown>, id: string): CloudFormationCustomResourceEvent => ({ ...base, RequestType: 'Delete', PhysicalResourceId: id, ResourceProperties: p as never });

describe('Security Lake custom source registration (Custom::KitewatchSecurityLakeSource)', () => {
  let lake: FakeSecurityLake;
  let sources: LakeSources;

  beforeAll(async () => {
    lake = await startFakeSecurityLake({ account: ACCOUNT, region: REGION, bucket: BUCKET });
    const client = new SecurityLakeClient({ region: REGION, endpoint: lake.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 });
    sources = createLakeSources({ client, account: ACCOUNT, region: REGION, logger: recordingLogger().logger });
  });
  afterAll(async () => lake.close());
  beforeEach(() => {
    lake.sources.clear();
    lake.calls.length = 0;
    lake.deny.clear();
    lake.dataLakeEnabled = true;
  });

  it('create: CreateCustomLogSource with the name, class, crawler role and provider identity; answers the provider role', async () => {
    const result = await sources.handle(create());
    expect(result).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: 'kw-api',
      Data: { SourceName: 'kw-api', ProviderRoleArn: `arn:aws:iam::${ACCOUNT}:role/AmazonSecurityLake-Provider-kw-api-${REGION}`, Location: `s3://${BUCKET}/ext/kw-api/` },
    });
    expect(lake.calls).toEqual([
      {
        method: 'POST',
        path: '/v1/datalake/logsources/custom',
        signed: true,
        body: {
          sourceName: 'kw-api',
          eventClasses: ['API_ACTIVITY'],
          configuration: { crawlerConfiguration: { roleArn: props()['CrawlerRoleArn'] }, providerIdentity: { principal: ACCOUNT, externalId: 'kitewatch-lake' } },
        },
      },
    ]);
  });

  it('create: a class Security Lake does not list is registered without eventClasses', async () => {
    const result = await sources.handle(create(props({ SourceName: 'kw-finding', EventClasses: [] })));
    expect(result.Status).toBe('SUCCESS');
    expect(lake.calls[0]?.body).not.toHaveProperty('eventClasses');
    expect(lake.sources.get('kw-finding\u0000')?.eventClasses).toBeUndefined();
  });

  it('create: a source that already exists is adopted (ConflictException, then ListLogSources finds it)', async () => {
    await sources.handle(create());
    lake.calls.length = 0;
    const again = await sources.handle(create());
    expect(again).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'kw-api', Data: { ProviderRoleArn: expect.stringContaining('AmazonSecurityLake-Provider-kw-api-') as unknown } });
    expect(lake.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['POST /v1/datalake/logsources/custom', 'POST /v1/datalake/logsources/list']);
    expect(lake.calls[1]?.body).toEqual({ accounts: [ACCOUNT], regions: [REGION], sources: [{ customLogSource: { sourceName: 'kw-api' } }] });
    expect(lake.sources.size).toBe(1);
  });

  it('create: access denied fails the resource with the operation, the error and what the role needs', async () => {
    lake.deny.add('CreateCustomLogSource');
    const result = await sources.handle(create());
    expect(result.Status).toBe('FAILED');
    expect(result.PhysicalResourceId).toBe('failed-req-1');
    expect(result.Reason).toMatch(
      /^Security Lake CreateCustomLogSource of custom source kw-api failed: AccessDeniedException: User is not authorized to perform: securitylake:CreateCustomLogSource\./,
    );
    expect(result.Reason).toMatch(/needs securitylake:CreateCustomLogSource/);
    expect(result.Reason?.length).toBeLessThanOrEqual(1000);
    // The rollback's Delete of that id touches nothing.
    lake.deny.clear();
    lake.calls.length = 0;
    expect(await sources.handle(del(props(), 'failed-req-1'))).toEqual({ Status: 'SUCCESS', PhysicalResourceId: 'failed-req-1' });
    expect(lake.calls).toEqual([]);
  });

  it('create: Security Lake not enabled in the Region says so', async () => {
    lake.dataLakeEnabled = false;
    const result = await sources.handle(create());
    expect(result).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/ResourceNotFoundException.*Is Security Lake enabled in this account and Region\?/) as unknown });
  });

  it('create: properties that are not a valid source are refused before any call', async () => {
    for (const bad of [props({ SourceName: 'kitewatch-api-activity' }), props({ SourceName: 'bk:api' }), props({ EventClasses: ['DETECTION_FINDING'] }), props({ CrawlerRoleArn: 'role' })]) {
      const result = await sources.handle(create(bad));
      expect(result.Status).toBe('FAILED');
      expect(result.Reason).toMatch(/^ResourceProperties are invalid: /);
    }
    expect(lake.calls).toEqual([]);
  });

  it('delete: DeleteCustomLogSource; a source already gone counts as deleted', async () => {
    await sources.handle(create(props({ SourceVersion: '1.0' })));
    expect(await sources.handle(del(props({ SourceVersion: '1.0' }), 'kw-api/1.0'))).toEqual({ Status: 'SUCCESS', PhysicalResourceId: 'kw-api/1.0' });
    expect(lake.calls.at(-1)).toMatchObject({ method: 'DELETE', path: '/v1/datalake/logsources/custom/kw-api?sourceVersion=1.0' });
    expect(lake.sources.size).toBe(0);
    expect(await sources.handle(del(props({ SourceVersion: '1.0' }), 'kw-api/1.0'))).toEqual({ Status: 'SUCCESS', PhysicalResourceId: 'kw-api/1.0' });
  });

  it('delete: access denied fails with the reason and keeps the id', async () => {
    await sources.handle(create());
    lake.deny.add('DeleteCustomLogSource');
    const result = await sources.handle(del(props(), 'kw-api'));
    expect(result).toMatchObject({
      Status: 'FAILED',
      PhysicalResourceId: 'kw-api',
      Reason: expect.stringMatching(/DeleteCustomLogSource of custom source kw-api failed: AccessDeniedException/) as unknown,
    });
    expect(lake.sources.size).toBe(1);
  });

  it('update: a new name creates the new source and answers its id; the old one goes when CloudFormation deletes it', async () => {
    await sources.handle(create());
    const result = await sources.handle(update(props({ SourceName: 'bk-api' }), props(), 'kw-api'));
    expect(result).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'bk-api' });
    expect([...lake.sources.values()].map((s) => s.sourceName).sort()).toEqual(['bk-api', 'kw-api']);
    // CloudFormation's cleanup after the update: Delete with the old properties and id.
    await sources.handle(del(props(), 'kw-api'));
    expect([...lake.sources.values()].map((s) => s.sourceName)).toEqual(['bk-api']);
  });

  it('update: the same name with another registration is registered again; nothing changed is a no-op create (adopt)', async () => {
    await sources.handle(create());
    const moved = props({ ExternalId: 'rotated-id' });
    expect(await sources.handle(update(moved, props(), 'kw-api'))).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'kw-api' });
    expect(lake.sources.get('kw-api\u0000')?.externalId).toBe('rotated-id');
    lake.calls.length = 0;
    expect(await sources.handle(update(moved, moved, 'kw-api'))).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'kw-api' });
    expect(lake.calls.some((c) => c.method === 'DELETE')).toBe(false);
  });

  it('answers CloudFormation with a PUT of the documented response object to the pre-signed URL', async () => {
    const received: { method?: string; contentType?: string; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        received.push({ method: req.method, contentType: req.headers['content-type'], body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cfn-response?X-Amz-Signature=abc`;
      const event = { ...create(), ResponseURL: url };
      await sendResponse(event, { Status: 'FAILED', PhysicalResourceId: 'failed-req-1', Reason: 'because' });
      expect(received).toHaveLength(1);
      expect(received[0]?.method).toBe('PUT');
      expect(received[0]?.contentType ?? '').toBe('');
      expect(JSON.parse(received[0]?.body ?? '{}')).toEqual({
        Status: 'FAILED',
        Reason: 'because',
        PhysicalResourceId: 'failed-req-1',
        StackId: base.StackId,
        RequestId: 'req-1',
        LogicalResourceId: 'SourceApi',
        NoEcho: false,
      });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('physical ids carry the version when there is one', () => {
    expect(physicalId({ SourceName: 'kw-api' })).toBe('kw-api');
    expect(physicalId({ SourceName: 'kw-api', SourceVersion: '2' })).toBe('kw-api/2');
  });
});

describe('the Lambda handler (lambdas/lake-sources/handler.ts), in process', () => {
  const saved = { ...process.env };
  let lake: FakeSecurityLake;
  const responses: unknown[] = [];
  let cfn: ReturnType<typeof createServer>;
  let responseUrl = '';

  beforeAll(async () => {
    lake = await startFakeSecurityLake({ account: ACCOUNT, region: REGION, bucket: BUCKET });
    cfn = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        responses.push(JSON.parse(body) as unknown);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => cfn.listen(0, '127.0.0.1', resolve));
    responseUrl = `http://127.0.0.1:${(cfn.address() as AddressInfo).port}/response`;
    Object.assign(process.env, {
      KITEWATCH_LAKE_ACCOUNT_ID: ACCOUNT,
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL_SECURITYLAKE: lake.endpoint,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      POWERTOOLS_SERVICE_NAME: 'lake-sources-test',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
  });
  afterAll(async () => {
    process.env = saved;
    await lake.close();
    await new Promise<void>((resolve) => cfn.close(() => resolve()));
  });

  it('registers the source and answers CloudFormation at the ResponseURL, also when Security Lake refuses', async () => {
    const { handler } = await import('../../lambdas/lake-sources/handler.ts');
    const context = { awsRequestId: 'req-1', functionName: 'kitewatch-lake-sources', getRemainingTimeInMillis: () => 60_000 } as Context;
    await handler({ ...create(), ResponseURL: responseUrl }, context);
    expect(lake.sources.has('kw-api\u0000')).toBe(true);
    expect(responses.at(-1)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'kw-api', RequestId: 'req-1', Data: { SourceName: 'kw-api' } });
    lake.deny.add('DeleteCustomLogSource');
    await handler({ ...del(props(), 'kw-api'), ResponseURL: responseUrl }, context);
    expect(responses.at(-1)).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'kw-api', Reason: expect.stringContaining('AccessDeniedException') as unknown });
  });
});
