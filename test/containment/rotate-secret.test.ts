import { randomUUID } from 'node:crypto';
import { CreateSecretCommand, DescribeSecretCommand, type DescribeSecretCommandOutput, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { IAMClient } from '@aws-sdk/client-iam';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BuildkiteClient } from '../../lib/buildkite/client.ts';
import { envTokenProvider } from '../../lib/buildkite/token.ts';
import type { KitewatchConfigInput } from '../../lib/config/schema.ts';
import { createContainStage } from '../../lib/containment/stage.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { SqliteState } from '../../lib/state/sqlite.ts';
import { createAgentTokenRotator } from '../../lambdas/rotate-agent-token/process.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';
import { awsClientConfig, uniqueName } from '../support/moto.ts';
import { expectValidOcsf } from '../support/ocsf-assertions.ts';
import { finding, recording, replayOptions, textOf, type SentCommand } from './helpers.ts';

let sm: SecretsManagerClient;
let iam: IAMClient;
let bk: FakeBuildkite;
let state: SqliteState;
let logs: string[];
/** Values planted in secrets; none may appear in an event, a report or a log line. */
let planted: string[];

async function createSecret(name: string, value: string, tags: Record<string, string> = {}): Promise<string> {
  planted.push(value);
  const out = await sm.send(new CreateSecretCommand({ Name: name, SecretString: value, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }));
  return out.ARN as string;
}

async function stages(id: string): Promise<Record<string, string[]>> {
  return (await sm.send(new DescribeSecretCommand({ SecretId: id }))).VersionIdsToStages ?? {};
}

async function current(id: string): Promise<string> {
  return (await sm.send(new GetSecretValueCommand({ SecretId: id, VersionStage: 'AWSCURRENT' }))).SecretString ?? '';
}

function contain(config: KitewatchConfigInput, smClient: Pick<SecretsManagerClient, 'send'> = sm, mode: 'dry-run' | 'enforce' = 'enforce') {
  return createContainStage(replayOptions({ mode, apiUrl: bk.url, graphqlUrl: bk.graphqlUrl, config }), state, {
    env: { BUILDKITE_API_TOKEN: bk.token },
    secretsManager: smClient,
    iam,
    log: (l) => void logs.push(l),
  });
}

function secretFinding(key: string, uid: string = randomUUID(), findingUid = `secret-access:${uid}`): OcsfEvent {
  return finding({ detector: 'secret-access', uid: findingUid, resources: [{ uid, name: key, type: 'Secret', role: 'target', data: { cluster_id: randomUUID() } }] });
}

beforeAll(() => {
  sm = new SecretsManagerClient(awsClientConfig());
  iam = new IAMClient(awsClientConfig());
});
afterAll(() => {
  sm.destroy();
  iam.destroy();
});
beforeEach(async () => {
  bk = await FakeBuildkite.start();
  state = new SqliteState({ path: ':memory:' });
  logs = [];
  planted = [bk.token];
});
afterEach(async () => {
  const newTokens = [...bk.clusters.values()].flatMap((c) => [...c.tokens.values()].map((t) => t.token));
  for (const value of [...planted, ...newTokens]) expect(logs.join('\n'), 'a log line leaked a secret value').not.toContain(value);
  await bk.close();
  await state.close();
});

