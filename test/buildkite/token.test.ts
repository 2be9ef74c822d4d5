import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SdkLoadError } from '../../lib/aws/lazy.ts';
import { MissingBuildkiteTokenError } from '../../lib/buildkite/errors.ts';
import { envTokenProvider, secretsManagerTokenProvider } from '../../lib/buildkite/token.ts';
import { recording } from '../containment/helpers.ts';
import { awsClientConfig, uniqueName } from '../support/moto.ts';

let sm: SecretsManagerClient;

beforeAll(() => {
  sm = new SecretsManagerClient(awsClientConfig());
});
afterAll(() => sm.destroy());

describe('token providers', () => {
  it('lets an AWS SDK that did not load fail the call as itself, not as a missing token (the delivery is retried)', async () => {
    const broken = { send: async () => Promise.reject(new SdkLoadError('could not load @aws-sdk/client-secrets-manager: EMFILE')) };
    const p = secretsManagerTokenProvider({ client: broken, secretId: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bk-AbCdEf' });
    await expect(p.token()).rejects.toBeInstanceOf(SdkLoadError);
    const denied = { send: async () => Promise.reject(Object.assign(new Error('no'), { name: 'AccessDeniedException' })) };
    await expect(secretsManagerTokenProvider({ client: denied, secretId: 's' }).token()).rejects.toBeInstanceOf(MissingBuildkiteTokenError);
  });

  it('reads BUILDKITE_API_TOKEN at each call and names the variable when it is missing', async () => {
    const env: NodeJS.ProcessEnv = {};
    const p = envTokenProvider(env);
    await expect(p.token()).rejects.toBeInstanceOf(MissingBuildkiteTokenError);
    env['BUILDKITE_API_TOKEN'] = '  bkua_abc  ';
    await expect(p.token()).resolves.toBe('bkua_abc');
    expect(p.source).toBe('BUILDKITE_API_TOKEN');
  });

  it('reads the token from Secrets Manager (AWSCURRENT), caches it, and refetches after the TTL', async () => {
    const name = uniqueName('bk-api-token');
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'bkua_first_value_0000000000000000' }));
    const { client, sent } = recording(sm);
    let now = 1_000_000;
    const p = secretsManagerTokenProvider({ client, secretId: name, ttlMs: 60_000, now: () => now });
    const [a, b] = await Promise.all([p.token(), p.token()]);
    expect(a).toBe('bkua_first_value_0000000000000000');
    expect(b).toBe(a);
    expect(sent.map((c) => c.name)).toEqual(['GetSecretValue']);
    await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: JSON.stringify({ token: 'bkua_second_value_000000000000000' }) }));
    now += 30_000;
    expect(await p.token()).toBe('bkua_first_value_0000000000000000');
    now += 31_000;
    expect(await p.token()).toBe('bkua_second_value_000000000000000');
    expect(sent).toHaveLength(2);
    expect(p.source).toBe(`secret ${name}`);
  });

  it('a missing secret is a MissingBuildkiteTokenError naming the secret, not the SDK message', async () => {
    const p = secretsManagerTokenProvider({ client: sm, secretId: uniqueName('absent') });
    const error = await p.token().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingBuildkiteTokenError);
    expect((error as Error).message).toMatch(/missing Buildkite API token: secret absent-.* \(ResourceNotFoundException\)/);
  });
});
