import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  eventDay,
  expandFirehosePrefix,
  firehoseErrorPrefix,
  firehoseOcsfPrefix,
  firehoseSecurityLakePrefix,
  ocsfObjectKey,
  ocsfPartition,
  securityLakeObjectKey,
  securityLakeSourceName,
} from '../../lib/forward/s3-layout.ts';
import { finding } from './helpers.ts';

describe('S3 layouts', () => {
  it('ocsf: partitioned by class name and UTC event day', () => {
    const p = ocsfPartition(finding());
    expect(p).toEqual({ className: 'detection_finding', eventDay: '20240819' });
    expect(ocsfObjectKey('ocsf/', p, 'part-0001.ndjson.gz')).toBe('ocsf/class=detection_finding/eventDay=20240819/part-0001.ndjson.gz');
    expect(ocsfPartition({ class_uid: 4001, time: 0 })).toEqual({ className: 'class_4001', eventDay: '19700101' });
  });

  it('Security Lake custom source: ext/<source>/region=/accountId=/eventDay=YYYYMMDD/', () => {
    const source = { sourceName: securityLakeSourceName(6003, { sourceName: 'kw' }), region: 'eu-west-1', accountId: '123456789012' };
    expect(source.sourceName).toBe('kw-api');
    expect(securityLakeObjectKey(source, '20240819', 'a.parquet')).toBe('ext/kw-api/region=eu-west-1/accountId=123456789012/eventDay=20240819/a.parquet');
    expect(securityLakeObjectKey({ ...source, sourceVersion: '1.0' }, '20240819', 'a.parquet')).toBe('ext/kw-api/1.0/region=eu-west-1/accountId=123456789012/eventDay=20240819/a.parquet');
    expect(securityLakeSourceName(6003, { sourceName: 'kw', sourceNames: { '6003': 'bk-api' } })).toBe('bk-api');
  });

  it('the Firehose prefixes are the same layouts with partition-key placeholders', () => {
    expect(firehoseOcsfPrefix('ocsf/')).toBe('ocsf/class=!{partitionKeyFromLambda:class}/eventDay=!{partitionKeyFromLambda:eventDay}/');
    expect(firehoseSecurityLakePrefix({ sourceName: 's', region: 'r', accountId: 'a' })).toBe('ext/s/region=r/accountId=a/eventDay=!{partitionKeyFromLambda:eventDay}/');
    expect(firehoseErrorPrefix('errors/')).toBe('errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/');
    expect(() => expandFirehosePrefix(firehoseOcsfPrefix('x/'), { class: 'a' })).toThrow(/eventDay/);
  });

  it('eventDay is the UTC calendar day for any time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (ms) => {
        const day = eventDay(ms);
        expect(day).toMatch(/^\d{8}$/);
        expect(day).toBe(new Date(ms).toISOString().slice(0, 10).replaceAll('-', ''));
      }),
    );
    expect(() => eventDay(Number.NaN)).toThrow(RangeError);
  });
});