describe('rotate-secret from a secret-access finding', () => {
  it('rotates the secret tagged with the Buildkite secret key (four-step protocol, random value)', async () => {
    const key = `DEPLOY_KEY_${randomUUID().slice(0, 8)}`;
    const arn = await createSecret(uniqueName('deploy-key'), 'old-deploy-key-value-1234567890', { 'kitewatch:buildkite-name': key });
    const before = await stages(arn);
    const f = secretFinding(key);
    const events = await contain({}).contain(f);
    expect(events).toHaveLength(1);
    const e = events[0] as OcsfEvent;
    expectValidOcsf(e);
    expect(e).toMatchObject({ command_uid: 'rotate-secret', activity_name: 'Harden', status: 'Success', status_detail: 'done' });
    expect(e.unmapped).toMatchObject({ kitewatch: { target: { type: 'SecretsManagerSecret', uid: arn, buildkite_name: key }, method: 'four-step', rotation: 'random', mapped_via: 'tag' } });
    const after = await stages(arn);
    const oldVersion = Object.keys(before)[0] as string;
    expect(after[oldVersion]).toEqual(['AWSPREVIOUS']);
    const newVersion = Object.entries(after).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
    expect(after[newVersion as string]).toEqual(['AWSCURRENT']); // no AWSPENDING left behind
    const value = await current(arn);
    expect(value).not.toBe('old-deploy-key-value-1234567890');
    expect(value).toMatch(/^[A-Za-z0-9]{40}$/);
    planted.push(value);
    expect(textOf(events)).not.toContain(value);
    expect(textOf(events)).not.toContain('old-deploy-key-value-1234567890');

    // Redelivery: the same event, no new version.
    const again = await contain({}).contain(structuredClone(f));
    expect(again).toEqual(events);
    expect(Object.keys(await stages(arn))).toHaveLength(2);
  });

  it('replaces only the configured JSON key of a config-mapped secret', async () => {
    const name = uniqueName('db');
    await createSecret(name, JSON.stringify({ username: 'app', password: 'hunter2-old-password', host: 'db.internal' }));
    const config: KitewatchConfigInput = { containment: { secretMappings: [{ buildkite: { name: 'DB_PASSWORD' }, secretsManager: [name], rotation: 'random', jsonKey: 'password' }] } };
    const [e] = await contain(config).contain(secretFinding('DB_PASSWORD'));
    expect(e).toMatchObject({ status_detail: 'done' });
    const doc = JSON.parse(await current(name)) as Record<string, string>;
    expect(doc['username']).toBe('app');
    expect(doc['host']).toBe('db.internal');
    expect(doc['password']).not.toBe('hunter2-old-password');
    planted.push(doc['password'] as string);
  });

  it('refuses to overwrite a JSON secret with no key to replace: Failure, no new version, no value in the message', async () => {
    const name = uniqueName('json');
    await createSecret(name, JSON.stringify({ token: 'json-secret-value-abc' }));
    const { client, sent } = recording(sm);
    const config: KitewatchConfigInput = { containment: { secretMappings: [{ buildkite: { name: 'X' }, secretsManager: [name] }] } };
    const [e] = await contain(config, client).contain(secretFinding('X'));
    expect(e).toMatchObject({ status: 'Failure' });
    expect(e?.status_detail).toContain('holds JSON; name the key to replace');
    expect(sent.map((c) => c.name)).not.toContain('PutSecretValue');
    expect(Object.keys(await stages(name))).toHaveLength(1);
    expect(textOf(e)).not.toContain('json-secret-value-abc');
  });

  it('uses RotateSecret where rotation is configured, with a deterministic ClientRequestToken', async () => {
    const name = uniqueName('with-lambda');
    const arn = await createSecret(name, 'value-with-rotation-lambda', { 'kitewatch:buildkite-uid': 'b1f2c3d4-0000-4000-8000-000000000001' });
    // moto cannot run a rotation Lambda (it needs Docker): report rotation as configured and answer RotateSecret.
    const { client, sent } = recording(sm, (c: SentCommand) => {
      if (c.name === 'DescribeSecret') {
        return sm
          .send(new DescribeSecretCommand({ SecretId: String(c.input['SecretId']) }))
          .then((d): DescribeSecretCommandOutput => ({ ...d, RotationEnabled: true, RotationLambdaARN: 'arn:aws:lambda:us-east-1:123456789012:function:rotate' }));
      }
      if (c.name === 'RotateSecret') return Promise.resolve({ ARN: arn, Name: name, VersionId: c.input['ClientRequestToken'] });
      return undefined;
    });
    const f = secretFinding('SOME_KEY', 'b1f2c3d4-0000-4000-8000-000000000001', 'f-rotate-lambda');
    const [e] = await contain({}, client).contain(f);
    expect(e).toMatchObject({ status_detail: 'done' });
    const rotate = sent.filter((c) => c.name === 'RotateSecret');
    expect(rotate).toHaveLength(1);
    expect(rotate[0]?.input).toMatchObject({ SecretId: arn, RotateImmediately: true });
    expect(String(rotate[0]?.input['ClientRequestToken'])).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent.map((c) => c.name)).not.toContain('PutSecretValue');
    expect(e?.unmapped).toMatchObject({ kitewatch: { method: 'RotateSecret' } });
  });

  it('dry-run calls neither Secrets Manager nor Buildkite', async () => {
    const { client, sent } = recording(sm);
    const config: KitewatchConfigInput = { containment: { secretMappings: [{ buildkite: { name: 'K' }, secretsManager: ['some/secret'] }] } };
    const events = await contain(config, client, 'dry-run').contain(secretFinding('K'));
    expect(events.map((e) => [e.status_detail, (e.unmapped as { kitewatch: { target: { uid: string } } }).kitewatch.target.uid])).toEqual([['dry-run', 'some/secret']]);
    const unmapped = await contain({}, client, 'dry-run').contain(secretFinding('UNMAPPED'));
    expect(unmapped.map((e) => e.status_detail)).toEqual(['dry-run']);
    expect(unmapped[0]?.message).toContain('kitewatch:buildkite-name=UNMAPPED');
    expect(sent).toEqual([]);
    expect(bk.calls).toEqual([]);
  });

  it('skips protected secrets (by Secrets Manager name or by Buildkite secret) and reports unmapped ones', async () => {
    const name = uniqueName('prot');
    await createSecret(name, 'protected-value-xyz', { 'kitewatch:buildkite-name': 'PROT_KEY' });
    const config: KitewatchConfigInput = {
      containment: {
        protected: [
          { type: 'SecretsManagerSecret', name: 'prot-*' },
          { type: 'Secret', name: 'ROOT_*' },
        ],
      },
    };
    const events = [
      ...(await contain(config).contain(secretFinding('PROT_KEY'))),
      ...(await contain(config).contain(secretFinding('ROOT_CA'))),
      ...(await contain(config).contain(secretFinding(`NOBODY_${randomUUID().slice(0, 6)}`))),
    ];
    expect(events.map((e) => e.status_detail)).toEqual(['skipped: protected', 'skipped: protected', 'skipped: no Secrets Manager secret mapped']);
    events.forEach(expectValidOcsf);
    expect(await current(name)).toBe('protected-value-xyz');
  });
});

