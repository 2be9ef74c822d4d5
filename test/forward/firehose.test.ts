import { randomUUID } from 'node:crypto';
import { CreateDeliveryStreamCommand, DeleteDeliveryStreamCommand, FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { FirehoseTransformationEvent, FirehoseTransformationResultRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForwardingConfig } from '../../lib/forward/config.ts';
import { transformFirehoseRecords, streamNameOf, type StreamRoute } from '../../lib/forward/firehose.ts';
import { deliveryStreams, transformRoutes, type DeliveryStreamSpec, type StreamRefs } from '../../lib/forward/firehose-streams.ts';
import { hecEventProblems, sourcetypeFor } from '../../lib/forward/hec.ts';
import { expandFirehosePrefix, ocsfPartition, ocsfPrefix, securityLakePrefix } from '../../lib/forward/s3-layout.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { parseForwardEnv } from '../../lambdas/forward/env.ts';
import { createTransformer } from '../../lambdas/forward/process.ts';
import { FakeSiem } from '../support/fake-siem.ts';
import { awsClientConfig, uniqueName } from '../support/moto.ts';
import { finding, manyEvents, recordingLogger, recordingMetrics, uids } from './helpers.ts';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

function refs(namePrefix: string, extra: Partial<StreamRefs> = {}): StreamRefs {
  return {
    namePrefix,
    region: REGION,
    accountId: ACCOUNT,
    deliveryRoleArn: `arn:aws:iam::${ACCOUNT}:role/kitewatch-firehose`,
    backupBucketArn: `arn:aws:s3:::${namePrefix}-backup`,
    transformFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:kitewatch-forward`,
    ...extra,
  };
}

/** What EventBridge hands Firehose with InputPath $.detail: one OCSF event per record. */
function firehoseEvent(streamName: string, events: readonly unknown[]): FirehoseTransformationEvent {
  return {
    invocationId: randomUUID(),
    deliveryStreamArn: `arn:aws:firehose:${REGION}:${ACCOUNT}:deliverystream/${streamName}`,
    region: REGION,
    records: events.map((e, i) => ({
      recordId: `r${i}`,
      approximateArrivalTimestamp: 1724044697000,
      data: Buffer.from(typeof e === 'string' ? e : JSON.stringify(e), 'utf8').toString('base64'),
    })),
  };
}

function decode(r: FirehoseTransformationResultRecord): string {
  return Buffer.from(r.data ?? '', 'base64').toString('utf8');
}

describe('Firehose record transform', () => {
  const events = manyEvents(20);

  it('splunk-hec: one HEC event per record, as Splunk accepts it', () => {
    const out = transformFirehoseRecords(firehoseEvent('s', events), { format: 'splunk-hec', index: 'security', sourcetypePrefix: 'ocsf:' });
    expect(out.ok).toBe(20);
    out.result.records.forEach((r, i) => {
      expect(r.result).toBe('Ok');
      const hec = JSON.parse(decode(r)) as Record<string, unknown>;
      expect(hecEventProblems(hec)).toEqual([]);
      expect(hec).toMatchObject({ index: 'security', source: 'kitewatch', sourcetype: sourcetypeFor((events[i] as OcsfEvent).class_uid) });
      expect(hec['event']).toEqual(events[i]);
    });
  });

  it('ndjson: the OCSF event as one line', () => {
    const out = transformFirehoseRecords(firehoseEvent('s', events), { format: 'ndjson' });
    expect(out.result.records.map(decode).join('')).toBe(events.map((e) => `${JSON.stringify(e)}\n`).join(''));
    expect(out.result.records.every((r) => r.metadata === undefined)).toBe(true);
  });

  it('s3-ocsf: NDJSON lines with the class and eventDay partition keys of the layout', () => {
    const out = transformFirehoseRecords(firehoseEvent('s', events), { format: 's3-ocsf' });
    out.result.records.forEach((r, i) => {
      const e = events[i] as OcsfEvent;
      expect(r.metadata?.partitionKeys).toEqual({ class: ocsfPartition(e).className, eventDay: ocsfPartition(e).eventDay });
      // What Firehose makes of the stream's Prefix with these keys is the documented layout.
      expect(expandFirehosePrefix('ocsf/class=!{partitionKeyFromLambda:class}/eventDay=!{partitionKeyFromLambda:eventDay}/', r.metadata?.partitionKeys ?? {})).toBe(
        ocsfPrefix('ocsf/', ocsfPartition(e)),
      );
    });
  });

  it('security-lake: only its own class; others fail into the error prefix', () => {
    const mixed = [finding(), ...events.slice(0, 3)];
    const out = transformFirehoseRecords(firehoseEvent('s', mixed), { format: 'security-lake', classUid: 2004 });
    expect(out.result.records.map((r) => r.result)).toEqual(['Ok', 'ProcessingFailed', 'ProcessingFailed', 'ProcessingFailed']);
    expect(out.result.records[0]?.metadata?.partitionKeys).toEqual({ eventDay: '20240819' });
    expect(out.failed[0]?.reason).toMatch(/does not belong to this Security Lake source/);
  });

  it('accepts the whole EventBridge event too, fails what is not OCSF, drops a repeated uid', () => {
    const envelope = { version: '0', id: 'x', 'detail-type': 'OCSF Event', source: 'kitewatch', detail: events[0] };
    const out = transformFirehoseRecords(firehoseEvent('s', [envelope, '{"not":"ocsf"}', 'garbage', events[0]]), { format: 'ndjson' });
    expect(out.result.records.map((r) => r.result)).toEqual(['Ok', 'ProcessingFailed', 'ProcessingFailed', 'Dropped']);
    expect(decode(out.result.records[0] as FirehoseTransformationResultRecord)).toBe(`${JSON.stringify(events[0])}\n`);
    // A failed record keeps its original data, so the backup holds exactly what came in.
    expect(out.result.records[2]?.data).toBe(Buffer.from('garbage').toString('base64'));
    expect(out).toMatchObject({ ok: 1, dropped: 1 });
    expect(out.failed.map((f) => f.recordId)).toEqual(['r1', 'r2']);
  });

  it('the transform function routes by stream name, and fails the records of an unknown stream', async () => {
    const metrics = recordingMetrics();
    const log = recordingLogger();
    const routes: Record<string, StreamRoute> = { 'kw-fwd-splunk': { format: 'splunk-hec' }, 'kw-fwd-s3': { format: 's3-ocsf' } };
    const t = createTransformer({ routes, logger: log.logger, metrics: metrics.metrics });
    const hec = await t.handle(firehoseEvent('kw-fwd-splunk', events.slice(0, 2)));
    expect(JSON.parse(decode(hec.records[0] as FirehoseTransformationResultRecord))).toHaveProperty('sourcetype');
    const unknown = await t.handle(firehoseEvent('someone-elses-stream', events.slice(0, 2)));
    expect(unknown.records.map((r) => r.result)).toEqual(['ProcessingFailed', 'ProcessingFailed']);
    expect(metrics.added.get('ForwardRecordsTransformed')).toBe(2);
    expect(metrics.added.get('ForwardRecordsFailed')).toBe(2);
    // Logs name records and reasons, never their content.
    // A planted token-shaped value, assembled so that no token literal sits in the source.
    await t.handle(firehoseEvent('kw-fwd-s3', [JSON.stringify({ secret: ['bkua', '0123456789abcdef0123'].join('_') })]));
    expect(log.lines.join('\n')).not.toContain('bkua_');
    expect(streamNameOf('arn:aws:firehose:us-east-1:123456789012:deliverystream/kw-fwd-s3')).toBe('kw-fwd-s3');
  });

  it('KITEWATCH_FORWARD_ROUTES is parsed once, strictly', () => {
    expect(parseForwardEnv({ KITEWATCH_FORWARD_ROUTES: '{"a-fwd-s3":{"format":"s3-ocsf"}}' }).routes).toEqual({ 'a-fwd-s3': { format: 's3-ocsf' } });
    expect(() => parseForwardEnv({})).toThrow(/KITEWATCH_FORWARD_ROUTES/);
    expect(() => parseForwardEnv({ KITEWATCH_FORWARD_ROUTES: '{' })).toThrow(/not valid JSON/);
    expect(() => parseForwardEnv({ KITEWATCH_FORWARD_ROUTES: '{"x":{"format":"security-lake"}}' })).toThrow(/classUid/);
    expect(() => parseForwardEnv({ KITEWATCH_FORWARD_ROUTES: '{"x":{"format":"csv"}}' })).toThrow(/format/);
  });
});

describe('delivery streams from the forwarding config', () => {
  const config = ForwardingConfig.parse({
    destinations: {
      splunkHec: { endpoint: 'https://http-inputs-firehose-acme.splunkcloud.com:443', tokenSecretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:kitewatch/hec-AbCdEf`, index: 'buildkite' },
      http: [
        {
          name: 'datadog',
          endpoint: 'https://aws-kinesis-http-intake.logs.datadoghq.eu/v1/input',
          accessKeySecretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:kitewatch/dd-AbCdEf`,
          commonAttributes: { env: 'prod' },
        },
      ],
      s3: { layout: 'ocsf', prefix: 'ocsf/' },
    },
  });

  it('one stream per destination, each backing up to the encrypted bucket, with its route', () => {
    const specs = deliveryStreams(config, refs('kitewatch', { forwardingBucketArn: 'arn:aws:s3:::kitewatch-forwarding', kmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/k' }));
    expect(specs.map((s) => [s.name, s.kind])).toEqual([
      ['kitewatch-fwd-splunk', 'splunk'],
      ['kitewatch-fwd-http-datadog', 'http'],
      ['kitewatch-fwd-s3', 's3'],
    ]);
    expect(transformRoutes(specs)).toEqual({
      'kitewatch-fwd-splunk': { format: 'splunk-hec', index: 'buildkite', sourcetypePrefix: 'ocsf:' },
      'kitewatch-fwd-http-datadog': { format: 'ndjson' },
      'kitewatch-fwd-s3': { format: 's3-ocsf' },
    });
    const splunk = specs[0]?.input.SplunkDestinationConfiguration;
    expect(splunk).toMatchObject({
      HECEndpointType: 'Event',
      S3BackupMode: 'FailedEventsOnly',
      SecretsManagerConfiguration: { Enabled: true, SecretARN: config.destinations.splunkHec?.tokenSecretArn },
      S3Configuration: { BucketARN: 'arn:aws:s3:::kitewatch-backup', EncryptionConfiguration: { KMSEncryptionConfig: { AWSKMSKeyARN: 'arn:aws:kms:us-east-1:123456789012:key/k' } } },
      RetryOptions: { DurationInSeconds: 3600 },
    });
    expect(splunk).not.toHaveProperty('HECToken');
    expect(specs[1]?.input.HttpEndpointDestinationConfiguration).toMatchObject({
      S3BackupMode: 'FailedDataOnly',
      EndpointConfiguration: { Url: 'https://aws-kinesis-http-intake.logs.datadoghq.eu/v1/input', Name: 'datadog' },
      RequestConfiguration: { ContentEncoding: 'GZIP', CommonAttributes: [{ AttributeName: 'env', AttributeValue: 'prod' }] },
    });
    expect(specs[1]?.input.HttpEndpointDestinationConfiguration?.EndpointConfiguration).not.toHaveProperty('AccessKey');
    expect(specs[2]?.input.ExtendedS3DestinationConfiguration).toMatchObject({
      BucketARN: 'arn:aws:s3:::kitewatch-forwarding',
      Prefix: 'ocsf/class=!{partitionKeyFromLambda:class}/eventDay=!{partitionKeyFromLambda:eventDay}/',
      DynamicPartitioningConfiguration: { Enabled: true },
      FileExtension: '.ndjson.gz',
    });
    for (const s of specs) expect(JSON.stringify(s.input)).toContain(':function:kitewatch-forward');
    expect(specs[0]?.metrics.backedUp).toEqual({ namespace: 'AWS/Firehose', metricName: 'BackupToS3.Records', statistic: 'Sum' });
  });

  it('security-lake: one stream per class, Parquet into ext/<source>/region=/accountId=/eventDay=', () => {
    const lake = ForwardingConfig.parse({
      destinations: { s3: { layout: 'security-lake', securityLake: { bucketName: 'aws-security-data-lake-us-east-1-abc123', classes: [2004, 6003], sourceNames: { '6003': 'bk-api' } } } },
    });
    const specs = deliveryStreams(lake, refs('kitewatch', { glue: { databaseName: 'kitewatch', tableName: (c) => `ocsf_${c}` } }));
    expect(specs.map((s) => [s.name, s.classUids, s.route])).toEqual([
      ['kitewatch-fwd-sl-detection-finding', [2004], { format: 'security-lake', classUid: 2004 }],
      ['kitewatch-fwd-sl-api-activity', [6003], { format: 'security-lake', classUid: 6003 }],
    ]);
    const dest = specs[1]?.input.ExtendedS3DestinationConfiguration;
    expect(dest?.Prefix).toBe('ext/bk-api/region=us-east-1/accountId=123456789012/eventDay=!{partitionKeyFromLambda:eventDay}/');
    expect(expandFirehosePrefix(dest?.Prefix ?? '', { eventDay: '20240819' })).toBe(securityLakePrefix({ sourceName: 'bk-api', region: REGION, accountId: ACCOUNT }, '20240819'));
    expect(specs[0]?.input.ExtendedS3DestinationConfiguration?.Prefix).toMatch(/^ext\/kw-finding\//);
    expect(dest?.DataFormatConversionConfiguration).toMatchObject({
      Enabled: true,
      OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'SNAPPY' } } },
      SchemaConfiguration: { DatabaseName: 'kitewatch', TableName: 'ocsf_6003' },
    });
    expect(() => deliveryStreams(lake, refs('kitewatch'))).toThrow(/Glue/);
    expect(() => deliveryStreams(lake, { ...refs('kitewatch', { glue: { databaseName: 'd', tableName: () => 't' } }), accountId: undefined as unknown as string })).toThrow(/accountId/);
  });
});

describe('Firehose end to end against moto (server mode, real SDK)', () => {
  let firehose: FirehoseClient;
  let s3: S3Client;
  let siem: FakeSiem;
  const created: string[] = [];

  beforeEach(async () => {
    firehose = new FirehoseClient(awsClientConfig());
    s3 = new S3Client({ ...awsClientConfig(), forcePathStyle: true });
    siem = await FakeSiem.start();
  });
  afterEach(async () => {
    for (const name of created.splice(0)) await firehose.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: name })).catch(() => undefined);
    await siem.close();
    firehose.destroy();
    s3.destroy();
  });
  afterAll(() => undefined);

  /** The transform as Firehose runs it, then the transformed records put as Firehose would deliver them. */
  async function deliver(spec: DeliveryStreamSpec, events: readonly OcsfEvent[]): Promise<FirehoseTransformationResultRecord[]> {
    const t = createTransformer({ routes: transformRoutes([spec]), logger: recordingLogger().logger, metrics: recordingMetrics().metrics });
    const out = await t.handle(firehoseEvent(spec.name, events));
    const ok = out.records.filter((r) => r.result === 'Ok');
    // moto runs no processors: put what the transform produced; at most 500 records per PutRecordBatch.
    for (let i = 0; i < ok.length; i += 500) {
      const res = await firehose.send(new PutRecordBatchCommand({ DeliveryStreamName: spec.name, Records: ok.slice(i, i + 500).map((r) => ({ Data: Buffer.from(r.data ?? '', 'base64') })) }));
      expect(res.FailedPutCount).toBe(0);
    }
    return ok;
  }

  it('S3, ocsf layout: the objects read back are exactly the events, as NDJSON', async () => {
    const bucket = uniqueName('kw-fwd').toLowerCase();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const prefix = uniqueName('kw').toLowerCase();
    const config = ForwardingConfig.parse({ destinations: { s3: { layout: 'ocsf', bucketName: bucket, prefix: `${prefix}/`, compression: 'UNCOMPRESSED' } } });
    const [spec] = deliveryStreams(config, refs(prefix));
    if (spec === undefined) throw new Error('no stream');
    await firehose.send(new CreateDeliveryStreamCommand(spec.input));
    created.push(spec.name);
    const events = manyEvents(120);
    const delivered = await deliver(spec, events);
    expect(delivered).toHaveLength(120);

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/` }));
    const keys = (listed.Contents ?? []).map((o) => o.Key as string).sort();
    expect(keys.length).toBeGreaterThan(0);
    let body = '';
    for (const key of keys) body += await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString();
    const lines = body.split('\n').filter((l) => l !== '');
    expect(lines.map((l) => JSON.parse(l) as OcsfEvent)).toEqual(events);
    // moto keeps the Prefix literally (no dynamic partitioning); real Firehose expands it per record:
    for (const [i, r] of delivered.entries()) {
      expect(expandFirehosePrefix(spec.input.ExtendedS3DestinationConfiguration?.Prefix ?? '', r.metadata?.partitionKeys ?? {})).toBe(ocsfPrefix(`${prefix}/`, ocsfPartition(events[i] as OcsfEvent)));
    }
  });

  it('HTTP endpoint: every event reaches the local server once, one OCSF line per Firehose record', async () => {
    const name = uniqueName('kw').toLowerCase();
    const config = ForwardingConfig.parse({
      destinations: { http: [{ name: 'local', endpoint: 'https://siem.example/firehose', accessKeySecretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:k-AbCdEf` }] },
    });
    const [spec] = deliveryStreams(config, refs(name));
    if (spec === undefined) throw new Error('no stream');
    // The config only allows https; moto delivers to the local test server over plain http.
    const input = structuredClone(spec.input);
    const endpoint = input.HttpEndpointDestinationConfiguration?.EndpointConfiguration;
    if (endpoint === undefined) throw new Error('no endpoint');
    endpoint.Url = siem.firehoseUrl;
    const backupBucket = `${name}-backup`;
    await s3.send(new CreateBucketCommand({ Bucket: backupBucket }));
    await firehose.send(new CreateDeliveryStreamCommand(input));
    created.push(spec.name);
    const events = manyEvents(60);
    await deliver(spec, [...events, ...events.slice(0, 5)]);
    expect(siem.requests.every((r) => r.path === '/firehose' && r.outcome === 200)).toBe(true);
    const arrived = siem.firehose.map((a) => JSON.parse(a.data) as OcsfEvent);
    expect(siem.firehose.every((a) => a.data.endsWith('\n'))).toBe(true);
    expect(uids(arrived)).toEqual(uids(events));
  });

  it('Splunk (moto has no Splunk destination): the transformed records, posted as Firehose posts them, are accepted by a HEC', async () => {
    const config = ForwardingConfig.parse({
      destinations: { splunkHec: { endpoint: 'https://splunk.example:8088', tokenSecretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:hec-AbCdEf` } },
    });
    const [spec] = deliveryStreams(config, refs('kw'));
    if (spec === undefined) throw new Error('no stream');
    const t = createTransformer({ routes: transformRoutes([spec]), logger: recordingLogger().logger, metrics: recordingMetrics().metrics });
    const events = manyEvents(50);
    const out = await t.handle(firehoseEvent(spec.name, events));
    const body = out.records.map(decode).join('');
    const res = await fetch(`${siem.baseUrl}/services/collector/event`, { method: 'POST', headers: { Authorization: `Splunk ${siem.hecToken}` }, body });
    expect(res.status).toBe(200);
    await res.body?.cancel();
    expect(uids(siem.hecEvents as { event: unknown }[])).toEqual(uids(events));
  });
});
