import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { describeIssues, parseConfig } from '../../lib/config/load.ts';
import { ForwardingConfig } from '../../lib/forward/config.ts';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kitewatch/hec-AbCdEf';

function issues(value: unknown): string {
  const r = ForwardingConfig.safeParse(value);
  if (r.success) throw new Error('expected a failure');
  return describeIssues(r.error);
}

describe('forwarding config', () => {
  it('defaults: no destinations, Security Hub off', () => {
    expect(ForwardingConfig.parse(undefined)).toEqual({
      destinations: { http: [], securityHub: { enabled: false, batchSize: 100, maxBatchingWindowSeconds: 5 } },
      backupRetentionDays: 365,
      alarmFreshnessSeconds: 900,
    });
    expect(parseConfig({}).forwarding.destinations.http).toEqual([]);
  });

  it('fills the documented defaults of each destination', () => {
    const c = ForwardingConfig.parse({
      destinations: {
        splunkHec: { endpoint: 'https://splunk.example:8088', tokenSecretArn: ARN },
        http: [{ name: 'datadog', endpoint: 'https://intake.example/v1/input?x=1', accessKeySecretArn: ARN }],
        s3: {},
        securityHub: { enabled: true },
      },
    });
    expect(c.destinations.splunkHec).toEqual({
      endpoint: 'https://splunk.example:8088',
      tokenSecretArn: ARN,
      sourcetypePrefix: 'ocsf:',
      ackTimeoutSeconds: 180,
      retryDurationSeconds: 3600,
      buffering: { intervalSeconds: 60, sizeMiB: 5 },
    });
    expect(c.destinations.http[0]).toMatchObject({ contentEncoding: 'GZIP', commonAttributes: {}, retryDurationSeconds: 3600, buffering: { intervalSeconds: 60, sizeMiB: 1 } });
    expect(c.destinations.s3).toEqual({ layout: 'ocsf', prefix: 'ocsf/', compression: 'GZIP', buffering: { intervalSeconds: 300, sizeMiB: 128 } });
    expect(c.destinations.securityHub.enabled).toBe(true);
  });

  it('unknown keys are errors that name the key', () => {
    expect(issues({ destinations: { splunk: {} } })).toBe('unknown key "destinations.splunk"');
    expect(issues({ destinations: { splunkHec: { endpoint: 'https://s.example', tokenSecretArn: ARN, token: 'x' } } })).toBe('unknown key "destinations.splunkHec.token"');
    expect(() => parseConfig({ forwarding: { bogus: 1 } })).toThrow('unknown key "forwarding.bogus"');
  });

  it.each([
    [{ splunkHec: { endpoint: 'http://splunk.example:8088', tokenSecretArn: ARN } }, /destinations.splunkHec.endpoint: must use https:\/\//],
    [{ splunkHec: { endpoint: 'https://splunk.example?token=x', tokenSecretArn: ARN } }, /must not have a \?query/],
    [{ splunkHec: { endpoint: 'https://u:p@splunk.example', tokenSecretArn: ARN } }, /must not carry credentials/],
    [{ splunkHec: { endpoint: 'https://splunk.example', tokenSecretArn: 'my-token' } }, /tokenSecretArn: must be a Secrets Manager secret ARN/],
    [{ splunkHec: { endpoint: 'https://splunk.example', tokenSecretArn: ARN, index: 'Main' } }, /index: a Splunk index name/],
    [{ splunkHec: { endpoint: 'https://splunk.example', tokenSecretArn: ARN, buffering: { intervalSeconds: 300 } } }, /buffering.intervalSeconds/],
    [{ http: [{ name: 'Datadog', endpoint: 'https://x.example', accessKeySecretArn: ARN }] }, /http.0.name/],
    [
      {
        http: [
          { name: 'a', endpoint: 'https://x.example', accessKeySecretArn: ARN },
          { name: 'a', endpoint: 'https://y.example', accessKeySecretArn: ARN },
        ],
      },
      /http.1.name: "a" is used twice/,
    ],
    [{ s3: { layout: 'security-lake' } }, /s3.securityLake: is required with layout "security-lake"/],
    [{ s3: { securityLake: { bucketName: 'aws-security-data-lake-x' } } }, /only applies with layout "security-lake"/],
    [{ s3: { layout: 'security-lake', securityLake: { bucketName: 'b-1', classes: [1001] } } }, /securityLake.classes.0/],
    [{ s3: { prefix: 'ocsf' } }, /s3.prefix: path segments ending with "\/"/],
    [{ s3: { buffering: { sizeMiB: 16 } } }, /s3.buffering.sizeMiB/],
    [{ securityHub: { enabled: true, batchSize: 50, maxBatchingWindowSeconds: 0 } }, /maxBatchingWindowSeconds: SQS allows a batchSize above 10/],
  ])('refuses %j', (destinations, message) => {
    expect(issues({ destinations })).toMatch(message);
  });

  it('every key is described (docs/configuration.md is generated from them)', () => {
    const schema = z.toJSONSchema(ForwardingConfig, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    const missing: string[] = [];
    const walk = (s: Record<string, unknown>, path: string, described: boolean): void => {
      const props = s['properties'] as Record<string, Record<string, unknown>> | undefined;
      if (path !== '' && !described && typeof s['description'] !== 'string') missing.push(path);
      for (const [k, v] of Object.entries(props ?? {})) walk(v, path === '' ? k : `${path}.${k}`, false);
      const items = s['items'] as Record<string, unknown> | undefined;
      if (items !== undefined) walk(items, `${path}[]`, true);
      for (const alt of (s['anyOf'] as Record<string, unknown>[] | undefined) ?? []) walk(alt, path, true);
    };
    walk(schema, '', true);
    expect(missing).toEqual([]);
  });
});