describe('agent token secrets', () => {
  async function agentTokenSecret(): Promise<{ arn: string; clusterId: string; oldId: string; oldValue: string }> {
    const clusterId = bk.addCluster('Main');
    const old = bk.addClusterToken(clusterId, { description: 'Linux agents', allowed_ip_addresses: '10.0.0.0/8' });
    const arn = await createSecret(uniqueName('agent-token'), JSON.stringify({ token: old.token, token_id: old.id, cluster_id: clusterId, org: bk.org }), {
      'kitewatch:rotation': 'buildkite-agent-token',
      'kitewatch:buildkite-uid': old.id,
      'kitewatch:buildkite-type': 'ClusterToken',
    });
    return { arn, clusterId, oldId: old.id, oldValue: old.token };
  }

  it('rotate-secret creates a new cluster token, stores it, and revokes the old one only after the new one is current', async () => {
    const s = await agentTokenSecret();
    const order: string[] = [];
    const { client } = recording(sm, (c) => {
      order.push(`sm:${c.name}`);
      return undefined;
    });
    const bkCalls = (): void => {
      for (const call of bk.calls.slice(order.filter((o) => o.startsWith('bk:')).length)) order.push(`bk:${call.method} ${call.path.replace(/.*\/clusters\/[^/]+/, '')}`);
    };
    const config: KitewatchConfigInput = { containment: { policy: [{ detector: 'unusual-ip', actions: ['rotate-secret'] }] } };
    const st = contain(config, {
      send: (async (cmd: never) => {
        bkCalls();
        return client.send(cmd);
      }) as SecretsManagerClient['send'],
    });
    const [e] = await st.contain(finding({ detector: 'unusual-ip', resources: [{ uid: s.oldId, type: 'ClusterToken', role: 'target' }] }));
    bkCalls();
    expect(e).toMatchObject({ status_detail: 'done', command_uid: 'rotate-secret' });
    const stored = JSON.parse(await current(s.arn)) as { token: string; token_id: string; cluster_id: string };
    planted.push(stored.token);
    const cluster = bk.clusters.get(s.clusterId);
    expect(cluster?.tokens.has(s.oldId)).toBe(false);
    const fresh = cluster?.tokens.get(stored.token_id);
    expect(fresh?.token).toBe(stored.token);
    expect(fresh?.allowed_ip_addresses).toBe('10.0.0.0/8');
    expect(fresh?.description).toMatch(/^Linux agents \[kitewatch-rotation [0-9a-f-]{36}\]$/);
    expect(e?.unmapped).toMatchObject({ kitewatch: { new_token_id: stored.token_id, old_token_id: s.oldId, old_token: 'revoked' } });
    expect(textOf(e)).not.toContain(stored.token);
    expect(textOf(e)).not.toContain(s.oldValue);
    // Order: create the token, store it, promote it, then (and only then) revoke the old token.
    const idx = (x: string): number => order.findIndex((o) => o.startsWith(x));
    expect(idx('bk:POST /tokens')).toBeLessThan(idx('sm:PutSecretValue'));
    expect(idx('sm:UpdateSecretVersionStage')).toBeLessThan(idx('bk:DELETE'));
    expect(order.filter((o) => o.startsWith('bk:DELETE'))).toEqual([`bk:DELETE /tokens/${s.oldId}`]);
  });

  it('the rotation Lambda runs the four steps as Secrets Manager calls them, idempotently', async () => {
    const s = await agentTokenSecret();
    const { client } = recording(sm, (c) =>
      c.name === 'DescribeSecret' ? sm.send(new DescribeSecretCommand({ SecretId: String(c.input['SecretId']) })).then((d) => ({ ...d, RotationEnabled: true })) : undefined,
    );
    const lambdaLogs: string[] = [];
    const logger = { info: (...args: unknown[]) => void lambdaLogs.push(JSON.stringify(args)), warn: (...args: unknown[]) => void lambdaLogs.push(JSON.stringify(args)) };
    const buildkite = new BuildkiteClient({ apiUrl: bk.url, token: envTokenProvider({ BUILDKITE_API_TOKEN: bk.token }) });
    const rotate = createAgentTokenRotator({ secretsManager: client, buildkite, logger });
    const token = randomUUID();
    for (const Step of ['createSecret', 'createSecret', 'setSecret', 'testSecret', 'testSecret'] as const) {
      await rotate({ SecretId: s.arn, ClientRequestToken: token, Step });
    }
    expect(bk.clusters.get(s.clusterId)?.tokens.size).toBe(2); // created once despite the retry
    expect(bk.clusters.get(s.clusterId)?.tokens.has(s.oldId)).toBe(true); // not yet: the new one is not current
    await rotate({ SecretId: s.arn, ClientRequestToken: token, Step: 'finishSecret' });
    await rotate({ SecretId: s.arn, ClientRequestToken: token, Step: 'finishSecret' });
    const stored = JSON.parse(await current(s.arn)) as { token: string; token_id: string };
    planted.push(stored.token);
    expect((await stages(s.arn))[token]).toContain('AWSCURRENT');
    expect([...(bk.clusters.get(s.clusterId)?.tokens.keys() ?? [])]).toEqual([stored.token_id]);
    expect(bk.calls.filter((c) => c.method === 'DELETE').map((c) => c.status)).toEqual([204, 404]);
    for (const value of [...planted, stored.token]) expect(lambdaLogs.join('\n')).not.toContain(value);
    await expect(rotate({ SecretId: s.arn, Step: 'createSecret' })).rejects.toThrow(/ClientRequestToken/);
  });

  it('a retried createSecret revokes the token an interrupted attempt created (its value was lost)', async () => {
    const s = await agentTokenSecret();
    let failPut = true;
    const { client } = recording(sm, (c) => {
      if (c.name === 'DescribeSecret') return sm.send(new DescribeSecretCommand({ SecretId: String(c.input['SecretId']) })).then((d) => ({ ...d, RotationEnabled: true }));
      if (c.name === 'PutSecretValue' && failPut) {
        failPut = false;
        return Promise.reject(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
      }
      return undefined;
    });
    const buildkite = new BuildkiteClient({ apiUrl: bk.url, token: envTokenProvider({ BUILDKITE_API_TOKEN: bk.token }) });
    const rotate = createAgentTokenRotator({ secretsManager: client, buildkite, logger: { info: () => {}, warn: () => {} } });
    const token = randomUUID();
    await expect(rotate({ SecretId: s.arn, ClientRequestToken: token, Step: 'createSecret' })).rejects.toThrow('throttled');
    expect(bk.clusters.get(s.clusterId)?.tokens.size).toBe(2);
    await rotate({ SecretId: s.arn, ClientRequestToken: token, Step: 'createSecret' });
    const pending = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: s.arn, VersionId: token, VersionStage: 'AWSPENDING' }))).SecretString ?? '{}') as {
      token: string;
      token_id: string;
    };
    planted.push(pending.token);
    expect([...(bk.clusters.get(s.clusterId)?.tokens.keys() ?? [])].sort()).toEqual([s.oldId, pending.token_id].sort());
  });

  it('refuses to run on a secret without rotation enabled', async () => {
    const s = await agentTokenSecret();
    const buildkite = new BuildkiteClient({ apiUrl: bk.url, token: envTokenProvider({ BUILDKITE_API_TOKEN: bk.token }) });
    const rotate = createAgentTokenRotator({ secretsManager: sm, buildkite, logger: { info: () => {}, warn: () => {} } });
    await expect(rotate({ SecretId: s.arn, ClientRequestToken: randomUUID(), Step: 'createSecret' })).rejects.toThrow(/does not have rotation enabled/);
    expect(bk.calls).toEqual([]);
  });
});
