import { describe, expect, it } from 'vitest';
import { describeIssues, parseConfig } from '../../lib/config/load.ts';
import { arnProblems } from '../../lib/infra/arn-checks.ts';
import { TEST_CONFIG } from '../infra/support/synth.ts';
import { FORWARDED_CLASSES, ForwardingConfig } from '../../lib/forward/config.ts';
import { securityLakeSources, StreamConfigError } from '../../lib/forward/firehose-streams.ts';
import { securityLakeSourceName } from '../../lib/forward/s3-layout.ts';

/**
 * Security Lake's CreateCustomLogSource: sourceName matches ^[\w\-\_\:\.]*$ and must be at most
 * 20 characters, because it becomes part of the provider role AmazonSecurityLake-Provider-<name>-<region>
 * (IAM role names: 64 characters, no ':'). https://docs.aws.amazon.com/security-lake/latest/APIReference/API_CreateCustomLogSource.html
 */
const DOCUMENTED = /^[\w\-_:.]*$/;

const lakeConfig = (securityLake: Record<string, unknown>): unknown => ({
  destinations: { s3: { layout: 'security-lake', securityLake: { bucketName: 'aws-security-data-lake-eu-west-1-abc', ...securityLake } } },
});

describe('Security Lake custom source names', () => {
  it('every default name is at most 20 characters of the documented pattern, and unique', () => {
    const config = ForwardingConfig.parse(lakeConfig({}));
    const lake = config.destinations.s3?.securityLake;
    expect(lake?.classes).toEqual([...FORWARDED_CLASSES]);
    const names = FORWARDED_CLASSES.map((c) => securityLakeSourceName(c, lake ?? { sourceName: '' }));
    for (const name of names) {
      expect(name.length, name).toBeLessThanOrEqual(20);
      expect(name).toMatch(DOCUMENTED);
      expect(name).not.toContain(':');
    }
    expect(new Set(names).size).toBe(names.length);
  });

  it('names the defaults kw-<short class>, stable', () => {
    const lake = ForwardingConfig.parse(lakeConfig({})).destinations.s3?.securityLake ?? { sourceName: '' };
    expect(FORWARDED_CLASSES.map((c) => securityLakeSourceName(c, lake))).toEqual([
      'kw-finding',
      'kw-acct-change',
      'kw-authn',
      'kw-entity-mgmt',
      'kw-user-access',
      'kw-group-mgmt',
      'kw-api',
      'kw-remediation',
    ]);
  });

  it.each([
    [{ sourceNames: { '6003': 'kitewatch-api-activity' } }, /sourceNames\.6003: .*at most 20/],
    [{ sourceNames: { '6003': 'bk:api' } }, /sourceNames\.6003: /],
    [{ sourceNames: { '6003': 'kw-finding' } }, /"kw-finding" is used by classes 2004 and 6003/],
    [
      { sourceName: 'kitewatch-prod' },
      /securityLake\.sourceName: custom source name "kitewatch-prod-finding" \(class 2004\) is 22 characters.*shorten sourceName to at most 12 characters, or set sourceNames\["2004"\]/,
    ],
  ])('refuses %j at synth with the name and the fix', (securityLake, message) => {
    const parsed = ForwardingConfig.safeParse(lakeConfig(securityLake));
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(describeIssues(parsed.error)).toMatch(message);
  });

  it('accepts a longer base when the classes chosen still fit', () => {
    const parsed = ForwardingConfig.safeParse(lakeConfig({ sourceName: 'kitewatch-prod', classes: [6003, 3002] }));
    expect(parsed.success).toBe(true);
  });

  it('securityLakeSources refuses hand-built options the schema would refuse', () => {
    const lake = { ...ForwardingConfig.parse(lakeConfig({})).destinations.s3!.securityLake!, sourceName: 'kitewatch' };
    expect(() => securityLakeSources(lake, { accountId: '123456789012', region: 'eu-west-1' })).toThrow(StreamConfigError);
  });

  it('checks the lake key ARN at synth: a KMS key, in the lake region', () => {
    const withKey = (kmsKeyArn: string, region?: string): string[] => arnProblems(parseConfig({ ...TEST_CONFIG, forwarding: lakeConfig({ kmsKeyArn, ...(region === undefined ? {} : { region }) }) }));
    const key = (region: string): string => `arn:aws:kms:${region}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    expect(withKey(key(TEST_CONFIG.aws.region))).toEqual([]);
    expect(withKey(key('us-east-1'))).toEqual([expect.stringMatching(/^forwarding\.destinations\.s3\.securityLake\.kmsKeyArn: .* is in region us-east-1, but aws\.region is/)]);
    expect(withKey(key('us-east-1'), 'us-east-1')).toEqual([]);
    expect(() => withKey('arn:aws:s3:::bucket')).toThrow(/securityLake\.kmsKeyArn: must be a KMS key ARN/);
  });
});
